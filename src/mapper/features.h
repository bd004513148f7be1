// What a mapper's encoder reads of a subject model, computed in plain C++ (no torch): two encodings of
// the same weights, one per encoder.
//
// layergraph (the paper's, section 3.3): the n-layer subject becomes a path graph; node i's feature is
//   the concatenation of layer i's parameters. The paper is silent on how a vector whose length varies
//   with the subject's width becomes a fixed-size input, and on where the embeddings and the head go; we
//   add a node before the blocks (token and position embeddings) and one after (final LayerNorm and
//   head), and bring every node's vector to `node_width` values: zero-padded when shorter, averaged over
//   contiguous equal windows when longer (so memory stays bounded for a 10M-parameter subject).
// invariant (ours): tokens whose size depends only on the input vocabulary, the length and the class
//   count, never on the subject's width, and that do not change when its heads, hidden units or
//   residual dimensions are permuted. R holds the residual stream of every (token, position) pair at
//   embedding time, read through a layer's LayerNorm; then each head gives one token — its QK circuit
//   (R Wq)(R Wk)^T/sqrt(dh) and its OV circuit R Wv Wo Wu — and each MLP neuron a read vector R w_in and a
//   write vector w_out Wu (pooled as a set by the encoder), and the direct path R Wu gives one more. Wu is
//   the head's weight scaled by the final LayerNorm's gain. This "direct path" reading ignores what
//   earlier layers add to the residual stream; the layer embedding tells the encoder where it is.
//
// Two more read the subject through its own computation on a fixed probe set (probe_inputs) instead of
// its weights, so they are invariant to any reparametrisation that keeps the function — head and hidden-
// unit permutations, rotations of the residual basis — by construction:
// behaviour (ours, the I/O baseline): the output table alone — each probe input with the class the model
//   predicts at each position.
// probe (ours): the output table, and what happens inside. Each attention head gives one token: its
//   attention from query (token, position) to key (token, position), averaged over the probe inputs where
//   that pair of pairs occurs, and its standard deviation there. Each MLP hidden unit gives a vector (pooled
//   as a set by the encoder, as the invariant encoder's neurons are): its mean and standard deviation of
//   activation at a position holding a given (token, position), and its mean activation where the model
//   outputs each class.
#pragma once

#include <string>
#include <vector>

#include "core/domain.h"
#include "core/language.h"
#include "core/value.h"
#include "subject/model.h"

namespace mm {

// Sizes a mapper fixes once (from its training corpus) so that every subject maps to the same shapes.
struct FeatureSpec {
  int vocab = 6;          // input ids including PAD (the largest over the corpus)
  int max_len = 5;        // positions
  int classes = 32;       // output classes
  int node_width = 4096;  // layergraph: values per node

  int pairs() const { return vocab * max_len; }                   // rows of R
  int head_features() const { return pairs() * pairs() + pairs() * classes; }  // QK, OV
  int neuron_features() const { return pairs() + 1 + classes; }   // read, bias, write
  int direct_features() const { return pairs() * classes; }
  int probe_head_features() const { return 2 * pairs() * pairs(); }          // mean, spread
  int probe_neuron_features() const { return 2 * pairs() + classes; }        // mean, spread by pair; mean by class
  std::string to_json() const;
  static FeatureSpec from_json(const std::string& text);  // throws mm::Error
  // Throws mm::Error naming what does not fit (a larger vocabulary, length or class count).
  void check_fits(const SubjectModel& m) const;
};

// The smallest spec that fits every model (node_width: the largest node, capped at `node_width_cap`).
FeatureSpec feature_spec_for(const std::vector<const SubjectModel*>& models, int node_width_cap = 16384);

int value_id(const Value& v);  // below, with kValueIds

struct LayerGraphInput {
  int nodes = 0;          // n_layers + 2
  std::vector<float> x;   // (nodes, node_width)
};
LayerGraphInput layergraph_input(const SubjectModel& m, const FeatureSpec& spec);
// A node's raw parameter vector (before resizing), in file order: 0 = embeddings, 1..L = blocks, L+1 =
// final LayerNorm and head.
std::vector<float> layergraph_node(const SubjectModel& m, int node);
// `v` brought to `width` values: zero-padded, or averaged over `width` contiguous near-equal windows.
std::vector<float> resize_to_width(const std::vector<float>& v, int width);

struct InvariantInput {
  int n_layers = 0;
  std::vector<float> heads;         // (n_heads_total, head_features): QK then OV, each zero-padded
  std::vector<int> head_layer;      // (n_heads_total)
  std::vector<float> neurons;       // (n_neurons_total, neuron_features)
  std::vector<int> neuron_layer;    // (n_neurons_total)
  std::vector<float> direct;        // (direct_features)
  std::vector<int16_t> class_values;  // (classes): value_id of what class k means (0 past the subject's
                                      // classes); what the class columns above stand for
};
InvariantInput invariant_input(const SubjectModel& m, const FeatureSpec& spec);

// The probe set: the domain's evaluation set of at most 512 inputs (seed 11), stratified by length.
constexpr uint64_t kProbeInputs = 512;
constexpr uint64_t kProbeSeed = 11;
std::vector<Input> probe_inputs(const InputDomain& domain);

// A subject's class k means the value classes[k], and which values a program outputs differs from program to
// program: the behaviour encoders read output values, not class indices, each as one of kValueIds ids —
// 0 past the input's end, 1 None, 2..130 the integers -64..64 (an integral float counts as its integer, as
// in Python), 131..259 other floats by round(4 v) clamped to -64..64, 260 an integer below -64, 261 above 64.
constexpr int kValueIds = 262;
int value_id(const Value& v);

struct BehaviourInput {
  int n = 0;                  // probe inputs
  std::vector<int16_t> io;    // (n, 2 max_len): input token ids (0 = PAD past the end), then the value id
                              // of the predicted output at each position (0 past the end)
};
// The probe encoder's internals use InvariantInput's head and neuron fields (direct stays empty), sized by
// probe_head_features and probe_neuron_features. `internals` false: the behaviour alone.
struct FunctionalInput {
  BehaviourInput behaviour;
  InvariantInput internals;
};
FunctionalInput functional_input(const SubjectModel& m, const FeatureSpec& spec, bool internals);

// The behaviour a perfect subject of `program` would show: the program's own outputs on the probe set of
// `domain`, in BehaviourInput's layout (an input it raises on shows None). What `mapper train --synthetic`
// trains the behaviour encoder on beside real subjects. Throws mm::Error when the domain does not fit the
// spec.
BehaviourInput program_behaviour(const Program& program, const InputDomain& domain, const FeatureSpec& spec);

}  // namespace mm
