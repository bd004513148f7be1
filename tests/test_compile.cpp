// The RASP compiler (src/compile) against its reference, the evaluator: a compiled model's outputs must
// equal the program's on every input of the domain (numerical outputs within 1e-3 in the residual, and
// exactly after the head), for the classic programs, for each kind of block alone, and for programs the
// sampler draws. Refusals name the statement and the reason. No torch.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "compile/compile.h"
#include "core/rng.h"
#include "core/safetensors.h"
#include "core/sample.h"
#include "mapper/features.h"
#include "rasp/rasp.h"
#include "test_util.h"

namespace mm {

namespace {

const std::string kCases = MM_CASES_DIR;

rasp::Program classic(const std::string& name) { return rasp::parse(test::slurp(kCases + "/rasp/" + name + ".py")); }

InputDomain rasp_domain() { return rasp::language().default_domain(); }

std::string show(const std::vector<int64_t>& x) {
  std::string s;
  for (int64_t v : x) s += std::to_string(v) + " ";
  return s;
}

// Every input of the domain: the model's prediction equals the evaluator's output at every position, and
// for a numerical output the output's residual dimension is within 1e-3 of it. Empty when all agree,
// else the first disagreement.
std::string disagreement(const rasp::Program& p, const compile::Compiled& c, const InputDomain& domain) {
  int out_dim = -1;
  for (size_t i = 0; i < c.residual.size(); ++i)
    if (c.residual[i] == c.output_label) out_dim = static_cast<int>(i);
  const int d = c.model.arch.d_model;
  for (const Input& x : domain.enumerate(1'000'000)) {
    const std::vector<Value> want = rasp::evaluate(p, x);
    const std::vector<Value> got = subject_predict(c.model, x);
    std::vector<float> residual;
    if (c.output_numerical) residual = subject_residual(c.model, x);
    for (size_t q = 0; q < x.size(); ++q) {
      if (value_key(want[q]) != value_key(got[q]))
        return "input " + show(x) + "position " + std::to_string(q) + ": model " + value_to_json(got[q]) +
               ", program " + value_to_json(want[q]);
      if (c.output_numerical && std::abs(residual[q * static_cast<size_t>(d) + static_cast<size_t>(out_dim)] - want[q].as_double()) > 1e-3)
        return "input " + show(x) + "position " + std::to_string(q) + ": residual " +
               std::to_string(residual[q * static_cast<size_t>(d) + static_cast<size_t>(out_dim)]) + ", program " +
               value_to_json(want[q]);
    }
  }
  return "";
}

std::string compile_and_check(const std::string& text, const InputDomain& domain = rasp_domain()) {
  const rasp::Program p = rasp::parse(text);
  return disagreement(p, compile::compile_program(p, domain), domain);
}

const char* kImport = "from tracr.rasp import rasp\n";

float test_max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

}  // namespace

TEST(CompileClassic, EveryClassicProgramComputesExactlyWhatTheEvaluatorDoes) {
  for (const char* name : {"reverse", "histogram", "sort_unique", "length", "frac_prevs", "pair_balance"}) {
    SCOPED_TRACE(name);
    const rasp::Program p = classic(name);
    const compile::Compiled c = compile::compile_program(p, rasp_domain());
    EXPECT_EQ(disagreement(p, c, rasp_domain()), "");
    EXPECT_EQ(c.model.arch.block, "compiled");
  }
}

TEST(CompileClassic, LayersFollowTheLongestPath) {
  // reverse: length (attention + MLP of layer 1), x - y (MLP 2), x - 1 (MLP 3), the Aggregate (attention
  // 4): 4 layers, as tracr compiles it.
  EXPECT_EQ(compile::compile_program(classic("reverse"), rasp_domain()).model.arch.n_layers, 4);
  EXPECT_EQ(compile::compile_program(classic("histogram"), rasp_domain()).model.arch.n_layers, 1);
  // sort_unique: SelectorWidth (layer 1), then the Aggregate reads it: layer 2.
  EXPECT_EQ(compile::compile_program(classic("sort_unique"), rasp_domain()).model.arch.n_layers, 2);
}

TEST(CompileBlocks, EachKindOfBlockAloneIsExact) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"categorical Map (lookup table)", "v1 = rasp.Map(lambda x: x + 1, rasp.tokens)\nprogram = v1\n"},
      {"categorical Map to a number", "v1 = rasp.numerical(rasp.Map(lambda x: x - 2, rasp.tokens))\nprogram = v1\n"},
      {"numerical Map (discretizing MLP)",
       "v1 = rasp.numerical(rasp.Map(lambda x: x - 2, rasp.tokens))\n"
       "v2 = rasp.numerical(rasp.Map(lambda x: 2 * x, v1))\nprogram = v2\n"},
      {"numerical Map to fractions",
       "v1 = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.LEQ)\n"
       "v2 = rasp.numerical(rasp.Aggregate(v1, rasp.indices, default=0))\n"
       "v3 = rasp.numerical(rasp.Map(lambda x: x + 0.5, v2))\nprogram = v3\n"},
      {"numerical to categorical Map",
       "v1 = rasp.numerical(rasp.Map(lambda x: x - 2, rasp.tokens))\nv2 = rasp.Map(lambda x: x + 1, v1)\nprogram = v2\n"},
      {"SequenceMap", "v1 = rasp.SequenceMap(lambda x, y: x + y, rasp.tokens, rasp.indices)\nprogram = v1\n"},
      {"categorical LinearSequenceMap",
       "v1 = rasp.LinearSequenceMap(rasp.tokens, rasp.indices, 2, -1)\nprogram = v1\n"},
      {"numerical LinearSequenceMap",
       "v1 = rasp.numerical(rasp.Map(lambda x: x - 2, rasp.tokens))\n"
       "v2 = rasp.numerical(rasp.LinearSequenceMap(v1, rasp.indices, 3, -2))\nprogram = v2\n"},
      {"categorical Aggregate with a default",
       "v1 = rasp.Select(rasp.indices, rasp.tokens, rasp.Comparison.EQ)\n"
       "v2 = rasp.Aggregate(v1, rasp.tokens, default=4)\nprogram = v2\n"},
      {"categorical Aggregate without a default",
       "v1 = rasp.Select(rasp.indices, rasp.tokens, rasp.Comparison.EQ)\nv2 = rasp.Aggregate(v1, rasp.tokens)\nprogram = v2\n"},
      {"numerical Aggregate (a mean)",
       "v1 = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.LEQ)\n"
       "v2 = rasp.numerical(rasp.Aggregate(v1, rasp.indices, default=0))\nprogram = v2\n"},
      {"numerical Aggregate with a non-zero default",
       "v1 = rasp.Select(rasp.tokens, rasp.indices, rasp.Comparison.GT)\n"
       "v2 = rasp.numerical(rasp.Aggregate(v1, rasp.tokens, default=-2))\nprogram = v2\n"},
      {"SelectorWidth", "v1 = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.LT)\nv2 = rasp.SelectorWidth(v1)\nprogram = v2\n"},
      {"numerical SelectorWidth",
       "v1 = rasp.Select(rasp.tokens, rasp.indices, rasp.Comparison.GEQ)\n"
       "v2 = rasp.numerical(rasp.SelectorWidth(v1))\nprogram = v2\n"},
      {"length", "v1 = rasp.Map(lambda x: x + 1, rasp.length)\nprogram = v1\n"},
      {"a selector on a numerical s-op",
       "v1 = rasp.numerical(rasp.Map(lambda x: x - 2, rasp.tokens))\n"
       "v2 = rasp.Select(v1, rasp.indices, rasp.Comparison.LT)\nv3 = rasp.SelectorWidth(v2)\nprogram = v3\n"},
  };
  for (const auto& [what, text] : cases) {
    SCOPED_TRACE(what);
    EXPECT_EQ(compile_and_check(kImport + text), "");
  }
}

