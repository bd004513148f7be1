// Grammar-constrained decoding's foundation, Language::next_token_ids, for both languages: every sampled
// program's tokens are allowed one by one; decoding from random logits, masked to the allowed tokens,
// always ends in a program that detokenizes (the mapper's decoder relies on exactly this); prefixes that
// begin no program are refused.
#include <gtest/gtest.h>

#include <algorithm>

#include "core/error.h"
#include "core/language.h"
#include "core/rng.h"
#include "core/sample.h"

namespace mm {

namespace {

class Grammar : public ::testing::TestWithParam<const char*> {
 protected:
  const Language& lang() const { return language_by_name(GetParam()); }
  // list-Python's programs are ~200 tokens (RASP's ~30), so fewer.
  int trials(int rasp) const { return std::string(GetParam()) == "rasp" ? rasp : rasp / 8; }
};

bool contains(const std::vector<int>& ids, int id) { return std::binary_search(ids.begin(), ids.end(), id); }

}  // namespace

TEST_P(Grammar, EverySampledProgramIsAllowedTokenByToken) {
  const Language& l = lang();
  const auto& vocab = l.vocabulary();
  Sampler sampler(l, SampleConfig{});
  Rng rng(5);
  for (int k = 0; k < trials(40); ++k) {
    const auto program = sampler.next(rng);
    const std::vector<std::string> tokens = program->tokens();
    for (size_t t = 0; t <= tokens.size(); ++t) {
      const std::vector<int> allowed = l.next_token_ids(std::span(tokens).first(t));
      ASSERT_FALSE(allowed.empty());
      const int want = t < tokens.size() ? static_cast<int>(std::find(vocab.begin(), vocab.end(), tokens[t]) - vocab.begin()) : 2;
      EXPECT_TRUE(contains(allowed, want)) << "token " << t << " of\n" << program->text();
      EXPECT_FALSE(contains(allowed, 0) || contains(allowed, 1)) << "<pad> and <bos> are never allowed";
    }
  }
}

// The decoder's loop with random logits: argmax over the allowed tokens only, until <eos>.
TEST_P(Grammar, DecodingFromRandomLogitsAlwaysParses) {
  const Language& l = lang();
  const auto& vocab = l.vocabulary();
  Rng rng(11);
  size_t longest = 0;
  for (int k = 0; k < trials(300); ++k) {
    std::vector<std::string> seq;
    for (;;) {
      const std::vector<int> allowed = l.next_token_ids(seq);
      ASSERT_FALSE(allowed.empty()) << "dead end after " << seq.size() << " tokens";
      int best = -1;
      double best_logit = -1e9;
      for (int id : allowed) {
        const double logit = rng.uniform01() * 4 - 2 + (id == 2 ? 0.5 : 0.0);  // a slight pull to stop
        if (logit > best_logit) best_logit = logit, best = id;
      }
      if (best == 2) break;
      seq.push_back(vocab[static_cast<size_t>(best)]);
      ASSERT_LT(seq.size(), 2000u) << "decoding did not end";
    }
    longest = std::max(longest, seq.size());
    try {
      const auto p = l.detokenize(seq);
      EXPECT_FALSE(p->text().empty());
    } catch (const ParseError& e) {
      ADD_FAILURE() << "a decoded sequence did not parse: " << e.what();
    }
  }
  EXPECT_GT(longest, 10u);
}

TEST_P(Grammar, APrefixThatBeginsNoProgramIsRefused) {
  const Language& l = lang();
  const std::vector<std::string> bad = {"return", "return"};
  EXPECT_THROW(l.next_token_ids(bad), ParseError);
  const std::vector<std::string> unknown = {"no-such-token"};
  EXPECT_THROW(l.next_token_ids(unknown), ParseError);
  if (l.name() == "rasp") {  // found by fuzz_detokenize: an operation that needs a selector, with none defined
    const std::vector<std::string> dead_end = {"SelectorWidth"};
    EXPECT_THROW(l.next_token_ids(dead_end), ParseError);
  }
}

INSTANTIATE_TEST_SUITE_P(BothLanguages, Grammar, ::testing::Values("rasp", "python"));

// list-Python's next_token_ids parses the prefix once, collecting the tokens the parser tested the end of
// input against, and tries only those. The reference tries every token of the vocabulary: a token is
// allowed when prefix + token parses or fails only at its end. Checked on every prefix of sampled programs
// and of random walks through the grammar (which reach the limits on loops and bodies more often).
TEST(GrammarPython, AllowedTokensAreExactlyThoseThatKeepTheParseAlive) {
  const Language& l = language_by_name("python");
  const auto& vocab = l.vocabulary();
  auto reference = [&](std::vector<std::string> seq) {
    std::vector<int> out;
    try {
      l.detokenize(seq);
      out.push_back(2);
    } catch (const ParseError&) {
    }
    seq.emplace_back();
    for (size_t k = 3; k < vocab.size(); ++k) {
      seq.back() = vocab[k];
      try {
        l.detokenize(seq);
        out.push_back(static_cast<int>(k));
      } catch (const ParseError& e) {
        if (e.column == static_cast<int>(seq.size() + 1)) out.push_back(static_cast<int>(k));
      }
    }
    return out;
  };
  Sampler sampler(l, SampleConfig{});
  Rng rng(23);
  int prefixes = 0;
  for (int k = 0; k < 12; ++k) {
    std::vector<std::string> walk;
    const std::vector<std::string> sampled = sampler.next(rng)->tokens();
    for (size_t t = 0; t <= sampled.size(); ++t) {
      const std::vector<std::string> prefix(sampled.begin(), sampled.begin() + static_cast<long>(t));
      ASSERT_EQ(l.next_token_ids(prefix), reference(prefix)) << "after " << t << " tokens of a sampled program";
      ++prefixes;
    }
    for (;;) {
      const std::vector<int> want = reference(walk);
      ASSERT_EQ(l.next_token_ids(walk), want) << "after " << walk.size() << " tokens of a random walk";
      ++prefixes;
      ASSERT_FALSE(want.empty());
      // Stop with probability 1/2 where allowed, else a uniformly chosen allowed token.
      const int pick = want[rng.uniform_int(0, static_cast<int64_t>(want.size()) - 1)];
      if (want[0] == 2 && (pick == 2 || rng.uniform01() < 0.5)) break;
      if (pick == 2) continue;
      walk.push_back(vocab[static_cast<size_t>(pick)]);
    }
  }
  EXPECT_GT(prefixes, 1000);
}

}  // namespace mm
