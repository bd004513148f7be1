// RASP: every map function (against python3), every primitive and operation of the evaluator (against
// tracr's semantics, by hand), the parser and its errors, canonical tokens, the classic programs on the
// shared case table, and 1,000 sampled programs round-tripping.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "core/sample.h"
#include "rasp/functions.h"
#include "rasp/rasp.h"
#include "test_util.h"

namespace mm::rasp {

namespace {

std::string run_json(const std::string& text, const Input& x) { return values_to_json(evaluate(parse(text), x)); }

const std::string kHeader = "from tracr.rasp import rasp\n";

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// Map functions

TEST(MapFunctions, LibraryHasEveryRequiredFunctionOnceWithDistinctTokens) {
  const auto& fs = map_functions();
  std::set<std::string> tokens, lambdas;
  for (const auto& f : fs) {
    tokens.insert(f.token);
    lambdas.insert(f.lambda);
    EXPECT_EQ(f.token.find(' '), std::string::npos) << f.token;
  }
  EXPECT_EQ(tokens.size(), fs.size());
  EXPECT_EQ(lambdas.size(), fs.size());
  for (const char* required :
       {"lambda x: x + 1", "lambda x: x + 3", "lambda x: x - 1", "lambda x: x - 3", "lambda x: 2 * x", "lambda x: -x",
        "lambda x: x % 2", "lambda x: x % 3", "lambda x: x == 0", "lambda x: x == 4", "lambda x: x != 2",
        "lambda x: x < 4", "lambda x: x > 0", "lambda x: 1 - x", "lambda x: abs(x)", "lambda x: min(x, 3)",
        "lambda x: max(x, 1)", "lambda x: x + 0.5", "lambda x, y: x + y", "lambda x, y: x - y",
        "lambda x, y: x * y", "lambda x, y: min(x, y)", "lambda x, y: max(x, y)", "lambda x, y: x == y",
        "lambda x, y: x < y", "lambda x, y: (x + y) % 5", "lambda x, y: x and y", "lambda x, y: x or y"})
    EXPECT_GE(find_map_function(required), 0) << required;
}

TEST(MapFunctions, LambdaLookupIgnoresWhitespaceAndParameterNames) {
  EXPECT_EQ(find_map_function("lambda   a :a+1"), find_map_function("lambda x: x + 1"));
  EXPECT_EQ(find_map_function("lambda p, q: (p+q)%5"), find_map_function("lambda x, y: (x + y) % 5"));
  EXPECT_EQ(find_map_function("lambda x: x + 7"), -1);
  EXPECT_EQ(find_map_function("lambda x, y: y - x"), -1);
  EXPECT_EQ(find_map_function("x + 1"), -1);
}

TEST(MapFunctions, KnownValuesUnderPythonSemantics) {
  auto u = [](const char* lambda, Value x) { return value_to_json(apply_unary(map_functions()[find_map_function(lambda)], x)); };
  auto b = [](const char* lambda, Value x, Value y) {
    return value_to_json(apply_binary(map_functions()[find_map_function(lambda)], x, y));
  };
  const Value i = Value::of_int(-7), two = Value::of_int(2), half = Value::of_float(2.5);
  EXPECT_EQ(u("lambda x: x % 3", i), "2");        // Python: -7 % 3 == 2
  EXPECT_EQ(u("lambda x: x % 2", Value::of_float(-0.5)), "1.5");
  EXPECT_EQ(u("lambda x: x == 2", Value::of_float(2.0)), "1");
  EXPECT_EQ(u("lambda x: x + 0.5", two), "2.5");
  EXPECT_EQ(u("lambda x: 1 - x", half), "-1.5");
  EXPECT_EQ(u("lambda x: abs(x)", i), "7");
  EXPECT_EQ(u("lambda x: -x", i), "7");
  EXPECT_EQ(u("lambda x: min(x, 2)", Value::of_float(2.0)), "2.0");  // min keeps the first of equals
  EXPECT_EQ(u("lambda x: max(x, 3)", half), "3");
  EXPECT_EQ(b("lambda x, y: x and y", Value::of_int(0), half), "0");
  EXPECT_EQ(b("lambda x, y: x and y", two, half), "2.5");
  EXPECT_EQ(b("lambda x, y: x or y", Value::of_int(0), half), "2.5");
  EXPECT_EQ(b("lambda x, y: x or y", two, half), "2");
  EXPECT_EQ(b("lambda x, y: (x + y) % 5", i, two), "0");
  EXPECT_EQ(b("lambda x, y: x < y", two, half), "1");
  EXPECT_EQ(b("lambda x, y: x * y", two, half), "5.0");
}

TEST(MapFunctions, OverflowRaisesInsteadOfWrapping) {
  const auto& mul = map_functions()[find_map_function("lambda x, y: x * y")];
  EXPECT_THROW(apply_binary(mul, Value::of_int(int64_t{1} << 40), Value::of_int(int64_t{1} << 40)), EvalError);
}

// Every function on a grid of ints and floats, against python3 evaluating the lambda text itself.
TEST(MapFunctions, AgreeWithPython3OnEveryFunction) {
  const std::vector<Value> grid = {Value::of_int(-3), Value::of_int(-1), Value::of_int(0), Value::of_int(1),
                                   Value::of_int(2), Value::of_int(3), Value::of_int(4), Value::of_int(6),
                                   Value::of_float(-2.5), Value::of_float(-0.5), Value::of_float(0.5),
                                   Value::of_float(2.0), Value::of_float(3.25)};
  auto literal = [](Value v) {
    char buf[64];
    if (v.kind == Value::Kind::Int) return std::to_string(v.i);
    std::snprintf(buf, sizeof buf, "%.17g", v.f);
    return std::string("float(") + buf + ")";
  };
  std::string script = "fs = [\n";
  for (const auto& f : map_functions()) script += "  (" + std::to_string(f.arity) + ", " + f.lambda + "),\n";
  script += "]\ngrid = [";
  for (const auto& v : grid) script += literal(v) + ", ";
  script += R"(]
def show(v):
    if isinstance(v, bool): v = int(v)
    print(('int %d' % v) if isinstance(v, int) else ('float ' + repr(v)))
for arity, f in fs:
    for x in grid:
        if arity == 1: show(f(x))
        else:
            for y in grid: show(f(x, y))
)";
  const std::string path = test::temp_path(".py");
  test::write_file(path, script);
  const test::Ran r = test::run_shell(std::string(MM_PYTHON3) + " " + path);
  std::remove(path.c_str());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  size_t checked = 0;
  auto check = [&](const MapFunction& f, Value got, const std::string& args) {
    std::string kind, text;
    ASSERT_TRUE(lines >> kind >> text);
    if (kind == "int") {
      EXPECT_EQ(got.kind, Value::Kind::Int) << f.lambda << " on " << args;
      EXPECT_EQ(got.i, std::stoll(text)) << f.lambda << " on " << args;
    } else {
      EXPECT_EQ(got.kind, Value::Kind::Float) << f.lambda << " on " << args;
      EXPECT_EQ(got.f, std::strtod(text.c_str(), nullptr)) << f.lambda << " on " << args;
    }
    ++checked;
  };
  for (const auto& f : map_functions())
    for (const Value& x : grid) {
      if (f.arity == 1) check(f, apply_unary(f, x), value_to_json(x));
      else
        for (const Value& y : grid) check(f, apply_binary(f, x, y), value_to_json(x) + ", " + value_to_json(y));
    }
  EXPECT_GT(checked, 2000u);
  std::string rest;
  EXPECT_FALSE(lines >> rest) << "python printed more lines than we checked";
}

// ---------------------------------------------------------------------------------------------------------
// Evaluator: primitives and operations

TEST(Evaluate, Primitives) {
  EXPECT_EQ(run_json(kHeader + "a = rasp.Map(lambda x: x + 1, rasp.tokens)\nprogram = a\n", {4, 0, 2}), "[5, 1, 3]");
  EXPECT_EQ(run_json(kHeader + "a = rasp.Map(lambda x: x + 1, rasp.indices)\nprogram = a\n", {4, 0, 2}), "[1, 2, 3]");
  EXPECT_EQ(run_json(kHeader + "a = rasp.Map(lambda x: x + 1, rasp.length)\nprogram = a\n", {4, 0, 2}), "[4, 4, 4]");
}

TEST(Evaluate, SelectAppliesComparisonToKeyThenQuery) {
  // keys = tokens [2, 0, 1], queries = indices [0, 1, 2]; width counts keys k with cmp(k, q).
  const std::map<std::string, std::string> expected = {
      {"EQ", "[1, 1, 1]"}, {"LT", "[0, 1, 2]"},  {"LEQ", "[1, 2, 3]"},  {"GT", "[2, 1, 0]"},
      {"GEQ", "[3, 2, 1]"}, {"NEQ", "[2, 2, 2]"}, {"TRUE", "[3, 3, 3]"}, {"FALSE", "[0, 0, 0]"}};
  for (const auto& [cmp, want] : expected) {
    const std::string text = kHeader + "s = rasp.Select(rasp.tokens, rasp.indices, rasp.Comparison." + cmp +
                             ")\nw = rasp.SelectorWidth(s)\nprogram = w\n";
    EXPECT_EQ(run_json(text, {2, 0, 1}), want) << cmp;
  }
}

TEST(Evaluate, AggregateIsTheMeanOrTheDefault) {
  const std::string prefix = kHeader + "s = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)\n";
  EXPECT_EQ(run_json(prefix + "a = rasp.Aggregate(s, rasp.tokens)\nprogram = a\n", {1, 2, 4}), "[1.0, 1.5, 2.33333]");
  const std::string none = kHeader + "s = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.FALSE)\n";
  EXPECT_EQ(run_json(none + "a = rasp.Aggregate(s, rasp.tokens)\nprogram = a\n", {1, 2}), "[null, null]");
  EXPECT_EQ(run_json(none + "a = rasp.Aggregate(s, rasp.tokens, default=0)\nprogram = a\n", {1, 2}), "[0, 0]");
}

TEST(Evaluate, AggregateRaisesWhereTracrRaises) {
  // Several floats selected: tracr's _mean refuses.
  const std::string floats = kHeader +
                             "h = rasp.Map(lambda x: x + 0.5, rasp.tokens)\n"
                             "s = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.TRUE)\n"
                             "a = rasp.Aggregate(s, h)\nprogram = a\n";
  EXPECT_THROW(evaluate(parse(floats), Input{1, 2}), EvalError);
  EXPECT_EQ(run_json(floats, {3}), "[3.5]");  // one float selected is returned as is
  // An int first and a None after it: Python's sum() raises TypeError.
  const std::string mixed = kHeader +
                            "f = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.FALSE)\n"
                            "zero = rasp.Aggregate(f, rasp.tokens, default=0)\n"
                            "e = rasp.Select(rasp.indices, rasp.tokens, rasp.Comparison.EQ)\n"
                            "maybe = rasp.Aggregate(e, rasp.tokens)\n"
                            "both = rasp.SequenceMap(lambda x, y: x and y, zero, maybe)\n"
                            "t = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.TRUE)\n"
                            "a = rasp.Aggregate(t, both)\nprogram = a\n";
  EXPECT_EQ(run_json(kHeader + mixed.substr(kHeader.size(), mixed.find("t = ") - kHeader.size()) + "program = both\n",
                     {0, 7}),
            "[0, null]");
  EXPECT_THROW(evaluate(parse(mixed), Input{0, 7}), EvalError);
}

TEST(Evaluate, SelectOnNoneRaisesButNoneOtherwisePropagates) {
  const std::string base = kHeader +
                           "f = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.FALSE)\n"
                           "n = rasp.Aggregate(f, rasp.tokens)\n";
  EXPECT_EQ(run_json(base + "m = rasp.Map(lambda x: x + 1, n)\nprogram = m\n", {1}), "[null]");
  EXPECT_EQ(run_json(base + "m = rasp.SequenceMap(lambda x, y: x + y, n, rasp.tokens)\nprogram = m\n", {1}), "[null]");
  EXPECT_THROW(evaluate(parse(base + "s = rasp.Select(n, rasp.tokens, rasp.Comparison.TRUE)\n"
                                     "w = rasp.SelectorWidth(s)\nprogram = w\n"),
                        Input{1}),
               EvalError);
  // Only what the output needs is evaluated: a raising statement off the output's path is harmless.
  EXPECT_EQ(run_json(base + "s = rasp.Select(n, rasp.tokens, rasp.Comparison.TRUE)\n"
                            "m = rasp.Map(lambda x: x + 1, rasp.tokens)\nprogram = m\n",
                     {1}),
            "[2]");
}

TEST(Evaluate, SequenceMapsAndSelectorWidth) {
  EXPECT_EQ(run_json(kHeader + "a = rasp.LinearSequenceMap(rasp.tokens, rasp.indices, 2, -1)\nprogram = a\n", {3, 1}),
            "[6, 1]");
  EXPECT_EQ(run_json(kHeader + "a = rasp.SequenceMap(lambda x, y: x - y, rasp.length, rasp.indices)\nprogram = a\n",
                     {1, 2, 3}),
            "[3, 2, 1]");
  EXPECT_EQ(run_json(kHeader + "s = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.GEQ)\n"
                               "w = rasp.SelectorWidth(s)\nprogram = w\n",
                     {3, 1, 2}),
            "[1, 3, 2]");
}

TEST(Evaluate, IntegerOverflowRaises) {
  std::string text = kHeader + "v1 = rasp.SequenceMap(lambda x, y: x * y, rasp.tokens, rasp.tokens)\n";
  for (int k = 2; k <= 5; ++k)
    text += "v" + std::to_string(k) + " = rasp.SequenceMap(lambda x, y: x * y, v" + std::to_string(k - 1) + ", v" +
            std::to_string(k - 1) + ")\n";
  EXPECT_EQ(run_json(text + "program = v4\n", {4}), "[4294967296]");
  EXPECT_THROW(evaluate(parse(text + "program = v5\n"), Input{4}), EvalError);
}

// ---------------------------------------------------------------------------------------------------------
// The classic programs on the shared case table (tests/cases), against their known outputs.

TEST(Classics, KnownOutputsOnTheSharedCaseTable) {
  const auto cases = nlohmann::json::parse(test::slurp(std::string(MM_CASES_DIR) + "/rasp_cases.json"));
  ASSERT_GE(cases.size(), 15u);
  std::set<std::string> programs;
  for (const auto& c : cases) {
    const std::string name = c["program"];
    programs.insert(name);
    const std::string text = test::slurp(std::string(MM_CASES_DIR) + "/rasp/" + name + ".py");
    ASSERT_FALSE(text.empty()) << name;
    const Input x = c["input"].get<Input>();
    const std::vector<Value> got = evaluate(parse(text), x);
    const auto& want = c["expected"];
    ASSERT_EQ(got.size(), want.size()) << name;
    for (size_t k = 0; k < got.size(); ++k) {
      if (want[k].is_null()) {
        EXPECT_TRUE(got[k].is_none()) << name << " position " << k;
      } else {
        ASSERT_FALSE(got[k].is_none()) << name << " position " << k;
        EXPECT_NEAR(got[k].as_double(), want[k].get<double>(), 1e-5) << name << " position " << k;
      }
    }
  }
  for (const char* required : {"reverse", "histogram", "sort_unique", "length", "frac_prevs"})
    EXPECT_TRUE(programs.count(required)) << required;
}

// ---------------------------------------------------------------------------------------------------------
// Printer and parser

TEST(Print, TheIssueExampleIsCanonical) {
  const std::string text =
      "from tracr.rasp import rasp\n"
      "v1 = rasp.SequenceMap(lambda x, y: x - y, rasp.length, rasp.indices)\n"
      "v2 = rasp.Map(lambda x: x - 1, v1)\n"
      "v3 = rasp.Select(rasp.indices, v2, rasp.Comparison.EQ)\n"
      "v4 = rasp.Aggregate(v3, rasp.tokens)\n"
      "program = v4\n";
  EXPECT_EQ(print(parse(text)), text);
  EXPECT_EQ(print(parse(test::slurp(std::string(MM_CASES_DIR) + "/rasp/reverse.py"))), text);
  EXPECT_EQ(print(canonicalize(parse(text))), text);
}

TEST(Print, NumericalAndDefaultsAreWrittenOnlyWhenPresent) {
  const std::string text = test::slurp(std::string(MM_CASES_DIR) + "/rasp/frac_prevs.py");
  const std::string printed = print(parse(text));
  EXPECT_NE(printed.find("v1 = rasp.numerical(rasp.Map(lambda x: x == 1, rasp.tokens))"), std::string::npos);
  EXPECT_NE(printed.find("rasp.numerical(rasp.Aggregate(v2, v1, default=0))"), std::string::npos);
  EXPECT_EQ(print(parse(printed)), printed);
}

TEST(Parse, AcceptsAnyWhitespaceCommentsNamesAndLayout) {
  const std::string messy =
      "# a comment\n\n"
      "from   tracr.rasp   import rasp\n"
      "opp = rasp.SequenceMap( lambda a,b : a-b ,\n    rasp.length,\n    rasp.indices )  # trailing\n"
      "   \n"
      "opp1=rasp.Map(lambda q:q-1,opp)\n"
      "sel = rasp.Select(rasp.indices , opp1 , rasp.Comparison.EQ)\n"
      "program = rasp.categorical(rasp.Aggregate(sel, rasp.tokens, default=None))";
  const std::string clean = test::slurp(std::string(MM_CASES_DIR) + "/rasp/reverse.py");
  EXPECT_EQ(parse(messy), parse(clean));
  // Without the import line, as in a notebook where rasp is already imported.
  EXPECT_EQ(parse(clean.substr(clean.find("opp_idx ="))), parse(clean));
}

TEST(Parse, RejectsEverythingElseWithLineAndColumn) {
  const std::vector<test::BadText> bad = {
      {kHeader + "a = rasp.Map(lambda x: x + 9, rasp.tokens)\nprogram = a\n", 2, 14, "unknown map function"},
      {kHeader + "a = rasp.Map(lambda x: x + 1, b)\nprogram = a\n", 2, 31, "undefined variable 'b'"},
      {kHeader + "s = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ)\na = rasp.Map(lambda x: x + 1, s)\n"
                 "program = a\n", 3, 31, "is a selector"},
      {kHeader + "a = rasp.Aggregate(rasp.tokens, rasp.tokens)\nprogram = a\n", 2, 20, "a selector is needed"},
      {kHeader + "a = rasp.Map(lambda x: x + 1, rasp.tokens)\n", 3, 1, "missing `program"},
      {kHeader + "a = rasp.Map(lambda x: x + 1, rasp.tokens) $\nprogram = a\n", 2, 44, "unexpected character"},
      {kHeader + "a = rasp.Mapp(lambda x: x + 1, rasp.tokens)\nprogram = a\n", 2, 5, "expected a rasp operation"},
      {kHeader + "s = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.LE)\nw = rasp.SelectorWidth(s)\n"
                 "program = w\n", 2, 43, "rasp.Comparison"},
      {kHeader + "s = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ)\n"
                 "a = rasp.Aggregate(s, rasp.tokens, default=9)\nprogram = a\n", 3, 44, "default must be in"},
      {kHeader + "a = rasp.Map(lambda x: x + 1, rasp.Map(lambda x: x + 1, rasp.tokens))\nprogram = a\n", 2, 31,
       "one operation per statement"},
      {kHeader + "a = rasp.SequenceMap(lambda x: x + 1, rasp.tokens, rasp.tokens)\nprogram = a\n", 2, 22,
       "takes 1 argument"},
      {kHeader + "a = rasp.Map(lambda x: x + 1, rasp.tokens)\nprogram = a\nb = a\n", 4, 1, "nothing may follow"},
      {kHeader + "program = rasp.tokens\n", 2, 11, "expected a rasp operation"},
      {kHeader + "s = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ)\nprogram = s\n", 3, 11, "selector"},
      {kHeader + "a = rasp.LinearSequenceMap(rasp.tokens, rasp.indices, 1.5, 1)\nprogram = a\n", 2, 55,
       "must be an integer"},
      {kHeader + "a = rasp.numerical(rasp.numerical(rasp.Map(lambda x: x + 1, rasp.tokens)))\nprogram = a\n", 2,
       20, "one encoding per statement"},
      {"import os\n", 1, 8, "expected '='"},
      {"", 1, 1, "missing `program"},
  };
  test::expect_rejected([](const std::string& t) { return parse(t); }, bad);
}

// ---------------------------------------------------------------------------------------------------------
// Canonical form and tokens

TEST(Tokens, TheIssueExample) {
  const Program p = parse(test::slurp(std::string(MM_CASES_DIR) + "/rasp/reverse.py"));
  const std::vector<std::string> want = {
      "SequenceMap", "categorical", "x-y",   "length",  "indices", "<sep>", "Map",       "categorical",
      "x-1",         "v1",          "<sep>", "Select",  "indices", "v2",    "EQ",        "<sep>",
      "Aggregate",   "categorical", "v3",    "tokens",  "<sep>"};
  EXPECT_EQ(tokenize(p), want);
  EXPECT_EQ(detokenize(want), p);
}

TEST(Tokens, OneProgramOneSequenceWhateverTheOrderNamesDeadCodeOrRepeats) {
  const std::string a = kHeader +
                        "x = rasp.Map(lambda x: x + 1, rasp.tokens)\n"
                        "y = rasp.Map(lambda x: x == 2, rasp.indices)\n"
                        "z = rasp.SequenceMap(lambda x, y: x + y, x, y)\n"
                        "program = z\n";
  const std::string b = kHeader +
                        "dead = rasp.Map(lambda x: -x, rasp.length)\n"
                        "q = rasp.Map(lambda x: x == 2, rasp.indices)\n"
                        "p = rasp.Map(lambda x: x + 1, rasp.tokens)\n"
                        "p2 = rasp.Map(lambda x: x + 1, rasp.tokens)\n"
                        "r = rasp.SequenceMap(lambda x, y: x + y, p2, q)\n"
                        "program = r\n";
  EXPECT_EQ(tokenize(parse(a)), tokenize(parse(b)));
  EXPECT_EQ(canonicalize(parse(a)), canonicalize(parse(b)));
  EXPECT_EQ(canonicalize(parse(b)).statements.size(), 3u);
  EXPECT_NE(parse(a), parse(b));
}

TEST(Tokens, DetokenizeRejectsMalformedSequencesWithThePosition) {
  struct Bad {
    std::vector<std::string> tokens;
    int position;
  };
  const std::vector<Bad> bad = {
      {{}, 1},
      {{"Map", "categorical", "x+1", "tokens"}, 5},
      {{"Map", "categorical", "x+1", "v1", "<sep>"}, 4},
      {{"Map", "categorical", "x+y", "tokens", "<sep>"}, 3},
      {{"Map", "fancy", "x+1", "tokens", "<sep>"}, 2},
      {{"Select", "tokens", "tokens", "EQ", "<sep>"}, 5},
      {{"Select", "tokens", "tokens", "EQ", "<sep>", "Map", "categorical", "x+1", "v1", "<sep>"}, 9},
      {{"Aggregate", "categorical", "tokens", "tokens", "<sep>"}, 3},
      {{"<bos>", "Map", "categorical", "x+1", "tokens", "<sep>"}, 1},
      {{"LinearSequenceMap", "categorical", "tokens", "indices", "coef=9", "coef=1", "<sep>"}, 5},
      // Until session 15, any unknown token where a reference belongs was read as indices.
      {{"Map", "categorical", "x+1", "garbage", "<sep>"}, 4},
      {{"Map", "categorical", "x+1", "<sep>"}, 4},
  };
  for (const auto& b : bad) {
    try {
      detokenize(b.tokens);
      ADD_FAILURE() << "accepted a sequence of " << b.tokens.size() << " tokens";
    } catch (const ParseError& e) {
      EXPECT_EQ(e.line, 0);
      EXPECT_EQ(e.column, b.position) << e.what();
    }
  }
}

TEST(Tokens, VocabularyIsDuplicateFreeAndStartsWithTheSpecials) {
  const auto& v = vocabulary();
  EXPECT_EQ(std::set<std::string>(v.begin(), v.end()).size(), v.size());
  EXPECT_EQ(v[kPadId], "<pad>");
  EXPECT_EQ(v[kBosId], "<bos>");
  EXPECT_EQ(v[kEosId], "<eos>");
}

// ---------------------------------------------------------------------------------------------------------
// The printed text is tracr-style Python that means what our evaluator computes: python3 executes it
// against tests/tracr_shim (tracr's evaluation rules; tracr itself cannot be installed here).

TEST(PrintedPython, RunsUnderPython3WithTracrsRulesAndAgreesWithTheEvaluator) {
  Rng rng(77);
  const InputDomain domain = language().default_domain();
  SampleConfig config;
  config.domain = domain;
  Sampler sampler(language(), config);
  std::vector<Program> programs;
  for (int k = 0; k < 200; ++k) programs.push_back(parse(sampler.next(rng)->text()));
  for (int k = 0; k < 200; ++k) {  // unfiltered, so that some raise
    Program p = generate(rng, 2, 6);
    if (!p.statements.empty()) programs.push_back(p);
  }
  std::vector<std::string> sources;
  std::vector<std::vector<Input>> inputs;
  for (const Program& p : programs) {
    sources.push_back(print(p));
    inputs.emplace_back();
    for (int k = 0; k < 20; ++k) inputs.back().push_back(domain.sample(rng));
  }
  const std::string data = test::temp_path(".json"), script = test::temp_path(".py");
  test::write_file(data, nlohmann::json({{"sources", sources}, {"inputs", inputs}}).dump());
  test::write_file(script, R"(import json, sys
sys.path.insert(0, sys.argv[2])
d = json.load(open(sys.argv[1]))
def show(v):
    if v is None: return 'n'
    if isinstance(v, bool): v = int(v)
    return ('i:%d' % v) if isinstance(v, int) else ('f:' + repr(v))
for src, xs in zip(d['sources'], d['inputs']):
    ns = {}
    exec(src, ns)
    for x in xs:
        try:
            print(' '.join(show(v) for v in ns['program'](x)))
        except Exception as e:
            print('error')
)");
  const test::Ran r = test::run_shell(std::string(MM_PYTHON3) + " " + script + " " + data + " " +
                                      std::string(MM_CASES_DIR) + "/../tracr_shim");
  std::remove(data.c_str());
  std::remove(script.c_str());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Python prints each value as n, i:<int> or f:<repr>; repr reads back to the exact double.
  auto same = [](const std::vector<Value>& ours, const std::string& line) {
    std::istringstream in(line);
    size_t k = 0;
    for (std::string t; in >> t; ++k) {
      if (k >= ours.size()) return false;
      const Value& v = ours[k];
      if (t == "n" ? !v.is_none()
                   : t.rfind("i:", 0) == 0 ? v.kind != Value::Kind::Int || v.i != std::stoll(t.substr(2))
                                           : v.kind != Value::Kind::Float || v.f != std::strtod(t.c_str() + 2, nullptr))
        return false;
    }
    return k == ours.size();
  };
  std::istringstream lines(r.out);
  int raised = 0, compared = 0;
  for (size_t k = 0; k < programs.size(); ++k)
    for (const Input& x : inputs[k]) {
      std::string line;
      ASSERT_TRUE(std::getline(lines, line));
      try {
        const std::vector<Value> ours = evaluate(programs[k], x);
        EXPECT_TRUE(same(ours, line)) << sources[k] << "on " << nlohmann::json(x).dump() << ": ours "
                                      << values_to_json(ours) << ", python " << line;
      } catch (const EvalError& e) {
        EXPECT_EQ(line, "error") << sources[k] << "on " << nlohmann::json(x).dump() << ": ours raised " << e.what();
        ++raised;
      }
      ++compared;
    }
  EXPECT_EQ(compared, static_cast<int>(programs.size()) * 20);
  EXPECT_GT(raised, 0);
}

// ---------------------------------------------------------------------------------------------------------
// The sampler

TEST(Sample, ThousandProgramsRoundTripThroughTextAndTokens) {
  const Language& lang = language();
  SampleConfig config;
  config.domain = lang.default_domain();
  Sampler sampler(lang, config);
  Rng rng(2024);
  const auto& vocab = vocabulary();
  const std::set<std::string> vocab_set(vocab.begin(), vocab.end());
  std::set<std::string> distinct;
  for (int k = 0; k < 1000; ++k) {
    const auto handle = sampler.next(rng);
    const Program p = parse(handle->text());
    const std::string text = print(p);
    ASSERT_EQ(text, handle->text());
    ASSERT_EQ(print(parse(text)), text) << text;
    const auto tokens = tokenize(p);
    ASSERT_EQ(detokenize(tokens), p) << text;
    ASSERT_EQ(handle->tokens(), tokens);
    for (const auto& t : tokens) ASSERT_TRUE(vocab_set.count(t)) << t;
    distinct.insert(text);
  }
  EXPECT_GT(distinct.size(), 900u);  // the sampler explores, it does not repeat itself
}

TEST(Sample, DeterministicForASeed) {
  const Language& lang = language();
  SampleConfig config;
  config.domain = lang.default_domain();
  auto draw = [&](uint64_t seed) {
    Sampler s(lang, config);
    Rng rng(seed);
    std::vector<std::string> texts;
    for (int k = 0; k < 20; ++k) texts.push_back(s.next(rng)->text());
    return texts;
  };
  EXPECT_EQ(draw(5), draw(5));
  EXPECT_NE(draw(5), draw(6));
}

TEST(Sample, SampledProgramsUseEveryStatementAndRespectSizes) {
  Rng rng(3);
  for (int k = 0; k < 300; ++k) {
    const Program p = generate(rng, 2, 6);
    if (p.statements.empty()) continue;
    EXPECT_GE(p.statements.size(), 2u);
    std::vector<int> uses(p.statements.size(), 0);
    for (const auto& s : p.statements) {
      if (s.a >= 0) ++uses[static_cast<size_t>(s.a)];
      if (arity(s.op) == 2 && s.b >= 0) ++uses[static_cast<size_t>(s.b)];
    }
    for (size_t i = 0; i + 1 < uses.size(); ++i) EXPECT_GT(uses[i], 0) << print(p);
    EXPECT_EQ(uses.back(), 0);
    EXPECT_EQ(p.output, static_cast<int>(p.statements.size()) - 1);
  }
}

}  // namespace mm::rasp