TEST(CompileBlocks, AnOutputThatCanBeNoneIsAClassOfItsOwn) {
  // Nothing is selected at positions whose token exceeds the length: the output is None there.
  const std::string text = std::string(kImport) +
                           "v1 = rasp.Select(rasp.indices, rasp.tokens, rasp.Comparison.EQ)\n"
                           "v2 = rasp.Aggregate(v1, rasp.indices)\nprogram = v2\n";
  const rasp::Program p = rasp::parse(text);
  const compile::Compiled c = compile::compile_program(p, rasp_domain());
  EXPECT_TRUE(std::any_of(c.model.classes.begin(), c.model.classes.end(), [](const Value& v) { return v.is_none(); }));
  EXPECT_EQ(disagreement(p, c, rasp_domain()), "");
}

TEST(CompileRefusals, ProgramsOutsideTheSubsetAreRefusedWithTheReason) {
  auto refusal = [](const std::string& text) -> std::string {
    try {
      compile::compile_program(rasp::parse(kImport + text), rasp_domain());
    } catch (const compile::CompileError& e) {
      return e.what();
    }
    return "";
  };
  // Selects every smaller token, which differ: tracr's validator refuses a categorical mean.
  EXPECT_NE(refusal("v1 = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.LT)\n"
                    "v2 = rasp.Aggregate(v1, rasp.tokens)\nprogram = v2\n")
                .find("v2: a categorical Aggregate averages differing values"),
            std::string::npos);
  // A numerical s-op that is None where nothing is selected.
  EXPECT_NE(refusal("v1 = rasp.Select(rasp.indices, rasp.tokens, rasp.Comparison.EQ)\n"
                    "v2 = rasp.numerical(rasp.Aggregate(v1, rasp.tokens))\nprogram = v2\n")
                .find("v2: a numerical s-op is None"),
            std::string::npos);
  // A Select that compares None: the evaluator raises, and so the compiler refuses.
  EXPECT_NE(refusal("v1 = rasp.Select(rasp.indices, rasp.tokens, rasp.Comparison.EQ)\n"
                    "v2 = rasp.Aggregate(v1, rasp.indices)\n"
                    "v3 = rasp.Select(v2, v2, rasp.Comparison.EQ)\nv4 = rasp.SelectorWidth(v3)\nprogram = v4\n")
                .find("the program raises on input"),
            std::string::npos);
}

