// GPT-2 BPE: known GPT-2 token ids, and agreement with the npm package's own JavaScript encoder (node,
// an independent implementation) on printed programs of both languages and on awkward strings.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/rng.h"
#include "core/sample.h"
#include "eval/gpt2_bpe.h"
#include "test_util.h"

namespace mm {

namespace {

const Gpt2Bpe& bpe() {
  static const Gpt2Bpe b = Gpt2Bpe::load(Gpt2Bpe::default_dir());
  return b;
}

}  // namespace

TEST(Gpt2Bpe, KnownTokenIds) {
  EXPECT_EQ(bpe().vocabulary_size(), 50257u);
  EXPECT_EQ(bpe().encode("Hello world"), (std::vector<int>{15496, 995}));
  EXPECT_EQ(bpe().encode("hello world"), (std::vector<int>{31373, 995}));
  EXPECT_EQ(bpe().decode(bpe().encode("def random_function(arr):\n    return out\n")),
            "def random_function(arr):\n    return out\n");
}

TEST(Gpt2Bpe, PretokenizationFollowsGpt2sPattern) {
  EXPECT_EQ(Gpt2Bpe::pretokenize("I'm here  now\n\n x's 123abc !!"),
            (std::vector<std::string>{"I", "'m", " here", " ", " now", "\n\n", " x", "'s", " 123", "abc", " !!"}));
  EXPECT_EQ(Gpt2Bpe::pretokenize("a   \n"), (std::vector<std::string>{"a", "   \n"}));
}

// Every printed program of 300 sampled per language, plus awkward strings, against node's encoder.
TEST(Gpt2Bpe, AgreesWithTheNpmPackagesJavaScriptEncoder) {
  std::vector<std::string> texts = {"", " ", "  leading", "trailing  ", "tabs\tand\nnewlines\r\n", "x' 's 're've'll'd'",
                                    "don't", "1234567890", "a1b2 c3", "(i + 1) % len(out)", "===!=<>", "café naïve"};
  for (const char* lang_name : {"rasp", "python"}) {
    const Language& lang = language_by_name(lang_name);
    SampleConfig sc;
    sc.domain = lang.default_domain();
    Sampler sampler(lang, sc);
    Rng rng(3);
    for (int k = 0; k < 300; ++k) texts.push_back(sampler.next(rng)->text());
  }
  const std::string data = test::temp_path(".json"), script = test::temp_path(".js");
  test::write_file(data, nlohmann::json(texts).dump());
  test::write_file(script, "const {encode} = require(" + nlohmann::json(Gpt2Bpe::default_dir()).dump() +
                               ");\nconst texts = JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8'));\n"
                               "console.log(JSON.stringify(texts.map(t => encode(t))));\n");
  const test::Ran r = test::run_shell("node " + script + " " + data);
  std::remove(data.c_str());
  std::remove(script.c_str());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto expected = nlohmann::json::parse(r.out);
  ASSERT_EQ(expected.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i)
    EXPECT_EQ(bpe().encode(texts[i]), expected[i].get<std::vector<int>>()) << texts[i];
}

}  // namespace mm
