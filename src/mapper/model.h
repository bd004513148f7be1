// The mapper network (torch): an encoder that turns a subject's weights into a few vectors, and the
// paper's T5-style decoder (3 layers, feed-forward width 32, 8 heads; relative position bias, RMSNorm,
// no biases) that cross-attends to them and writes the program's tokens.
//
// Two encoders behind one interface, both ending in (batch, memory, d_model) plus a mask:
//   layergraph — the paper's: fully connected, graph convolution, fully connected, graph convolution
//                over the path graph of the subject's layers (Kipf & Welling normalisation, self-loops).
//   invariant  — ours: one vector per attention head (its circuits), two per MLP layer (its neurons
//                encoded one by one, then mean- and max-pooled as a set), one for the direct path; each
//                with a layer and a type embedding and no positional order, so the decoder's
//                cross-attention sees them as a set.
//   behaviour  — ours: one vector per probe input (its tokens and the model's predicted output values,
//                embedded by position and summed — or, with example_layers, passed through that many
//                self-attention layers and averaged — then an MLP; with io_pairs, each position's (input,
//                output) pair embedded too, by position and not), a set like the above.
//   probe      — ours: the invariant encoder's head and neuron tokens built from the probe features
//                (features.h), and the behaviour encoder's tokens.
// Only mapper translation units include this header.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "mapper/config.h"

namespace mm {

// A batch of encoder inputs as tensors on `device` (padded; masks true where real).
struct EncoderBatch {
  torch::Tensor nodes, node_mask, adjacency;              // (B, N, node_width), (B, N), (B, N, N) normalised
  torch::Tensor heads, head_layer, head_mask;             // (B, Hn, head_features), (B, Hn), (B, Hn)
  torch::Tensor neurons, neuron_layer, neuron_mask;       // (B, Nn, neuron_features), (B, Nn), (B, Nn)
  torch::Tensor direct;                                   // (B, direct_features)
  torch::Tensor class_values;                             // (B, classes) int64: value ids (invariant)
  torch::Tensor io, io_mask;                              // (B, n, 2 max_len) int64, (B, n): probe inputs
  int max_layers = 0;
};
// With config.probe_sample K > 0, each subject's probe inputs are cut to K: drawn at random by
// `sample_seeds` (one seed per input; training), or evenly spaced through the probe set when it is null.
EncoderBatch collate(const std::vector<const EncoderInput*>& inputs, const MapperConfig& config, torch::Device device,
                     const std::vector<uint64_t>* sample_seeds = nullptr);

struct Memory {
  torch::Tensor x;     // (B, S, d_model)
  torch::Tensor mask;  // (B, S) bool
};

// The decoder's keys and values so far, for decoding one token at a time: step() attends over the cached
// prefix instead of re-running it. The memory's keys and values are computed once, in start().
struct DecoderState {
  std::vector<torch::Tensor> self_k, self_v;    // per layer (B, H, length, dk)
  std::vector<torch::Tensor> cross_k, cross_v;  // per layer (Bm, H, S, dk); Bm = 1 or B
  torch::Tensor memory_allowed;                 // (Bm, 1, 1, S)
  int64_t length = 0;
  // Keeps the cached rows `rows` (int64, may repeat), in that order: beam search's survivors.
  void reorder(const torch::Tensor& rows);
};

class MapperImpl : public torch::nn::Module {
 public:
  explicit MapperImpl(const MapperConfig& config);
  Memory encode(const EncoderBatch& batch);
  // Teacher-forced logits: tokens (B, T) int64 beginning with <bos> -> (B, T, vocab).
  torch::Tensor decode(const torch::Tensor& tokens, const Memory& memory);
  // Incremental decoding, equal to decode() position by position: start() with a memory of batch 1 (shared
  // by all rows) or B, then step() with each position's token ids (B) -> next-token logits (B, vocab).
  DecoderState start(const Memory& memory);
  torch::Tensor step(const torch::Tensor& tokens, DecoderState& state);
  // The statement head (config.statement_classes > 0; `mapper statements` trains it on a trained mapper,
  // the rest frozen). What it reads of a memory: the decoder's state after <bos> (what the first token is
  // chosen from) beside the memory's masked mean, (B, 2 d_model); its logits over counts (B, classes);
  // and the count it predicts per row, the most likely of 1..classes-1.
  torch::Tensor statement_features(const Memory& memory);
  torch::Tensor statement_logits(const torch::Tensor& features);
  std::vector<int> predicted_statements(const Memory& memory);
  const MapperConfig& config() const { return config_; }