TEST(CompileRefusals, StrictRefusesWhatTracrRefusesThoughItCompiles) {
  compile::CompileOptions strict;
  strict.tracr_strict = true;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"v1 = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.LEQ)\n"
       "v2 = rasp.numerical(rasp.Aggregate(v1, rasp.indices, default=0))\nprogram = v2\n",
       "v2: an Aggregate whose encoding differs from its input's"},
      {"v1 = rasp.numerical(rasp.Map(lambda x: x + 1, rasp.tokens))\n"
       "v2 = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.LEQ)\n"
       "v3 = rasp.numerical(rasp.Aggregate(v2, v1, default=0))\nprogram = v3\n",
       "v3: a numerical Aggregate of an s-op that is not always 0 or 1"},
      {"v1 = rasp.Select(rasp.indices, rasp.tokens, rasp.Comparison.EQ)\n"
       "v2 = rasp.Aggregate(v1, rasp.tokens, default=4)\nprogram = v2\n",
       "v2: a categorical Aggregate with a default"},
  };
  for (const auto& [text, why] : cases) {
    const rasp::Program p = rasp::parse(kImport + text);
    EXPECT_EQ(disagreement(p, compile::compile_program(p, rasp_domain()), rasp_domain()), "") << text;
    try {
      compile::compile_program(p, rasp_domain(), strict);
      ADD_FAILURE() << "--strict compiled " << text;
    } catch (const compile::CompileError& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
  }
  for (const char* name : {"reverse", "histogram", "sort_unique", "length", "frac_prevs", "pair_balance"})
    EXPECT_NO_THROW(compile::compile_program(classic(name), rasp_domain(), strict)) << name;
}

