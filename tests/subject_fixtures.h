// Subjects for the mapper's tests: random weights of a given architecture, and the same subject with its
// heads, hidden units and residual dimensions permuted (it computes exactly the same function).
#pragma once

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "core/rng.h"
#include "subject/arch.h"
#include "subject/model.h"

namespace mm::test {

// A subject of the given architecture with random weights (gains near 1), on RASP's default domain.
inline SubjectModel random_subject(const SubjectArch& arch, uint64_t seed) {
  SubjectModel m;
  m.arch = arch;
  m.domain = InputDomain{};
  for (int k = 0; k < arch.n_classes; ++k) m.classes.push_back(Value::of_int(k));
  m.language = "rasp";
  Rng rng(seed);
  for (const ParamSpec& p : param_specs(arch)) {
    Tensor t;
    t.shape = p.shape;
    t.data.resize(static_cast<size_t>(t.numel()));
    const bool gain = p.init == ParamSpec::Init::Ones;
    for (float& x : t.data) x = static_cast<float>((gain ? 1.0 : 0.0) + (rng.uniform01() - 0.5) * 0.4);
    m.weights[p.name] = std::move(t);
  }
  return m;
}

inline SubjectArch arch_of(int d, int layers, int heads, int classes) {
  SubjectArch a;
  a.d_model = d, a.n_layers = layers, a.n_heads = heads, a.vocab = 6, a.max_len = 5, a.n_classes = classes;
  return a;
}

// Each row of `a` (rows of `width`) matches a distinct row of `b` within `tol`.
inline bool same_rows_as_set(const std::vector<float>& a, const std::vector<float>& b, size_t width, float tol) {
  if (a.size() != b.size()) return false;
  const size_t n = a.size() / width;
  std::vector<bool> used(n, false);
  for (size_t i = 0; i < n; ++i) {
    bool found = false;
    for (size_t j = 0; j < n && !found; ++j) {
      if (used[j]) continue;
      bool close = true;
      for (size_t k = 0; k < width && close; ++k) close = std::fabs(a[i * width + k] - b[j * width + k]) <= tol;
      if (close) used[j] = found = true;
    }
    if (!found) return false;
  }
  return true;
}

inline float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

// Permutes the columns of a (rows, cols) tensor by `perm` (new column c = old column perm[c]).
inline void permute_columns(Tensor& t, const std::vector<int>& perm, int offset = 0) {
  const int64_t rows = t.shape.size() == 1 ? 1 : t.shape[0], cols = t.shape.back();
  const Tensor old = t;
  for (int64_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < perm.size(); ++c)
      t.data[static_cast<size_t>(r * cols + offset) + c] = old.data[static_cast<size_t>(r * cols + offset + perm[c])];
}
inline void permute_rows(Tensor& t, const std::vector<int>& perm) {
  const int64_t cols = t.shape[1];
  const Tensor old = t;
  for (size_t r = 0; r < perm.size(); ++r)
    std::copy_n(&old.data[static_cast<size_t>(perm[r]) * cols], cols, &t.data[r * cols]);
}

inline std::vector<int> shuffled(int n, uint64_t seed) {
  std::vector<int> p(static_cast<size_t>(n));
  std::iota(p.begin(), p.end(), 0);
  Rng rng(seed);
  for (int i = n - 1; i > 0; --i) std::swap(p[static_cast<size_t>(i)], p[rng.index(static_cast<size_t>(i) + 1)]);
  return p;
}

// `m` with the heads of layer `head_layer` in a shuffled order, the hidden units of layer `unit_layer`
// shuffled, and the residual dimensions shuffled everywhere: the same function, other weights.
inline SubjectModel permuted_subject(const SubjectModel& m, int head_layer, int unit_layer, uint64_t seed) {
  SubjectModel p = m;
  const int d = m.arch.d_model, dh = m.arch.d_head(), f = m.arch.d_mlp();
  const std::vector<int> heads = shuffled(m.arch.n_heads, seed);
  std::vector<int> cols;
  for (int h : heads)
    for (int i = 0; i < dh; ++i) cols.push_back(h * dh + i);
  const std::string hp = "blocks." + std::to_string(head_layer) + ".";
  for (int part = 0; part < 3; ++part) {
    permute_columns(p.weights[hp + "attn.qkv.weight"], cols, part * d);
    permute_columns(p.weights[hp + "attn.qkv.bias"], cols, part * d);
  }
  permute_rows(p.weights[hp + "attn.out.weight"], cols);
  const std::vector<int> units = shuffled(f, seed + 1);
  const std::string up = "blocks." + std::to_string(unit_layer) + ".";
  permute_columns(p.weights[up + "mlp.fc.weight"], units);
  permute_columns(p.weights[up + "mlp.fc.bias"], units);
  permute_rows(p.weights[up + "mlp.proj.weight"], units);
  const std::vector<int> res = shuffled(d, seed + 2);
  auto ends_with = [](const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
  };
  for (auto& [name, t] : p.weights) {
    if (ends_with(name, "qkv.weight") || ends_with(name, "fc.weight") || name == "head.weight")
      permute_rows(t, res);  // (d, ...): reads the residual stream
    else if (name.rfind("embed.", 0) == 0 || ends_with(name, "out.weight") || ends_with(name, "proj.weight") ||
             (t.shape.size() == 1 && t.shape[0] == d))
      permute_columns(t, res);  // (..., d): writes it, or LayerNorm gains and biases along it
  }
  return p;
}

}  // namespace mm::test
