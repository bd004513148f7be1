// The modelmap executable: each command works, --help shows every flag with its default, and every
// class of bad input gets exactly one line on stderr and exit code 2.
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "test_util.h"

namespace mm {

namespace {

const std::string kBin = MM_MODELMAP_BIN;
const std::string kCases = MM_CASES_DIR;

test::Ran modelmap(const std::string& args) { return test::run_shell(kBin + " " + args); }

int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

}  // namespace

TEST(Cli, SamplePrintsProgramsThatParseAndJsonLines) {
  const test::Ran text = modelmap("sample --lang rasp --count 3 --seed 7");
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("# program 3 of 3"), std::string::npos);
  EXPECT_EQ(modelmap("sample --lang rasp --count 3 --seed 7").out, text.out);  // deterministic

  const test::Ran jsonl = modelmap("sample --lang python --count 4 --seed 1 --jsonl");
  ASSERT_EQ(jsonl.exit_code, 0) << jsonl.err;
  std::istringstream in(jsonl.out);
  int lines = 0;
  for (std::string line; std::getline(in, line); ++lines) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["lang"], "python");
    EXPECT_TRUE(j["source"].is_string());
    EXPECT_TRUE(j["tokens"].is_array());
    // The printed source runs through `modelmap run`.
    const std::string path = test::temp_path(".py");
    test::write_file(path, j["source"].get<std::string>());
    const test::Ran r = modelmap("run --lang python --program " + path + " --input '[1, 2, 3]'");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::remove(path.c_str());
  }
  EXPECT_EQ(lines, 4);
}

