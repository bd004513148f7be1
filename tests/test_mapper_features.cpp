// The encoders' inputs (src/mapper/features.h): shapes for every preset size; the invariant encoding does
// not change when a subject's heads, hidden units or residual dimensions are permuted, nor its size with
// the subject's width; its direct-path token equals the plain forward pass's logits where the blocks add
// nothing; the layer graph's resizing pads and averages exactly.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "core/rng.h"
#include "mapper/features.h"
#include "subject/arch.h"

namespace mm {

namespace {

// A subject of the given architecture with random weights (gains near 1), on RASP's default domain.
SubjectModel random_subject(const SubjectArch& arch, uint64_t seed) {
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

SubjectArch arch_of(int d, int layers, int heads, int classes) {
  SubjectArch a;
  a.d_model = d, a.n_layers = layers, a.n_heads = heads, a.vocab = 6, a.max_len = 5, a.n_classes = classes;
  return a;
}

// Each row of `a` (rows of `width`) matches a distinct row of `b` within `tol`.
bool same_rows_as_set(const std::vector<float>& a, const std::vector<float>& b, size_t width, float tol) {
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

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

// Permutes the columns of a (rows, cols) tensor by `perm` (new column c = old column perm[c]).
void permute_columns(Tensor& t, const std::vector<int>& perm, int offset = 0) {
  const int64_t rows = t.shape.size() == 1 ? 1 : t.shape[0], cols = t.shape.back();
  const Tensor old = t;
  for (int64_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < perm.size(); ++c)
      t.data[static_cast<size_t>(r * cols + offset) + c] = old.data[static_cast<size_t>(r * cols + offset + perm[c])];
}
void permute_rows(Tensor& t, const std::vector<int>& perm) {
  const int64_t cols = t.shape[1];
  const Tensor old = t;
  for (size_t r = 0; r < perm.size(); ++r)
    std::copy_n(&old.data[static_cast<size_t>(perm[r]) * cols], cols, &t.data[r * cols]);
}

std::vector<int> shuffled(int n, uint64_t seed) {
  std::vector<int> p(static_cast<size_t>(n));
  std::iota(p.begin(), p.end(), 0);
  Rng rng(seed);
  for (int i = n - 1; i > 0; --i) std::swap(p[static_cast<size_t>(i)], p[rng.index(static_cast<size_t>(i) + 1)]);
  return p;
}

}  // namespace

TEST(MapperFeatures, ShapesForEveryPresetSize) {
  const FeatureSpec spec{6, 5, 32, 4096};
  Rng rng(1);
  std::vector<SubjectArch> archs;
  for (const char* preset : {"tiny", "small"}) archs.push_back(choose_arch(SizePolicy{preset}, InputDomain{}, 7, rng));
  for (int64_t top : {20'000, 300'000, 2'000'000}) archs.push_back(choose_arch(SizePolicy{"paper", top / 2, top}, InputDomain{}, 7, rng));
  for (const SubjectArch& a : archs) {
    const SubjectModel m = random_subject(a, 3);
    const LayerGraphInput g = layergraph_input(m, spec);
    EXPECT_EQ(g.nodes, a.n_layers + 2);
    EXPECT_EQ(g.x.size(), static_cast<size_t>(g.nodes) * spec.node_width);
    const InvariantInput in = invariant_input(m, spec);
    EXPECT_EQ(in.heads.size(), static_cast<size_t>(a.n_layers * a.n_heads * spec.head_features()));
    EXPECT_EQ(in.head_layer.size(), static_cast<size_t>(a.n_layers * a.n_heads));
    EXPECT_EQ(in.neurons.size(), static_cast<size_t>(a.n_layers) * a.d_mlp() * spec.neuron_features());
    EXPECT_EQ(in.direct.size(), static_cast<size_t>(spec.direct_features()));
    for (float x : in.heads) ASSERT_TRUE(std::isfinite(x));
  }
}

TEST(MapperFeatures, InvariantEncodingIgnoresHeadUnitAndResidualOrder) {
  const SubjectModel m = random_subject(arch_of(16, 2, 4, 5), 7);
  const FeatureSpec spec{6, 5, 8, 1024};
  const InvariantInput base = invariant_input(m, spec);
  SubjectModel p = m;
  const int d = 16, H = 4, dh = 4, f = 64;
  // Heads of layer 0 in another order: the q, k and v column blocks, and the output rows.
  const std::vector<int> heads = {2, 0, 3, 1};
  std::vector<int> cols, rows;
  for (int h : heads)
    for (int i = 0; i < dh; ++i) cols.push_back(h * dh + i);
  for (int part = 0; part < 3; ++part) {
    permute_columns(p.weights["blocks.0.attn.qkv.weight"], cols, part * d);
    permute_columns(p.weights["blocks.0.attn.qkv.bias"], cols, part * d);
  }
  permute_rows(p.weights["blocks.0.attn.out.weight"], cols);
  // Hidden units of layer 1.
  const std::vector<int> units = shuffled(f, 9);
  permute_columns(p.weights["blocks.1.mlp.fc.weight"], units);
  permute_columns(p.weights["blocks.1.mlp.fc.bias"], units);
  permute_rows(p.weights["blocks.1.mlp.proj.weight"], units);
  // Residual dimensions, everywhere.
  const std::vector<int> res = shuffled(d, 11);
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
  ASSERT_EQ(H * dh, d);
  const InvariantInput q = invariant_input(p, spec);
  ASSERT_NE(q.heads, base.heads) << "the permutation did change the raw weights' order";
  EXPECT_TRUE(same_rows_as_set(q.heads, base.heads, static_cast<size_t>(spec.head_features()), 1e-4f));
  EXPECT_TRUE(same_rows_as_set(q.neurons, base.neurons, static_cast<size_t>(spec.neuron_features()), 1e-4f));
  EXPECT_LT(max_abs_diff(q.direct, base.direct), 1e-4f);
  // A control: a real change of weights changes the encoding.
  SubjectModel r = m;
  r.weights["blocks.0.attn.qkv.weight"].data[3] += 1.0f;
  EXPECT_FALSE(same_rows_as_set(invariant_input(r, spec).heads, base.heads, static_cast<size_t>(spec.head_features()), 1e-4f));
}

TEST(MapperFeatures, InvariantEncodingSizeDoesNotDependOnWidth) {
  const FeatureSpec spec{6, 5, 8, 1024};
  const InvariantInput narrow = invariant_input(random_subject(arch_of(16, 1, 2, 5), 1), spec);
  const InvariantInput wide = invariant_input(random_subject(arch_of(64, 1, 2, 5), 1), spec);
  EXPECT_EQ(narrow.heads.size(), wide.heads.size());
  EXPECT_EQ(narrow.direct.size(), wide.direct.size());
  EXPECT_EQ(narrow.neurons.size() / 64, wide.neurons.size() / 256) << "one feature row per hidden unit";
}

// Where the blocks add nothing (zero output projections), the model's logits are the direct path's.
TEST(MapperFeatures, DirectPathEqualsTheForwardPassWhenBlocksAreSilent) {
  SubjectModel m = random_subject(arch_of(16, 2, 2, 5), 5);
  for (auto& [name, t] : m.weights)
    if (name.find("attn.out.") != std::string::npos || name.find("mlp.proj.") != std::string::npos)
      std::fill(t.data.begin(), t.data.end(), 0.f);
  const FeatureSpec spec{6, 5, 8, 1024};
  const InvariantInput in = invariant_input(m, spec);
  const Input x = {3, 0, 4, 4};
  const std::vector<float> logits = subject_logits(m, x);  // (positions, classes)
  for (size_t p = 0; p < x.size(); ++p)
    for (int k = 0; k < 5; ++k) {
      const int id = static_cast<int>(x[p]) + 1;  // PAD = 0
      EXPECT_NEAR(in.direct[static_cast<size_t>((id * spec.max_len + static_cast<int>(p)) * spec.classes + k)],
                  logits[p * 5 + static_cast<size_t>(k)], 1e-4);
    }
}

TEST(MapperFeatures, LayerGraphNodesPadOrAverageAndSubjectsThatDoNotFitAreRefused) {
  EXPECT_EQ(resize_to_width({1, 2, 3}, 5), (std::vector<float>{1, 2, 3, 0, 0}));
  EXPECT_EQ(resize_to_width({1, 3, 5, 7, 2, 4}, 3), (std::vector<float>{2, 6, 3}));
  const SubjectModel m = random_subject(arch_of(16, 2, 2, 5), 5);
  size_t total = 0;
  for (int node = 0; node < 4; ++node) total += layergraph_node(m, node).size();
  EXPECT_EQ(static_cast<int64_t>(total), parameter_count(m.arch)) << "every parameter in exactly one node";
  EXPECT_THROW(layergraph_input(m, FeatureSpec{6, 5, 4, 64}), Error);  // 5 classes > 4
  EXPECT_THROW(invariant_input(m, FeatureSpec{6, 4, 8, 64}), Error);   // 5 positions > 4
}

}  // namespace mm
