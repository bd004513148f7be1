// The mapper's configuration and what its encoder reads of one subject — no torch, so that data loading,
// the command line and the checkpoint's metadata do not need it.
#pragma once

#include <string>

#include "mapper/features.h"

namespace mm {

constexpr int kMaxLayerEmbeddings = 16;  // subject layers the invariant encoder can tell apart

struct MapperConfig {
  std::string language = "rasp";
  std::string encoder = "invariant";  // "layergraph", "invariant" (weights), "behaviour" or "probe" (the
                                      // subject run on a probe set; features.h)
  int d_model = 128;                  // encoder output and decoder width
  int n_layers = 3;                   // decoder layers (paper: 3)
  int n_heads = 8;                    // decoder attention heads (paper: 8)
  int d_ff = 32;                      // decoder feed-forward width (paper: 32)
  int rel_buckets = 32;               // T5 relative position buckets
  int rel_max_distance = 128;         // T5: distances beyond share the last bucket
  int max_tokens = 512;               // the longest token sequence decoded (program tokens + <eos>)
  std::string target = "reduced";     // what it learns to write: the program's "reduced" form (corpus.h)
                                      // or the form it was "sampled" in (checkpoints before the reduced
                                      // form existed say nothing, and were trained on "sampled")
  std::string order = "canonical";    // the token order it writes the target in: "canonical" or, for RASP,
                                      // "output-first" (Language::in_order); decoded programs are turned
                                      // back into canonical tokens, so scores compare like with like
  std::string split = "program";      // how views fall into train and test: by "program" (all views of a
                                      // program on one side, its hash decides; ours) or by "view" (each
                                      // view's own hash decides, so a program's views fall on both sides:
                                      // the paper's 80/20 split of (model, program) pairs, as we read it)
  int64_t train_programs = 0;         // trained on the first this many train programs (0 = all)
  int views_per_model = 0;            // reads at most this many views of each model, lowest ordinals
                                      // first, in training and evaluation (0 = all)
  bool augment = false;               // trained with the subjects' heads, hidden units and residual
                                      // dimensions permuted afresh every epoch (layergraph; subject/permute.h)
  bool class_values = true;           // invariant: one more token saying what value each output class
                                      // stands for (checkpoints from before it say nothing: false)
  bool no_weights = false;            // the floor: the encoder's input is zeroed (what the program prior gives)
  int example_layers = 0;             // behaviour, probe: self-attention layers over each probe input's
                                      // tokens (its input tokens and output values, by position) before it
                                      // is pooled into one memory token; 0: the tokens' embeddings summed
  bool io_pairs = false;              // behaviour, probe: each probe input's token also sums an embedding of
                                      // every (position, input token, output value) triple and of every
                                      // (input token, output value) pair (checkpoints before it: false)
  int probe_sample = 0;               // behaviour, probe: probe inputs read per subject (0 = all); training
                                      // draws them afresh at every step, evaluation takes evenly spaced ones
  std::string synthetic;              // behaviour: the file of subject-less programs also trained on (its
                                      // name; "" none; mapper train --synthetic, data.h load_synthetic)
  int64_t synthetic_programs = 0;     // how many of them were trained on (after the test split's were left out)
  bool synthetic_noise = false;       // each synthetic table, at every step, given the errors of a train subject
                                      // drawn at random (its wrong cells on the probe set; mapper/data.h
                                      // with_errors), so that imperfect subjects are what training shows too
  int statement_classes = 0;          // > 0: a statement head (`mapper statements`) predicts the target's
                                      // number of statements, 0..statement_classes-1, from the decoder's first
                                      // state and the pooled memory; decoding may be held to it (decode.h)
  FeatureSpec features;               // encoder input sizes, fixed from the training corpus

  std::string to_json() const;
  static MapperConfig from_json(const std::string& text);  // throws mm::Error
  void validate() const;                                   // throws mm::Error
};

// What the encoder reads of one subject (computed once per view, CPU). Throws mm::Error when the subject
// does not fit the mapper's feature spec.
struct EncoderInput {
  LayerGraphInput graph;       // layergraph
  InvariantInput circuits;     // invariant
  FunctionalInput functional;  // behaviour (its .behaviour only) and probe
};
EncoderInput encoder_input(const SubjectModel& m, const MapperConfig& config);

class Language;
// The language the mapper's decoder writes: config.language spelled in config.order.
const Language& written_language(const MapperConfig& config);

}  // namespace mm
