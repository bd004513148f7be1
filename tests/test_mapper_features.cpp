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
#include "subject/permute.h"
#include "subject_fixtures.h"

namespace mm {

using test::arch_of;
using test::max_abs_diff;
using test::permuted_subject;
using test::random_subject;
using test::same_rows_as_set;

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
  const SubjectModel p = permuted_subject(m, 0, 1, 9);
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

TEST(MapperFeatures, ProbeEncodingIgnoresHeadUnitAndResidualOrder) {
  const SubjectModel m = random_subject(arch_of(16, 2, 4, 5), 7);
  const FeatureSpec spec{6, 5, 8, 1024};
  const FunctionalInput base = functional_input(m, spec, true);
  ASSERT_EQ(base.internals.heads.size(), static_cast<size_t>(2 * 4) * spec.probe_head_features());
  ASSERT_EQ(base.internals.neurons.size(), static_cast<size_t>(2) * m.arch.d_mlp() * spec.probe_neuron_features());
  ASSERT_EQ(base.behaviour.io.size(), static_cast<size_t>(base.behaviour.n) * 2 * spec.max_len);
  for (float x : base.internals.heads) ASSERT_TRUE(std::isfinite(x));
  for (float x : base.internals.neurons) ASSERT_TRUE(std::isfinite(x));
  // Attention means over a query's keys sum to 1 wherever every key pair of a query pair was seen together:
  // a coarse check that the table holds attention probabilities (entries lie in [0, 1]).
  for (size_t k = 0; k < static_cast<size_t>(spec.pairs() * spec.pairs()); ++k) {
    ASSERT_GE(base.internals.heads[k], 0.f);
    ASSERT_LE(base.internals.heads[k], 1.f + 1e-5f);
  }
  const SubjectModel p = permuted_subject(m, 1, 0, 9);
  const FunctionalInput q = functional_input(p, spec, true);
  ASSERT_NE(q.internals.heads, base.internals.heads) << "the permutation did change the heads' order";
  EXPECT_EQ(q.behaviour.io, base.behaviour.io);
  EXPECT_TRUE(same_rows_as_set(q.internals.heads, base.internals.heads, static_cast<size_t>(spec.probe_head_features()), 1e-4f));
  EXPECT_TRUE(same_rows_as_set(q.internals.neurons, base.internals.neurons, static_cast<size_t>(spec.probe_neuron_features()), 1e-4f));
  // The behaviour alone is the same table, without internals.
  const FunctionalInput b = functional_input(m, spec, false);
  EXPECT_EQ(b.behaviour.io, base.behaviour.io);
  EXPECT_TRUE(b.internals.heads.empty());
  // A control: a real change of weights changes the encoding.
  SubjectModel r = m;
  r.weights["blocks.0.attn.qkv.weight"].data[3] += 1.0f;
  EXPECT_FALSE(same_rows_as_set(functional_input(r, spec, true).internals.heads, base.internals.heads,
                                static_cast<size_t>(spec.probe_head_features()), 1e-4f));
}

// The augmentation (mapper train --augment): every head, hidden unit and residual dimension permuted gives the
// same function (logits on the whole domain) with other weights; the layer graph sees the difference, the
// invariant encoding does not.
// Output values, not class indices: x + 1 and x - 1 on tokens 1..5 both give classes 0..4 in order, but
// other values.
TEST(MapperFeatures, ValueIdsTellValuesApartAndMatchPythonEquality) {
  EXPECT_EQ(value_id(Value::of_int(0)), 66);
  EXPECT_EQ(value_id(Value::of_float(3.0)), value_id(Value::of_int(3)));
  EXPECT_NE(value_id(Value::of_int(3)), value_id(Value::of_int(4)));
  EXPECT_EQ(value_id(Value{}), 1);
  EXPECT_EQ(value_id(Value::of_int(-64)), 2);
  EXPECT_EQ(value_id(Value::of_int(64)), 130);
  EXPECT_EQ(value_id(Value::of_int(-65)), 260);
  EXPECT_EQ(value_id(Value::of_int(1000)), 261);
  EXPECT_EQ(value_id(Value::of_float(0.5)), 131 + 2 + 64);
  EXPECT_NE(value_id(Value::of_float(0.5)), value_id(Value::of_float(0.25)));
  for (int64_t v = -70; v <= 70; ++v) {
    EXPECT_GE(value_id(Value::of_int(v)), 2);
    EXPECT_LT(value_id(Value::of_int(v)), kValueIds);
  }
}

TEST(MapperFeatures, PermutedSubjectsComputeTheSameWithOtherWeights) {
  const SubjectModel m = random_subject(arch_of(16, 2, 4, 5), 11);
  const SubjectModel p = permute_subject(m, 3);
  EXPECT_GT(max_abs_diff(p.weights.at("blocks.1.attn.qkv.weight").data, m.weights.at("blocks.1.attn.qkv.weight").data), 0.05f);
  EXPECT_GT(max_abs_diff(p.weights.at("embed.tokens").data, m.weights.at("embed.tokens").data), 0.05f);
  float worst = 0;
  for (const Input& x : m.domain.enumerate(10000)) worst = std::max(worst, max_abs_diff(subject_logits(p, x), subject_logits(m, x)));
  EXPECT_LT(worst, 1e-4f);
  const FeatureSpec spec{6, 5, 8, 1024};
  EXPECT_GT(max_abs_diff(layergraph_input(p, spec).x, layergraph_input(m, spec).x), 0.05f);
  EXPECT_TRUE(same_rows_as_set(invariant_input(p, spec).heads, invariant_input(m, spec).heads,
                               static_cast<size_t>(spec.head_features()), 1e-4f));
  SubjectModel compiled = m;
  compiled.arch.block = "compiled";
  EXPECT_THROW(permute_subject(compiled, 3), Error);
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
