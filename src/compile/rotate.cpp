// Further views of a compiled model: the same computation in a randomly rotated residual basis. With no
// LayerNorm, x -> x Q (Q orthogonal) changes nothing the model computes: every matrix that reads the stream
// becomes Q^T W, every one that writes it W Q. What it does change is the giveaway of one-hot dimensions
// that a decompiler could otherwise read straight off the weights.
#include <cmath>
#include <string>

#include "compile/compile.h"
#include "core/rng.h"

namespace mm::compile {

namespace {

// A random orthogonal (d, d) matrix: Gram-Schmidt on Gaussian columns (Box-Muller), in double.
std::vector<double> random_orthogonal(int d, uint64_t seed) {
  Rng rng(seed);
  auto gaussian = [&] {
    const double u = std::max(rng.uniform01(), 1e-300), v = rng.uniform01();
    return std::sqrt(-2 * std::log(u)) * std::cos(2 * M_PI * v);
  };
  const size_t n = static_cast<size_t>(d);
  std::vector<double> q(n * n);  // row-major; columns are the basis
  for (size_t j = 0; j < n; ++j) {
    for (;;) {
      for (size_t i = 0; i < n; ++i) q[i * n + j] = gaussian();
      for (int pass = 0; pass < 2; ++pass)  // twice, for orthogonality in floating point
        for (size_t k = 0; k < j; ++k) {
          double dot = 0;
          for (size_t i = 0; i < n; ++i) dot += q[i * n + j] * q[i * n + k];
          for (size_t i = 0; i < n; ++i) q[i * n + j] -= dot * q[i * n + k];
        }
      double norm = 0;
      for (size_t i = 0; i < n; ++i) norm += q[i * n + j] * q[i * n + j];
      if (norm < 1e-12) continue;  // (never in practice) a column in the span of the others: redraw
      for (size_t i = 0; i < n; ++i) q[i * n + j] /= std::sqrt(norm);
      break;
    }
  }
  return q;
}

// t (rows, d) -> t Q: a tensor whose last axis is the residual (writes, embeddings, biases).
void times_q(Tensor& t, const std::vector<double>& q, size_t d) {
  const size_t rows = t.data.size() / d;
  std::vector<float> out(t.data.size());
  for (size_t r = 0; r < rows; ++r)
    for (size_t j = 0; j < d; ++j) {
      double s = 0;
      for (size_t i = 0; i < d; ++i) s += static_cast<double>(t.data[r * d + i]) * q[i * d + j];
      out[r * d + j] = static_cast<float>(s);
    }
  t.data = std::move(out);
}

// t (d, cols) -> Q^T t: a matrix that reads the residual.
void q_transpose_times(Tensor& t, const std::vector<double>& q, size_t d) {
  const size_t cols = t.data.size() / d;
  std::vector<float> out(t.data.size());
  for (size_t i = 0; i < d; ++i)
    for (size_t c = 0; c < cols; ++c) {
      double s = 0;
      for (size_t k = 0; k < d; ++k) s += q[k * d + i] * static_cast<double>(t.data[k * cols + c]);
      out[i * cols + c] = static_cast<float>(s);
    }
  t.data = std::move(out);
}

}  // namespace

SubjectModel rotate_residual(const SubjectModel& m, uint64_t seed) {
  if (!m.arch.compiled()) throw Error("rotate_residual: only a compiled model's stream has no LayerNorm to break");
  const size_t d = static_cast<size_t>(m.arch.d_model);
  const std::vector<double> q = random_orthogonal(m.arch.d_model, seed);
  SubjectModel r = m;
  for (auto& [name, t] : r.weights) {
    const bool reads = name.ends_with("attn.qkv.weight") || name.ends_with("mlp.fc.weight") || name == "head.weight";
    const bool writes = name.starts_with("embed.") || name.ends_with("attn.out.weight") ||
                        name.ends_with("attn.out.bias") || name.ends_with("mlp.proj.weight") || name.ends_with("mlp.proj.bias");
    if (reads) q_transpose_times(t, q, d);
    else if (writes) times_q(t, q, d);
  }
  r.info["residual_rotation"] = std::to_string(seed);
  return r;
}

}  // namespace mm::compile
