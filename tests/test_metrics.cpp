// The report's token metrics against hand-computed spellings and counts.
#include <gtest/gtest.h>

#include "core/language.h"
#include "corpus/corpus.h"
#include "eval/metrics.h"

namespace mm {
namespace {

// docs/languages.md's example: v1 = Map(x+1, tokens); v2 = Map(x-1, v1), output v2.
const char* kTarget = "Map categorical x+1 tokens <sep> Map categorical x-1 v1 <sep>";
const char* kTargetOutputFirst = "Map categorical x-1 v2 <sep> Map categorical x+1 tokens <sep>";

TEST(Metrics, OutputFirstSpellingIsTheOneDocumented) {
  const Language& rasp = language_by_name("rasp");
  const Language& spelled = rasp.in_order("output-first");
  EXPECT_EQ(spelled.spell(*rasp.detokenize(split_tokens(kTarget))), split_tokens(kTargetOutputFirst));
}

// One more leaf at the bottom of the chain (Map(x+2, tokens) read by the target's first Map): canonical
// order puts it first, shifting every statement after it; written from the output, only the last reference
// and the extra statement differ.
//   canonical:    Map categorical x+2 tokens <sep> Map categorical x+1 v1 <sep> Map categorical x-1 v2 <sep>
//     against     Map categorical x+1 tokens <sep> Map categorical x-1 v1 <sep>            -> 8 of 10
//   output first: Map categorical x-1 v2 <sep> Map categorical x+1 v3 <sep> Map categorical x+2 tokens <sep>
//     against     Map categorical x-1 v2 <sep> Map categorical x+1 tokens <sep>             -> 9 of 10
TEST(Metrics, OutputFirstTokenAccuracyCountsPositionsOfTheOutputFirstSpellings) {
  const Language& rasp = language_by_name("rasp");
  const std::vector<std::string> target = split_tokens(kTarget);
  const std::vector<std::string> longer =
      split_tokens("Map categorical x+2 tokens <sep> Map categorical x+1 v1 <sep> Map categorical x-1 v2 <sep>");
  EXPECT_DOUBLE_EQ(token_accuracy(longer, target), 0.8);
  EXPECT_DOUBLE_EQ(output_first_token_accuracy(rasp, longer, target), 0.9);
  EXPECT_DOUBLE_EQ(output_first_token_accuracy(rasp, target, target), 1.0);
  // A sequence that does not parse spells nothing: every target token is wrong.
  EXPECT_DOUBLE_EQ(output_first_token_accuracy(rasp, split_tokens("Map categorical x+1"), target), 0.0);
  EXPECT_DOUBLE_EQ(output_first_token_accuracy(rasp, {}, target), 0.0);
}

TEST(Metrics, OutputFirstTokenAccuracyIsAbsentWithoutThatSpelling) {
  const Language& python = language_by_name("python");
  ASSERT_EQ(python.orders(), std::vector<std::string>{"canonical"});
  EXPECT_EQ(output_first_token_accuracy(python, {"x"}, {"x"}), -1);
}

}  // namespace
}  // namespace mm