TEST(Cli, RunPrintsTheOutputAsJson) {
  const test::Ran r = modelmap("run --lang rasp --program " + kCases + "/rasp/reverse.py --input '[1,2,3]'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "[3.0, 2.0, 1.0]\n");
  const test::Ran f = modelmap("run --program " + kCases + "/rasp/frac_prevs.py --input '[1,0,1,1]'");
  EXPECT_EQ(f.out, "[1.0, 0.5, 0.666667, 0.75]\n");
  const test::Ran s = modelmap("run --program " + kCases + "/rasp/sort_unique.py --input '[2,2]'");
  EXPECT_EQ(s.out, "[2.0, null]\n");
  // A wider domain on request.
  const test::Ran w = modelmap("run --program " + kCases + "/rasp/histogram.py --input '[7,7,7,7,7,7]' --max-len 6 --max-value 7");
  EXPECT_EQ(w.out, "[6, 6, 6, 6, 6, 6]\n") << w.err;
}

TEST(Cli, TokensAndDetokenizeAreInverse) {
  const test::Ran t = modelmap("tokens --lang rasp --program " + kCases + "/rasp/reverse.py");
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_EQ(t.out, "SequenceMap categorical x-y length indices <sep> Map categorical x-1 v1 <sep> Select indices v2 EQ "
                   "<sep> Aggregate categorical v3 tokens <sep>\n");
  const std::string path = test::temp_path(".txt");
  test::write_file(path, t.out);
  const test::Ran d = modelmap("detokenize --lang rasp --tokens " + path);
  std::remove(path.c_str());
  ASSERT_EQ(d.exit_code, 0) << d.err;
  EXPECT_EQ(d.out, "from tracr.rasp import rasp\n"
                   "v1 = rasp.SequenceMap(lambda x, y: x - y, rasp.length, rasp.indices)\n"
                   "v2 = rasp.Map(lambda x: x - 1, v1)\n"
                   "v3 = rasp.Select(rasp.indices, v2, rasp.Comparison.EQ)\n"
                   "v4 = rasp.Aggregate(v3, rasp.tokens)\n"
                   "program = v4\n");
  // Output first: the Aggregate (the output) is v1 and comes first; read back, the same program.
  const test::Ran of = modelmap("tokens --lang rasp --order output-first --program " + kCases + "/rasp/reverse.py");
  ASSERT_EQ(of.exit_code, 0) << of.err;
  EXPECT_EQ(of.out, "Aggregate categorical v2 tokens <sep> Select indices v3 EQ <sep> Map categorical x-1 v4 <sep> "
                    "SequenceMap categorical x-y length indices <sep>\n");
  const std::string of_path = test::temp_path(".txt");
  test::write_file(of_path, of.out);
  const test::Ran ofd = modelmap("detokenize --lang rasp --order output-first --tokens " + of_path);
  const test::Ran wrong = modelmap("detokenize --lang rasp --tokens " + of_path);  // read in canonical order
  std::remove(of_path.c_str());
  ASSERT_EQ(ofd.exit_code, 0) << ofd.err;
  EXPECT_EQ(ofd.out, d.out);
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_NE(wrong.err.find("token 3: expected a reference to an earlier statement"), std::string::npos) << wrong.err;
}

TEST(Cli, VocabularyListsEveryTokenAProgramUses) {
  for (const char* lang : {"rasp", "python"}) {
    const test::Ran v = modelmap(std::string("tokens --vocabulary --lang ") + lang);
    ASSERT_EQ(v.exit_code, 0) << v.err;
    std::set<std::string> vocab;
    std::istringstream in(v.out);
    for (std::string t; std::getline(in, t);) EXPECT_TRUE(vocab.insert(t).second) << "repeated token " << t;
    const test::Ran s = modelmap(std::string("sample --jsonl --count 20 --seed 3 --lang ") + lang);
    ASSERT_EQ(s.exit_code, 0) << s.err;
    std::istringstream lines(s.out);
    for (std::string line; std::getline(lines, line);) {
      const nlohmann::json j = nlohmann::json::parse(line);  // named: a range-for over parse(...)[...] dangles
      for (const auto& t : j["tokens"]) EXPECT_TRUE(vocab.count(t.get<std::string>())) << t;
    }
  }
  const test::Ran neither = modelmap("tokens --lang rasp");
  EXPECT_EQ(neither.exit_code, 2);
  EXPECT_NE(neither.err.find("--program"), std::string::npos) << neither.err;
}

TEST(Cli, HelpOnEveryCommandShowsEveryFlagAndDefault) {
  const test::Ran top = modelmap("--help");
  EXPECT_EQ(top.exit_code, 0);
  for (const char* cmd : {"sample", "run", "tokens", "detokenize"}) EXPECT_NE(top.out.find(cmd), std::string::npos) << cmd;
  const test::Ran sample = modelmap("sample --help");
  EXPECT_EQ(sample.exit_code, 0);
  for (const char* flag : {"--lang", "=rasp", "--count", "=5", "--seed", "=0", "--jsonl", "--stats", "--min-size",
                           "--max-size", "--min-len", "--max-len", "--min-value", "--max-value", "rasp 4, python 9"})
    EXPECT_NE(sample.out.find(flag), std::string::npos) << flag << "\n" << sample.out;
  const test::Ran run = modelmap("run --help");
  for (const char* flag : {"--lang", "--program", "--input", "--max-len"})
    EXPECT_NE(run.out.find(flag), std::string::npos) << flag;
  EXPECT_NE(modelmap("tokens --help").out.find("--program"), std::string::npos);
  EXPECT_NE(modelmap("detokenize --help").out.find("--tokens"), std::string::npos);
}

TEST(Cli, CompileWritesAModelThatPredictsTheProgram) {
  const std::string out = test::temp_path(".safetensors");
  const test::Ran c = modelmap("compile --program " + kCases + "/rasp/sort_unique.py -o " + out);
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_NE(c.err.find("18555 of 18555 positions agree"), std::string::npos) << c.err;
  for (const char* input : {"[3, 1, 4, 0]", "[2, 0, 1]", "[4]"}) {
    const test::Ran p = modelmap("predict --model " + out + " --input '" + input + "'");
    const test::Ran r = modelmap("run --program " + kCases + "/rasp/sort_unique.py --input '" + input + "'");
    EXPECT_EQ(p.out, r.out) << input << p.err;
  }
  std::remove(out.c_str());
}

// Every class of bad input: exit 2, one line on stderr naming the problem, nothing on stdout.
TEST(Cli, BadInputGetsOneLineAndExitCodeTwo) {
  const std::string bad_parse = test::temp_path(".py");
  test::write_file(bad_parse, "from tracr.rasp import rasp\nv1 = rasp.Map(lambda x: x + 1, rasp.tokens\nprogram = v1\n");
  const std::string bad_fn = test::temp_path(".py");
  test::write_file(bad_fn, "from tracr.rasp import rasp\nv1 = rasp.Map(lambda x: x ** 2, rasp.tokens)\nprogram = v1\n");
  const std::string bad_py = test::temp_path(".py");
  test::write_file(bad_py, "def random_function(arr):\n    n = len(arr)\n    out = [0] * n\n    while True:\n");
  const std::string raises = test::temp_path(".py");
  test::write_file(raises, "def random_function(arr):\n    n = len(arr)\n    out = [0] * n\n"
                           "    for i in range(0, 5):\n        if arr[(i)] % 2 == 0:\n"
                           "            out[(i) % len(out)] = arr[(i) % len(arr)]\n    return out\n");
  const std::string binary = test::temp_path(".bin");
  test::write_file(binary, std::string("\x00\xff\xfe garbage", 11));
  const std::string reverse = kCases + "/rasp/reverse.py";
  const std::string averages = test::temp_path(".py");  // a categorical Aggregate of differing values
  test::write_file(averages, "from tracr.rasp import rasp\nv1 = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.LT)\n"
                             "v2 = rasp.Aggregate(v1, rasp.tokens)\nprogram = v2\n");
  const std::string out_model = test::temp_path(".safetensors");
  struct Case {
    std::string args;
    std::string part;  // what the message must mention
  };
  const std::vector<Case> cases = {
      {"run --program " + bad_parse + " --input '[1]'", "line 3, column 1: expected ')'"},
      {"run --program " + bad_fn + " --input '[1]'", "unknown map function"},
      {"run --lang python --program " + bad_py + " --input '[1]'", "line 4, column 5"},
      {"tokens --program " + bad_fn, "unknown map function"},
      {"run --program " + binary + " --input '[1]'", "unexpected character"},
      {"run --program " + reverse + " --input '[1, 9]'", "outside"},
      {"run --program " + reverse + " --input '[1,2,3,4,5,6]'", "length 6"},
      {"run --program " + reverse + " --input '[]'", "length 0"},
      {"run --program " + reverse + " --input '[1,'", "not valid JSON"},
      {"run --program " + reverse + " --input '[\"a\"]'", "not an integer"},
      {"run --lang python --program " + raises + " --input '[1,2]'", "IndexError"},
      {"run --program /nonexistent/prog.py --input '[1]'", "cannot read"},
      {"tokens --program /nonexistent/prog.py", "cannot read"},
      {"detokenize --tokens /nonexistent/tokens.txt", "cannot read"},
      {"tokens --lang python --order output-first --program " + bad_py, "no token order 'output-first'"},
      {"tokens --order backwards --program " + reverse, "backwards"},
      {"sample --frobnicate", "frobnicate"},
      {"sample --lang cobol", "cobol"},
      {"sample --count 0", "count"},
      {"sample --count many", "count"},
      {"sample --max-len 100", "length"},
      {"sample --min-value 5 --max-value 1", "maximum value"},
      {"sample --min-size 5 --max-size 2", "size range"},
      {"run --program " + reverse, "--input"},
      {"compile --program " + averages + " -o " + out_model, "v2: a categorical Aggregate averages differing values"},
      {"compile --program " + bad_fn + " -o " + out_model, "unknown map function"},
      {"compile --program " + reverse, "--out"},
      {"compile --program " + reverse + " -o " + out_model + " --max-len 9 --max-value 9", "enumerates it"},
      {"explode", "explode"},
      {"", "subcommand"},
  };
  for (const auto& c : cases) {
    const test::Ran r = modelmap(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << c.args << "\n" << r.err;
    EXPECT_EQ(r.err.rfind("modelmap: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(c.part), std::string::npos) << c.args << "\n" << r.err;
    EXPECT_TRUE(r.out.empty()) << c.args << "\n" << r.out;
  }
  for (const auto& p : {bad_parse, bad_fn, bad_py, raises, binary, averages, out_model}) std::remove(p.c_str());
}

}  // namespace mm

namespace mm {

// CI must prove what a new user gets: .ci/run runs the README's test command, verbatim.
TEST(Readme, CiRunsTheReadmesTestCommand) {
  const std::string root = kCases + "/../..";
  const std::string readme = test::slurp(root + "/README.md");
  const auto marker = readme.find("# 2.");
  ASSERT_NE(marker, std::string::npos) << "README lost its '# 2.' test command";
  const auto begin = readme.find('\n', marker) + 1;
  const std::string command = readme.substr(begin, readme.find('\n', begin) - begin);
  ASSERT_NE(command.find("ctest"), std::string::npos) << command;
  const std::string ci = test::slurp(root + "/.ci/run");
  EXPECT_NE(ci.find("\n" + command + "\n"), std::string::npos) << "'" << command << "' is not a line of .ci/run";
}

}  // namespace mm