TEST(CompileRefusals, ADomainTooLargeToEnumerateIsAnError) {
  InputDomain big;
  big.value_min = 0, big.value_max = 20, big.len_min = 1, big.len_max = 10;
  EXPECT_THROW(compile::compile_program(classic("reverse"), big), Error);
}

TEST(CompileFile, TheModelRoundTripsThroughItsFileWithItsResidualLabels) {
  const compile::Compiled c = compile::compile_program(classic("sort_unique"), rasp_domain());
  const SubjectModel back = subject_from_safetensors(safetensors_decode(safetensors_encode(subject_to_safetensors(c.model)), "t"), "t");
  EXPECT_EQ(back.arch.block, "compiled");
  const auto labels = nlohmann::json::parse(back.info.at("residual")).get<std::vector<std::string>>();
  EXPECT_EQ(labels, c.residual);
  EXPECT_EQ(labels.front(), "bos");
  EXPECT_NE(std::find(labels.begin(), labels.end(), "tokens:3"), labels.end());
  for (const Input& x : {Input{3, 1, 2}, Input{0, 4, 4, 1, 2}, Input{2}})
    EXPECT_EQ(subject_predict(back, x), rasp::evaluate(classic("sort_unique"), x));
}

TEST(CompileFile, BothEncodersReadACompiledModel) {
  const compile::Compiled c = compile::compile_program(classic("reverse"), rasp_domain());
  const SubjectArch& a = c.model.arch;
  const FeatureSpec spec{6, 5, 32, 4096};
  const LayerGraphInput g = layergraph_input(c.model, spec);
  EXPECT_EQ(g.nodes, a.n_layers + 2);
  const InvariantInput in = invariant_input(c.model, spec);
  EXPECT_EQ(in.head_layer.size(), static_cast<size_t>(a.n_layers * a.n_heads));
  EXPECT_EQ(in.neurons.size(), static_cast<size_t>(a.n_layers) * a.d_mlp() * spec.neuron_features());
  for (float x : in.heads) ASSERT_TRUE(std::isfinite(x));
  // The last layer's head copies tokens: its OV circuit maps a token's row to that token's class.
  EXPECT_TRUE(std::any_of(in.heads.begin(), in.heads.end(), [](float x) { return x > 0.5f; }));
}

TEST(CompileFile, ARotatedViewComputesTheSameWithDifferentWeights) {
  for (const char* name : {"sort_unique", "frac_prevs", "reverse"}) {
    SCOPED_TRACE(name);
    const rasp::Program p = classic(name);
    const compile::Compiled c = compile::compile_program(p, rasp_domain());
    const SubjectModel r = compile::rotate_residual(c.model, 5);
    EXPECT_GT(test_max_abs_diff(r.weights.at("embed.tokens").data, c.model.weights.at("embed.tokens").data), 0.1f);
    int agree = 0, total = 0;
    for (const Input& x : rasp_domain().enumerate(100000)) {
      const auto want = rasp::evaluate(p, x);
      const auto got = subject_predict(r, x);
      for (size_t q = 0; q < x.size(); ++q) agree += value_key(want[q]) == value_key(got[q]), ++total;
    }
    EXPECT_EQ(agree, total);
  }
}