 private:
  Memory encode_layergraph(const EncoderBatch& b);
  Memory encode_invariant(const EncoderBatch& b);
  Memory encode_functional(const EncoderBatch& b);
  // Head tokens and each layer's pooled neuron tokens (invariant and probe), appended to tokens/masks.
  void circuit_tokens(const EncoderBatch& b, std::vector<torch::Tensor>& tokens, std::vector<torch::Tensor>& masks);
  // T5's relative position bias of queries first_query..t-1 over keys 0..t-1: (1, heads, t - first_query, t).
  torch::Tensor relative_bias(int64_t first_query, int64_t t, torch::Device device);

  MapperConfig config_;
  int vocab_;
  // layergraph
  torch::nn::Linear fc1_{nullptr}, gcn1_{nullptr}, fc2_{nullptr}, gcn2_{nullptr};
  torch::nn::LayerNorm node_norm_{nullptr};
  // invariant
  torch::nn::LayerNorm head_norm_{nullptr}, neuron_norm_{nullptr}, direct_norm_{nullptr};
  torch::nn::Linear head_in_{nullptr}, neuron_in_{nullptr}, neuron_out_{nullptr}, direct_in_{nullptr};
  torch::nn::Embedding class_embed_{nullptr};  // invariant with class_values
  torch::nn::Embedding layer_embed_{nullptr}, type_embed_{nullptr};
  // behaviour and probe: the probe inputs' tokens
  torch::nn::Embedding io_in_{nullptr}, io_out_{nullptr};
  torch::nn::Embedding io_pair_pos_{nullptr}, io_pair_{nullptr};  // io_pairs: (position, input, output), (input, output)
  torch::nn::Linear io_mlp1_{nullptr}, io_mlp2_{nullptr};
  struct ExampleLayer {  // example_layers > 0: pre-norm self-attention and feed-forward over one probe input's tokens
    torch::nn::Linear q{nullptr}, k{nullptr}, v{nullptr}, o{nullptr}, ff_in{nullptr}, ff_out{nullptr};
    torch::Tensor norm_attn, norm_ff;
  };
  std::vector<ExampleLayer> example_layers_;
  // decoder
  torch::nn::Embedding tok_embed_{nullptr}, rel_bias_{nullptr};
  struct Layer {  // one decoder layer
    torch::nn::Linear self_q{nullptr}, self_k{nullptr}, self_v{nullptr}, self_o{nullptr};
    torch::nn::Linear cross_q{nullptr}, cross_k{nullptr}, cross_v{nullptr}, cross_o{nullptr};
    torch::nn::Linear ff_in{nullptr}, ff_out{nullptr};
    torch::Tensor norm_self, norm_cross, norm_ff;  // RMSNorm gains, (d_model)
  };
  std::vector<Layer> layers_;
  torch::Tensor norm_memory_, norm_final_;
  torch::nn::Linear lm_head_{nullptr};
  torch::nn::Linear statement_in_{nullptr}, statement_out_{nullptr};  // statement_classes > 0
  // The decoder's final states (normalised, before the vocabulary projection): (B, T, d).
  torch::Tensor decoder_states(const torch::Tensor& tokens, const Memory& memory);
};
TORCH_MODULE(Mapper);

// The counts a statement head's logits (B, classes) predict: per row the most likely of 1..classes-1 (a
// program has at least one statement), (B) int64.
torch::Tensor predicted_counts(const torch::Tensor& statement_logits);

int64_t mapper_parameter_count(Mapper& m);

}  // namespace mm
