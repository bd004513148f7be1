// list-Python: the interpreter against hand-computed outputs and against python3 itself (500 sampled
// programs x 50 inputs, plus unfiltered programs that raise), the parser and its errors, tokens, and
// 1,000 sampled programs round-tripping.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "core/sample.h"
#include "listpy/listpy.h"
#include "test_util.h"

namespace mm::listpy {

namespace {

const std::string kHead = "def random_function(arr):\n    n = len(arr)\n    out = [0] * n\n";
const std::string kTail = "    return out\n";

std::vector<int64_t> run(const std::string& loops, const Input& x) { return evaluate(parse(kHead + loops + kTail), x); }

// What python3 prints for each (program, input): the output as JSON, or "error <ExceptionType>".
std::vector<std::string> python_outputs(const std::vector<std::string>& sources,
                                        const std::vector<std::vector<Input>>& inputs) {
  const std::string data = test::temp_path(".json"), script = test::temp_path(".py");
  test::write_file(data, nlohmann::json({{"sources", sources}, {"inputs", inputs}}).dump());
  test::write_file(script, R"(import json, sys
d = json.load(open(sys.argv[1]))
for src, xs in zip(d['sources'], d['inputs']):
    ns = {}
    exec(src, ns)
    f = ns['random_function']
    for x in xs:
        try:
            print(json.dumps(f(list(x))))
        except Exception as e:
            print('error ' + type(e).__name__)
)");
  const test::Ran r = test::run_shell(std::string(MM_PYTHON3) + " " + script + " " + data);
  std::remove(data.c_str());
  std::remove(script.c_str());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string our_output(const Program& p, const Input& x) {
  try {
    const auto y = evaluate(p, x);
    std::vector<Value> v;
    for (int64_t e : y) v.push_back(Value::of_int(e));
    return values_to_json(v);
  } catch (const EvalError& e) {
    const std::string what = e.what();
    return "error " + what.substr(0, what.find(':'));
  }
}

// Compares our interpreter with python3 on every program over `per_program` random inputs; returns how
// many (program, input) pairs raised.
int compare_with_python(const std::vector<Program>& programs, int per_program, uint64_t seed) {
  Rng rng(seed);
  const InputDomain domain = language().default_domain();
  std::vector<std::string> sources;
  std::vector<std::vector<Input>> inputs;
  for (const Program& p : programs) {
    sources.push_back(print(p));
    inputs.emplace_back();
    for (int k = 0; k < per_program; ++k) inputs.back().push_back(domain.sample(rng));
  }
  const auto expected = python_outputs(sources, inputs);
  EXPECT_EQ(expected.size(), programs.size() * static_cast<size_t>(per_program));
  int raised = 0;
  size_t line = 0;
  for (size_t k = 0; k < programs.size(); ++k)
    for (const Input& x : inputs[k]) {
      if (line >= expected.size()) return raised;
      const std::string ours = our_output(programs[k], x);
      EXPECT_EQ(ours, expected[line]) << sources[k] << "on " << nlohmann::json(x).dump();
      raised += ours.rfind("error", 0) == 0;
      ++line;
    }
  return raised;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// Interpreter

TEST(Evaluate, HandComputedOutputs) {
  // Rotate right: (i - 1) % n is n - 1 at i = 0, as Python's % floors.
  EXPECT_EQ(run("    for i in range(0, n):\n        out[(i) % len(out)] = arr[(i - 1) % len(arr)]\n", {1, 2, 3}),
            (std::vector<int64_t>{3, 1, 2}));
  EXPECT_EQ(run("    for i in range(0, n):\n        if arr[(i)] % 2 == 0:\n"
                "            out[(i) % len(out)] = -arr[(i) % len(arr)]\n",
                {1, 2, 3, 4}),
            (std::vector<int64_t>{0, -2, 0, -4}));
  EXPECT_EQ(run("    for i in range(0, n):\n        if arr[(i)] % 3 != 0:\n"
                "            out[(i) % len(out)] = arr[(i) % len(arr)]\n",
                {3, 4, 6, 7}),
            (std::vector<int64_t>{0, 4, 0, 7}));
  // A constant end past the input wraps around through % len(...).
  EXPECT_EQ(run("    for i in range(1, 5):\n        out[(i + 1) % len(out)] = arr[(i) % len(arr)]\n", {7, 8}),
            (std::vector<int64_t>{8, 7}));
  // range(2, n - 1) is empty for n = 2.
  EXPECT_EQ(run("    for i in range(2, n - 1):\n        out[(i) % len(out)] = arr[(i) % len(arr)]\n", {5, 6}),
            (std::vector<int64_t>{0, 0}));
  EXPECT_EQ(run("    for i in range(0, 2):\n        for j in range(0, n):\n"
                "            out[(j) % len(out)] = arr[(j + 1) % len(arr)]\n",
                {1, 2, 3}),
            (std::vector<int64_t>{2, 3, 1}));
}

TEST(Evaluate, ConditionalPastTheEndRaisesIndexErrorAsPythonDoes) {
  const std::string loop = "    for i in range(0, 5):\n        if arr[(i)] % 2 == 0:\n"
                           "            out[(i) % len(out)] = arr[(i) % len(arr)]\n";
  EXPECT_THROW(run(loop, {1, 2}), EvalError);
  EXPECT_EQ(run(loop, {1, 2, 3, 4, 6}), (std::vector<int64_t>{0, 2, 0, 4, 6}));
}

TEST(Evaluate, AgreesWithPython3OnFiveHundredSampledProgramsTimesFiftyInputs) {
  SampleConfig config;
  config.domain = language().default_domain();
  Sampler sampler(language(), config);
  Rng rng(11);
  std::vector<Program> programs;
  for (int k = 0; k < 500; ++k) programs.push_back(parse(sampler.next(rng)->text()));
  EXPECT_EQ(compare_with_python(programs, 50, 12), 0);  // sampled programs never raise: the filter saw to it
}

TEST(Evaluate, AgreesWithPython3WhereProgramsRaise) {
  Rng rng(21);
  std::vector<Program> programs;
  for (int k = 0; k < 300; ++k) programs.push_back(generate(rng, 1, 3));
  EXPECT_GT(compare_with_python(programs, 20, 22), 0);
}

// ---------------------------------------------------------------------------------------------------------
// Printer and parser

TEST(Parse, ThePapersFigure3SpacingIsAcceptedAndPrintedCanonically) {
  const std::string figure3 =
      "def random_function(arr):\n"
      "  n = len(arr)\n"
      "  out = [0] * n\n"
      "  for i in range(0, n):\n"
      "    if arr[(i)] % 2!= 0:\n"
      "      out[(i) % len(out)] = arr[(i) % len(arr)]\n"
      "  for i in range(0, n):\n"
      "    out[(i) % len(out)] = arr[(i - 1) % len(arr)]\n"
      "    out[(i + 1) % len(out)] = arr[(i) % len(arr)]\n"
      "  for i in range (1, 5):\n"
      "    out[(i) % len(out)] = -arr[(i) % len(arr)]\n"
      "    out[(i + 1) % len(out)] = arr[(i) % len(arr)]\n"
      "    for j in range(1, n):\n"
      "      out[(j) % len(out)] = arr[(j) % len(arr)]\n"
      "      out[(j + 1) % len(out)] = arr[(j) % len(arr)]\n"
      "      out[(j-1) % len(out)] = -arr[(j+1) % len(arr)]\n"
      "  return out\n";
  const std::string canonical =
      "def random_function(arr):\n"
      "    n = len(arr)\n"
      "    out = [0] * n\n"
      "    for i in range(0, n):\n"
      "        if arr[(i)] % 2 != 0:\n"
      "            out[(i) % len(out)] = arr[(i) % len(arr)]\n"
      "    for i in range(0, n):\n"
      "        out[(i) % len(out)] = arr[(i - 1) % len(arr)]\n"
      "        out[(i + 1) % len(out)] = arr[(i) % len(arr)]\n"
      "    for i in range(1, 5):\n"
      "        out[(i) % len(out)] = -arr[(i) % len(arr)]\n"
      "        out[(i + 1) % len(out)] = arr[(i) % len(arr)]\n"
      "        for j in range(1, n):\n"
      "            out[(j) % len(out)] = arr[(j) % len(arr)]\n"
      "            out[(j + 1) % len(out)] = arr[(j) % len(arr)]\n"
      "            out[(j - 1) % len(out)] = -arr[(j + 1) % len(arr)]\n"
      "    return out\n";
  const Program p = parse(figure3);
  EXPECT_EQ(print(p), canonical);
  EXPECT_EQ(parse(canonical), p);
  EXPECT_EQ(p.loops.size(), 3u);
  // Comments and blank lines are skipped; brackets join lines.
  const std::string commented = "# generated\n" + canonical.substr(0, 26) + "\n    # setup\n" + canonical.substr(26);
  EXPECT_EQ(parse(commented), p);
}

TEST(Parse, RejectsEverythingOutsideTheFamilyWithLineAndColumn) {
  const std::string assign_i = "        out[(i) % len(out)] = arr[(i) % len(arr)]\n";
  const std::vector<test::BadText> bad = {
      {"def random_function(arr):\n\tn = len(arr)\n", 2, 1, "tabs"},
      {kHead + "    for k in range(0, n):\n" + assign_i + kTail, 4, 9, "expected 'i'"},
      {kHead + "    for i in range(0, 7):\n" + assign_i + kTail, 4, 23, "range end must be in 2..5"},
      {kHead + "    for i in range(0, n):\n        out[(i + 2) % len(out)] = arr[(i) % len(arr)]\n" + kTail, 5, 18,
       "index offset"},
      {kHead + "    for i in range(0, n):\n" + assign_i, 6, 1, "expected 'return'"},
      {kHead + "    for i in range(0, n):\n" + assign_i + "    for i in range(0, n):\n" + assign_i +
           "    for i in range(0, n):\n" + assign_i + "    for i in range(0, n):\n" + assign_i + kTail,
       10, 5, "at most 3 outer loops"},
      {kHead + "    for i in range(0, n):\n" + assign_i + "      return out\n", 6, 7, "unindent"},
      {kHead + "    @\n", 4, 5, "unexpected character"},
      {kHead + "    for i in range(0, n):\n        if arr[(i)] % 4 == 0:\n    " + assign_i + kTail, 5, 23,
       "modulus"},
      {kHead + "    for i in range(0, n):\n        out[(j) % len(out)] = arr[(j) % len(arr)]\n" + kTail, 5, 14,
       "expected 'i'"},
      {kHead + "    for i in range(0, n):\n        for j in range(0, n):\n            for j in range(0, n):\n", 6, 13,
       "one level deep"},
      {kHead + kTail, 4, 5, "at least one loop"},
      {"", 1, 1, "expected 'def'"},
  };
  test::expect_rejected([](const std::string& t) { return parse(t); }, bad);
}

// ---------------------------------------------------------------------------------------------------------
// Tokens

TEST(Tokens, AreTheLexemesWithLineStructure) {
  const Program p = parse(kHead + "    for i in range(0, n - 1):\n        out[(i + 1) % len(out)] = -arr[(i) % len(arr)]\n" +
                          kTail);
  const auto t = tokenize(p);
  const std::vector<std::string> loop = {"for", "i", "in", "range", "(", "0", ",", "n", "-", "1", ")", ":", "<nl>",
                                         "<indent>", "out", "[", "(", "i", "+", "1", ")", "%", "len", "(", "out",
                                         ")", "]", "=", "-", "arr", "[", "(", "i", ")", "%", "len", "(", "arr",
                                         ")", "]", "<nl>", "<dedent>"};
  ASSERT_GT(t.size(), loop.size());
  EXPECT_EQ(std::vector<std::string>(t.begin() + 23, t.begin() + 23 + static_cast<long>(loop.size())), loop);
  EXPECT_EQ(t.back(), "<dedent>");
  EXPECT_EQ(detokenize(t), p);
}

TEST(Tokens, DetokenizeRejectsMalformedSequencesWithThePosition) {
  const Program p = parse(kHead + "    for i in range(0, n):\n" + "        out[(i) % len(out)] = arr[(i) % len(arr)]\n" + kTail);
  auto t = tokenize(p);
  auto broken = t;
  broken[5] = "banana";
  try {
    detokenize(broken);
    ADD_FAILURE();
  } catch (const ParseError& e) {
    EXPECT_EQ(e.line, 0);
    EXPECT_EQ(e.column, 6);
  }
  broken = t;
  broken.erase(broken.begin() + 30);
  EXPECT_THROW(detokenize(broken), ParseError);
  broken = t;
  broken.pop_back();
  EXPECT_THROW(detokenize(broken), ParseError);
  EXPECT_THROW(detokenize(std::vector<std::string>{}), ParseError);
  EXPECT_THROW(detokenize(std::vector<std::string>{"<indent>", "<dedent>"}), ParseError);
}

TEST(Tokens, VocabularyStartsWithTheSpecials) {
  const auto& v = vocabulary();
  EXPECT_EQ(v[kPadId], "<pad>");
  EXPECT_EQ(v[kBosId], "<bos>");
  EXPECT_EQ(v[kEosId], "<eos>");
}

TEST(Sample, ThousandProgramsRoundTripThroughTextAndTokens) {
  SampleConfig config;
  config.domain = language().default_domain();
  Sampler sampler(language(), config);
  Rng rng(99);
  const auto& vocab = vocabulary();
  const std::set<std::string> vocab_set(vocab.begin(), vocab.end());
  std::set<std::string> distinct;
  for (int k = 0; k < 1000; ++k) {
    const auto handle = sampler.next(rng);
    const Program p = parse(handle->text());
    ASSERT_EQ(print(p), handle->text());
    ASSERT_EQ(print(parse(print(p))), print(p));
    const auto tokens = tokenize(p);
    ASSERT_EQ(detokenize(tokens), p);
    for (const auto& t : tokens) ASSERT_TRUE(vocab_set.count(t)) << t;
    distinct.insert(print(p));
  }
  EXPECT_GT(distinct.size(), 950u);
}

TEST(Sample, DeterministicForASeedAndWithinTheFamily) {
  SampleConfig config;
  config.domain = language().default_domain();
  auto draw = [&](uint64_t seed) {
    Sampler s(language(), config);
    Rng rng(seed);
    std::vector<std::string> texts;
    for (int k = 0; k < 20; ++k) texts.push_back(s.next(rng)->text());
    return texts;
  };
  EXPECT_EQ(draw(1), draw(1));
  EXPECT_NE(draw(1), draw(2));
  Rng rng(4);
  for (int k = 0; k < 200; ++k) {
    const Program p = generate(rng, 1, 3);
    EXPECT_GE(p.loops.size(), 1u);
    EXPECT_LE(p.loops.size(), 3u);
    for (const auto& loop : p.loops) {
      EXPECT_GE(loop.body.size(), 1u);
      EXPECT_LE(loop.body.size(), 3u);
    }
  }
}

}  // namespace mm::listpy