// The probe encoder reads the computation, not the weights: a rotated view (other weights, the same function)
// gives the same probe features, and its behaviour tokens are the model's (and the program's) outputs.
TEST(CompileFile, ProbeFeaturesIgnoreRotationsOfTheResidualBasis) {
  const FeatureSpec spec{6, 5, 32, 4096};
  for (const char* name : {"sort_unique", "frac_prevs"}) {
    SCOPED_TRACE(name);
    const rasp::Program p = classic(name);
    const compile::Compiled c = compile::compile_program(p, rasp_domain());
    const SubjectModel r = compile::rotate_residual(c.model, 5);
    const FunctionalInput a = functional_input(c.model, spec, true), b = functional_input(r, spec, true);
    EXPECT_EQ(a.behaviour.io, b.behaviour.io);
    ASSERT_EQ(a.internals.heads.size(), b.internals.heads.size());
    ASSERT_EQ(a.internals.neurons.size(), b.internals.neurons.size());
    EXPECT_LT(test_max_abs_diff(a.internals.heads, b.internals.heads), 1e-3f);
    EXPECT_LT(test_max_abs_diff(a.internals.neurons, b.internals.neurons), 1e-3f);
    // The behaviour tokens: each probe input's ids, then the id of the program's output value at each position.
    const std::vector<Input> probes = probe_inputs(rasp_domain());
    ASSERT_EQ(static_cast<size_t>(a.behaviour.n), probes.size());
    for (size_t x = 0; x < probes.size(); ++x) {
      const auto want = rasp::evaluate(p, probes[x]);
      const std::vector<int64_t> ids = c.model.encode(probes[x]);
      for (size_t q = 0; q < probes[x].size(); ++q) {
        ASSERT_EQ(a.behaviour.io[x * 10 + q], ids[q]);
        ASSERT_EQ(a.behaviour.io[x * 10 + 5 + q], value_id(want[q]));
      }
      for (size_t q = probes[x].size(); q < 5; ++q) ASSERT_EQ(a.behaviour.io[x * 10 + 5 + q], 0);
    }
  }
}

// What `mapper train --synthetic` reads in place of a subject: the program's own behaviour, which must be
// exactly what an exact subject of it shows the behaviour encoder (every classic program, compiled).
TEST(CompileFile, AProgramsOwnBehaviourIsWhatItsExactSubjectShows) {
  const FeatureSpec spec{6, 5, 32, 4096};
  for (const char* name : {"reverse", "histogram", "sort_unique", "length", "frac_prevs", "pair_balance"}) {
    SCOPED_TRACE(name);
    const auto program = rasp::language().parse(test::slurp(kCases + "/rasp/" + std::string(name) + ".py"));
    const compile::Compiled c = compile::compile_program(classic(name), rasp_domain());
    const BehaviourInput from_program = program_behaviour(*program, rasp_domain(), spec);
    EXPECT_EQ(from_program.n, functional_input(c.model, spec, false).behaviour.n);
    EXPECT_EQ(from_program.io, functional_input(c.model, spec, false).behaviour.io);
  }
  // A domain wider than the mapper reads is refused with one line.
  InputDomain wide = rasp_domain();
  wide.len_max = 8;
  EXPECT_THROW(program_behaviour(*rasp::language().parse(test::slurp(kCases + "/rasp/reverse.py")), wide, spec), Error);
}

TEST(CompileSampled, SampledProgramsThatCompileAreExact) {
  SampleConfig config;
  config.domain = rasp_domain();
  Sampler sampler(rasp::language(), config);
  Rng rng(7);
  int compiled = 0, exact = 0;
  std::string first_failure;
  for (int i = 0; i < 60; ++i) {
    const rasp::Program p = rasp::parse(sampler.next(rng)->text());
    try {
      const compile::Compiled c = compile::compile_program(p, config.domain);
      ++compiled;
      const std::string why = disagreement(p, c, config.domain);
      if (why.empty()) ++exact;
      else if (first_failure.empty()) first_failure = rasp::print(p) + why;
    } catch (const compile::CompileError&) {
    }
  }
  EXPECT_GE(compiled, 40);
  EXPECT_EQ(exact, compiled) << first_failure;
}

}  // namespace mm
