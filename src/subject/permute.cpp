// Permuting a trained subject's heads, hidden units and residual dimensions (see permute.h).
#include "subject/permute.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"
#include "core/rng.h"

namespace mm {

namespace {

std::vector<int> shuffled(int n, Rng& rng) {
  std::vector<int> p(static_cast<size_t>(n));
  std::iota(p.begin(), p.end(), 0);
  for (int i = n - 1; i > 0; --i) std::swap(p[static_cast<size_t>(i)], p[rng.index(static_cast<size_t>(i) + 1)]);
  return p;
}

// New column c (within [offset, offset + perm.size())) = old column offset + perm[c], in every row.
void permute_columns(Tensor& t, const std::vector<int>& perm, int64_t offset = 0) {
  const int64_t rows = t.shape.size() == 1 ? 1 : t.shape[0], cols = t.shape.back();
  const std::vector<float> old = t.data;
  for (int64_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < perm.size(); ++c)
      t.data[static_cast<size_t>(r * cols + offset) + c] = old[static_cast<size_t>(r * cols + offset + perm[c])];
}

// New row r = old row perm[r].
void permute_rows(Tensor& t, const std::vector<int>& perm) {
  const int64_t cols = t.shape[1];
  const std::vector<float> old = t.data;
  for (size_t r = 0; r < perm.size(); ++r)
    std::copy_n(&old[static_cast<size_t>(perm[r]) * cols], cols, &t.data[r * static_cast<size_t>(cols)]);
}

Tensor& at(SubjectModel& m, const std::string& name) {
  const auto it = m.weights.find(name);
  if (it == m.weights.end()) throw Error("the subject has no parameter '" + name + "'");
  return it->second;
}

}  // namespace

SubjectModel permute_subject(const SubjectModel& m, uint64_t seed) {
  if (m.arch.compiled()) throw Error("permute_subject permutes trained subjects only (a compiled one's residual is labelled)");
  SubjectModel p = m;
  Rng rng(seed);
  const int d = m.arch.d_model, dh = m.arch.d_head(), H = m.arch.n_heads, f = m.arch.d_mlp();
  for (int l = 0; l < m.arch.n_layers; ++l) {
    const std::string b = "blocks." + std::to_string(l) + ".";
    // Heads: the q, k and v columns of a head move together, and the head's rows of the output projection.
    std::vector<int> cols;
    for (int h : shuffled(H, rng))
      for (int i = 0; i < dh; ++i) cols.push_back(h * dh + i);
    for (int part = 0; part < 3; ++part) {
      permute_columns(at(p, b + "attn.qkv.weight"), cols, part * H * dh);
      permute_columns(at(p, b + "attn.qkv.bias"), cols, part * H * dh);
    }
    permute_rows(at(p, b + "attn.out.weight"), cols);
    // Hidden units: a unit's input column, bias and output row move together.
    const std::vector<int> units = shuffled(f, rng);
    permute_columns(at(p, b + "mlp.fc.weight"), units);
    permute_columns(at(p, b + "mlp.fc.bias"), units);
    permute_rows(at(p, b + "mlp.proj.weight"), units);
  }
  // The residual stream: what reads it (rows of (d, ...)), what writes it and what lies along it (columns).
  const std::vector<int> res = shuffled(d, rng);
  permute_columns(at(p, "embed.tokens"), res);
  permute_columns(at(p, "embed.positions"), res);
  for (int l = 0; l < m.arch.n_layers; ++l) {
    const std::string b = "blocks." + std::to_string(l) + ".";
    for (const char* name : {"ln1.weight", "ln1.bias", "ln2.weight", "ln2.bias", "attn.out.bias", "mlp.proj.bias",
                             "attn.out.weight", "mlp.proj.weight"})
      permute_columns(at(p, b + name), res);
    permute_rows(at(p, b + "attn.qkv.weight"), res);
    permute_rows(at(p, b + "mlp.fc.weight"), res);
  }
  permute_columns(at(p, "ln_f.weight"), res);
  permute_columns(at(p, "ln_f.bias"), res);
  permute_rows(at(p, "head.weight"), res);
  return p;
}

}  // namespace mm
