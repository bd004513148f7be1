// The subject transformer's architecture. Two block kinds share one file format and one parameter naming:
//   "trained"  token + learned position embeddings, L pre-LayerNorm blocks of unmasked multi-head
//              self-attention (padding masked out) and a 4x-wide GELU MLP, a final LayerNorm, and a
//              per-position linear head over the program's output classes;
//   "compiled" what src/compile writes: the same embeddings plus a beginning-of-sequence vector
//              (embed.bos) every input is prefixed with, no LayerNorm, unscaled attention (the softmax
//              sharpness is in W_Q), ReLU MLPs, and head and MLP widths of their own.
// This header only describes shapes and sizes (no torch): the trainer, the reference forward pass and the
// file format all read it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/domain.h"

namespace mm {

class Rng;

struct SubjectArch {
  int d_model = 16;   // residual width
  int n_layers = 1;   // blocks
  int n_heads = 2;    // attention heads; d_model % n_heads == 0
  int vocab = 6;      // input ids: 0 = PAD, 1 + (value - value_min) for each input value
  int max_len = 5;    // positions
  int n_classes = 2;  // output classes
  std::string block = "trained";  // block kind: "trained" (pre-LN, GELU) or "compiled" (see above)
  int head_width = 0;  // compiled only: width of one head (trained: d_model / n_heads)
  int mlp_width = 0;   // compiled only: MLP hidden width (trained: 4 * d_model)

  bool compiled() const { return block == "compiled"; }
  int d_mlp() const { return mlp_width > 0 ? mlp_width : 4 * d_model; }
  int d_head() const { return head_width > 0 ? head_width : d_model / n_heads; }
  int d_attn() const { return n_heads * d_head(); }  // width of all heads together
  bool same_shape_except_classes(const SubjectArch& o) const;
  std::string to_json() const;
  static SubjectArch from_json(const std::string& text, const std::string& what);  // throws mm::Error
  void validate() const;                                                           // throws mm::Error
};

// One parameter: name (as stored in files) and shape. Linear weights are (in, out): y = x W + b.
struct ParamSpec {
  std::string name;
  std::vector<int64_t> shape;
  enum class Init { Normal, NormalResidual, Zeros, Ones } init;
};
std::vector<ParamSpec> param_specs(const SubjectArch& arch);
int64_t parameter_count(const SubjectArch& arch);

// The architecture for one program's input domain and class count, from a size preset:
//   tiny  d 16, 3 layers, 2 heads (~10K parameters): tests and the demo
//   small d 32, 2 layers, 4 heads (~26K)
//   paper a size drawn per program from the paper's range (d 16..512, 1..6 layers, 1..8 heads), its
//         parameter count log-uniform within [min_params, max_params] (default 10K..10M)
struct SizePolicy {
  std::string preset = "small";
  int64_t min_params = 10'000;      // paper preset only
  int64_t max_params = 10'000'000;  // paper preset only
};
SubjectArch choose_arch(const SizePolicy& policy, const InputDomain& domain, int n_classes, Rng& rng);
std::vector<std::string> preset_names();

// The learning rate we train an architecture with: 1e-3 up to d_model 64, then falling as 1/sqrt(d).
double default_learning_rate(const SubjectArch& arch);

}  // namespace mm
