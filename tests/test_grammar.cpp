// Grammar-constrained decoding's foundation, Language::next_token_ids, for both languages: every sampled
// program's tokens are allowed one by one; decoding from random logits, masked to the allowed tokens,
// always ends in a program that detokenizes (the mapper's decoder relies on exactly this); prefixes that
// begin no program are refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <functional>

#include "core/error.h"
#include "core/language.h"
#include "core/rng.h"
#include "core/sample.h"

namespace mm {

namespace {

// A language by name, or "rasp output-first": RASP spelled in the order a mapper may be trained to write.
const Language& language_or_order(const std::string& param) {
  const auto space = param.find(' ');
  if (space == std::string::npos) return language_by_name(param);
  return language_by_name(param.substr(0, space)).in_order(param.substr(space + 1));
}

class Grammar : public ::testing::TestWithParam<const char*> {
 protected:
  const Language& lang() const { return language_or_order(GetParam()); }
  // list-Python's programs are ~200 tokens (RASP's ~30), so fewer.
  int trials(int rasp) const { return std::string(GetParam()) == "python" ? rasp / 8 : rasp; }
};

bool contains(const std::vector<int>& ids, int id) { return std::binary_search(ids.begin(), ids.end(), id); }

// The decoder's loop with random logits: argmax over the tokens `allowed_after(seq)` gives, until <eos>,
// into `seq`. Fails fatally at a dead end or past 2,000 tokens: call it under ASSERT_NO_FATAL_FAILURE.
void decode_at_random(const Language& l, Rng& rng,
                      const std::function<std::vector<int>(const std::vector<std::string>&)>& allowed_after,
                      std::vector<std::string>& seq) {
  seq.clear();
  for (;;) {
    const std::vector<int> allowed = allowed_after(seq);
    ASSERT_FALSE(allowed.empty()) << "dead end after " << seq.size() << " tokens";
    int best = -1;
    double best_logit = -1e9;
    for (int id : allowed) {
      const double logit = rng.uniform01() * 4 - 2 + (id == 2 ? 0.5 : 0.0);  // a slight pull to stop
      if (logit > best_logit) best_logit = logit, best = id;
    }
    if (best == 2) return;
    seq.push_back(l.vocabulary()[static_cast<size_t>(best)]);
    ASSERT_LT(seq.size(), 2000u) << "decoding did not end";
  }
}

}  // namespace

TEST_P(Grammar, EverySampledProgramIsAllowedTokenByToken) {
  const Language& l = lang();
  const auto& vocab = l.vocabulary();
  Sampler sampler(l, SampleConfig{});
  Rng rng(5);
  for (int k = 0; k < trials(40); ++k) {
    const auto program = sampler.next(rng);
    const std::vector<std::string> tokens = l.spell(*program);
    for (size_t t = 0; t <= tokens.size(); ++t) {
      const std::vector<int> allowed = l.next_token_ids(std::span(tokens).first(t));
      ASSERT_FALSE(allowed.empty());
      const int want = t < tokens.size() ? static_cast<int>(std::find(vocab.begin(), vocab.end(), tokens[t]) - vocab.begin()) : 2;
      EXPECT_TRUE(contains(allowed, want)) << "token " << t << " of\n" << program->text();
      EXPECT_FALSE(contains(allowed, 0) || contains(allowed, 1)) << "<pad> and <bos> are never allowed";
    }
  }
}

// decode_at_random over the grammar's allowed tokens: every decoding ends in a program that parses.
TEST_P(Grammar, DecodingFromRandomLogitsAlwaysParses) {
  const Language& l = lang();
  Rng rng(11);
  size_t longest = 0;
  for (int k = 0; k < trials(300); ++k) {
    std::vector<std::string> seq;
    ASSERT_NO_FATAL_FAILURE(decode_at_random(l, rng, [&](const std::vector<std::string>& s) { return l.next_token_ids(s); }, seq));
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

// Decoding held to a number of statements (Language::toward_statements, what `eval --statements` uses):
// it never refuses the token a program of that many statements has next, and decoding from random logits
// under it ends in a program that parses and has exactly that many (in the order written; canonical form
// may merge two equal statements, never add one). list-Python counts no statements: nothing changes.
TEST_P(Grammar, DecodingHeldToAStatementCountWritesThatMany) {
  const Language& l = lang();
  const auto& vocab = l.vocabulary();
  Sampler sampler(l, SampleConfig{});
  Rng rng(17);
  for (int k = 0; k < trials(40); ++k) {
    const auto program = sampler.next(rng);
    const std::vector<std::string> tokens = l.spell(*program);
    const int n = l.statement_count(tokens);
    if (std::string(GetParam()) == "python") {
      EXPECT_EQ(n, 0);
    } else {
      EXPECT_EQ(n, static_cast<int>(std::count(tokens.begin(), tokens.end(), "<sep>")));
    }
    for (size_t t = 0; t <= tokens.size(); ++t) {
      const auto prefix = std::span(tokens).first(t);
      const std::vector<int> allowed = l.next_token_ids(prefix);
      const std::vector<int> held = l.toward_statements(prefix, allowed, std::max(n, 1));
      ASSERT_FALSE(held.empty());
      for (int id : held) EXPECT_TRUE(contains(allowed, id)) << "toward_statements only removes tokens";
      const int want = t < tokens.size() ? static_cast<int>(std::find(vocab.begin(), vocab.end(), tokens[t]) - vocab.begin()) : 2;
      EXPECT_TRUE(contains(held, want)) << "token " << t << " of a program of " << n << " statements\n" << program->text();
    }
  }
  if (std::string(GetParam()) == "python") return;
  int restricted = 0;  // decodings whose free choice would have had another count
  for (int k = 0; k < trials(200); ++k) {
    const int want = 1 + k % 8;
    std::vector<std::string> seq;
    bool differs = false;
    ASSERT_NO_FATAL_FAILURE(decode_at_random(l, rng, [&](const std::vector<std::string>& s) {
      const std::vector<int> allowed = l.next_token_ids(s);
      const std::vector<int> held = l.toward_statements(s, allowed, want);
      differs |= held != allowed;
      return held;
    }, seq));
    restricted += differs;
    EXPECT_EQ(l.statement_count(seq), want);
    try {
      const auto p = l.detokenize(seq);
      EXPECT_LE(l.statement_count(l.spell(*p)), want);
    } catch (const ParseError& e) {
      ADD_FAILURE() << "a decoded sequence did not parse: " << e.what();
    }
  }
  EXPECT_GT(restricted, trials(200) / 2);  // the constraint did act
}

TEST_P(Grammar, APrefixThatBeginsNoProgramIsRefused) {
  const Language& l = lang();
  const std::vector<std::string> bad = {"return", "return"};
  EXPECT_THROW(l.next_token_ids(bad), ParseError);
  const std::vector<std::string> unknown = {"no-such-token"};
  EXPECT_THROW(l.next_token_ids(unknown), ParseError);
  if (std::string(GetParam()) == "rasp") {  // found by fuzz_detokenize: an operation that needs a selector, with none defined
    const std::vector<std::string> dead_end = {"SelectorWidth"};
    EXPECT_THROW(l.next_token_ids(dead_end), ParseError);
  }
}

INSTANTIATE_TEST_SUITE_P(BothLanguages, Grammar, ::testing::Values("rasp", "python", "rasp output-first"),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace_if(n.begin(), n.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }, '_');
                           return n;
                         });

// list-Python's next_token_ids parses the prefix once, collecting the tokens the parser tested the end of
// input against, and tries only those. The reference tries every token of the vocabulary: a token is
// allowed when prefix + token parses or fails only at its end. Checked on every prefix of sampled programs
// and of random walks through the grammar (which reach the limits on loops and bodies more often).
class GrammarExact : public ::testing::TestWithParam<const char*> {};

TEST_P(GrammarExact, AllowedTokensAreExactlyThoseThatKeepTheParseAlive) {
  const Language& l = language_or_order(GetParam());
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
  const int programs = std::string(GetParam()) == "python" ? 12 : 48;  // RASP's are shorter
  for (int k = 0; k < programs; ++k) {
    std::vector<std::string> walk;
    const std::vector<std::string> sampled = l.spell(*sampler.next(rng));
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

// list-Python's grammar, and RASP's output-first one, whose reader refuses a token exactly where the
// grammar stops allowing it (canonical RASP's reader finds a SelectorWidth with no selector only later).
INSTANTIATE_TEST_SUITE_P(PythonAndRaspOutputFirst, GrammarExact, ::testing::Values("python", "rasp output-first"),
                         [](const auto& info) { return std::string(info.param) == "python" ? std::string("python") : std::string("rasp_output_first"); });

// RASP's output-first order: one spelling per program, as long as the canonical one, read back to it; the
// output's statement comes first; cycles, skipped variable numbers, a selector output and a variable never
// defined are refused where they occur.
TEST(GrammarOutputFirst, EveryProgramHasOneSpellingThatReadsBackToItOutputFirst) {
  const Language& canonical = language_by_name("rasp");
  const Language& of = canonical.in_order("output-first");
  EXPECT_EQ(&of.in_order("canonical"), &canonical);
  EXPECT_EQ(&canonical.in_order("canonical"), &canonical);
  EXPECT_THROW(canonical.in_order("backwards"), Error);
  EXPECT_THROW(language_by_name("python").in_order("output-first"), Error);
  Sampler sampler(canonical, SampleConfig{});
  Rng rng(31);
  int reordered = 0;
  for (int k = 0; k < 300; ++k) {
    const auto program = sampler.next(rng);
    const std::vector<std::string> tokens = program->tokens();
    const std::vector<std::string> spelled = of.spell(*program);
    ASSERT_EQ(spelled.size(), tokens.size()) << program->text();
    EXPECT_EQ(of.detokenize(spelled)->tokens(), tokens) << program->text();
    EXPECT_EQ(of.spell(*of.detokenize(spelled)), spelled);
    // The first statement is the canonical form's last (the output), with the same operation and fields
    // up to its references.
    const auto last = std::find(tokens.rbegin() + 1, tokens.rend(), "<sep>");
    const std::vector<std::string> output_stmt(last.base(), tokens.end());
    ASSERT_FALSE(output_stmt.empty());
    EXPECT_EQ(spelled[0], output_stmt[0]) << program->text();
    reordered += spelled != tokens;
  }
  EXPECT_GT(reordered, 200);  // most programs read in another order
  auto refused_at = [&](std::vector<std::string> seq) {
    try {
      of.detokenize(seq);
    } catch (const ParseError& e) {
      return e.column;
    }
    return 0;
  };
  // v1 reading itself; a skipped number (v3 before v2); a selector as the output; v2 never defined.
  EXPECT_EQ(refused_at({"Map", "categorical", "x+1", "v1", "<sep>"}), 4);
  EXPECT_EQ(refused_at({"Map", "categorical", "x+1", "v3", "<sep>"}), 4);
  EXPECT_EQ(refused_at({"Select", "tokens", "tokens", "EQ", "<sep>"}), 1);
  EXPECT_EQ(refused_at({"Map", "categorical", "x+1", "v2", "<sep>"}), 6);
  // v1 reads v2, and v2 reading v1 would close a cycle; reading tokens it is fine.
  EXPECT_EQ(refused_at({"Map", "categorical", "x+1", "v2", "<sep>", "Map", "categorical", "x+1", "v1", "<sep>"}), 9);
  const std::vector<std::string> two = {"Map", "categorical", "x+1", "v2", "<sep>", "Map", "categorical", "x+1", "tokens", "<sep>"};
  EXPECT_EQ(refused_at(two), 0);
  EXPECT_EQ(of.detokenize(two)->tokens(),
            (std::vector<std::string>{"Map", "categorical", "x+1", "tokens", "<sep>", "Map", "categorical", "x+1", "v1", "<sep>"}));
  EXPECT_THROW(of.next_token_ids(std::vector<std::string>{"Select"}), ParseError);
}

}  // namespace mm
