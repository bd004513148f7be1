// What the pipeline needs of a program language, as one interface with one implementation per language
// (rasp::language(), listpy::language()), so that sampling, training, decoding and scoring are written
// once. A Program is an immutable, canonical program; a Language makes them (parse, sample, detokenize).
// The interface deals in text, tokens and values only; the ASTs stay inside each language.
#pragma once

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/domain.h"
#include "core/value.h"

namespace mm {

class Rng;

class Program {
 public:
  virtual ~Program() = default;
  // The canonical text form; the language's parser reads it back to the same program.
  virtual std::string text() const = 0;
  // The canonical token sequence; the language's detokenizer reads it back to the same program.
  virtual std::vector<std::string> tokens() const = 0;
  // Output on one input (same length as the input). Throws EvalError where the program cannot run.
  virtual std::vector<Value> evaluate(std::span<const int64_t> input) const = 0;
};

// Outputs of a program on each input; an empty row where it raised.
using Outputs = std::vector<std::vector<Value>>;
Outputs run_on(const Program& program, const std::vector<Input>& inputs);

// Knobs of a language's random generator. 0 means "the language's default".
struct GenerateConfig {
  int size_min = 0;  // RASP: number of initial operations (default 2); list-Python: outer loops (1)
  int size_max = 0;  // RASP: (default 6); list-Python: (default 3)
};

// The ids every language's vocabulary() starts with: no program contains them, every sequence model needs them.
constexpr int kPadId = 0;
constexpr int kBosId = 1;
constexpr int kEosId = 2;

class Language {
 public:
  virtual ~Language() = default;
  virtual std::string_view name() const = 0;  // "rasp" or "python"
  virtual InputDomain default_domain() const = 0;
  virtual GenerateConfig default_generate_config() const = 0;
  virtual int max_size() const = 0;  // the largest size_max the generator accepts

  // Throws ParseError with line and column.
  virtual std::unique_ptr<Program> parse(std::string_view text) const = 0;
  // Throws ParseError with the token position (line 0).
  virtual std::unique_ptr<Program> detokenize(std::span<const std::string> tokens) const = 0;
  // Every token tokens() can produce, in a fixed order; index = token id. Ids 0, 1, 2 are <pad>,
  // <bos>, <eos> (kPadId, kBosId, kEosId), which no program contains but every sequence model needs.
  virtual const std::vector<std::string>& vocabulary() const = 0;
  // Grammar-constrained decoding: ids of the tokens that may follow `prefix` (program tokens, no <bos>)
  // on the way to a program that detokenizes, <eos> (kEosId) among them when `prefix` is one already. Every
  // allowed token leads on to a complete program, so decoding that only picks allowed tokens always ends
  // in a program that parses. Throws ParseError if `prefix` begins no program.
  virtual std::vector<int> next_token_ids(std::span<const std::string> prefix) const = 0;
  // For a decoder running out of its token budget: tokens to prefer, most preferred first, so that a
  // prefix is finished in at most closing_margin() more tokens by always taking the first allowed one
  // (and otherwise any allowed token but the openers, e.g. another loop).
  virtual const std::vector<std::string>& closing_preference() const = 0;
  virtual const std::vector<std::string>& openers() const = 0;
  virtual int closing_margin() const = 0;
  // Decoding to a given size. statement_count: how many statements `tokens` (a program, in this
  // language's order) has; 0 where the language does not count them (list-Python). toward_statements: of
  // `allowed` (next_token_ids(prefix)), the tokens after which a program of exactly `statements` statements
  // can still be finished; `allowed` itself where the language does not count statements or none of them
  // keeps the count reachable (so a decoder always has a token to take).
  virtual int statement_count(std::span<const std::string> tokens) const {
    (void)tokens;
    return 0;
  }
  virtual std::vector<int> toward_statements(std::span<const std::string> prefix, const std::vector<int>& allowed,
                                             int statements) const {
    (void)prefix;
    (void)statements;
    return allowed;
  }
  // Repair's larger moves (src/decompile/repair.h): programs one structural step from `tokens` — e.g.
  // drop an operation, insert one, return an earlier value — each as canonical tokens with what the step
  // did. Empty where the language has none, or when `tokens` does not detokenize.
  struct StructuralEdit {
    std::vector<std::string> tokens;
    std::string what;  // "bypass v3 (its readers read v2)"
  };
  virtual std::vector<StructuralEdit> structural_edits(std::span<const std::string> tokens) const {
    (void)tokens;
    return {};
  }
  // Reduction's moves (core/reduce.h), of which it keeps those with fewer tokens: the structural edits,
  // and for RASP also every s-op replaced by an earlier one or a primitive, and every SequenceMap made a
  // Map of one operand (equal ones merged, constants folded, where the outputs stay the same).
  virtual std::vector<StructuralEdit> reductions(std::span<const std::string> tokens) const { return structural_edits(tokens); }
  // The same language spelled in another token order, for a mapper to write programs in: "canonical" (the
  // language itself) or, for RASP, "output-first" (rasp.h: the output statement first, then what it reads,
  // breadth first). The vocabulary is the same; that language's detokenize and next_token_ids read its
  // order and spell() writes it, while the programs it makes keep canonical tokens(). Throws mm::Error
  // naming the orders there are.
  virtual std::vector<std::string> orders() const { return {"canonical"}; }
  virtual const Language& in_order(std::string_view order) const;
  // A program's tokens in this language's order (its canonical tokens() unless in_order gave another).
  virtual std::vector<std::string> spell(const Program& program) const { return program.tokens(); }
  // One random program from the paper's procedure (Appendix B), before any behavioural filter; null when
  // the procedure gave up on this draw (e.g. the program grew past the largest size).
  virtual std::unique_ptr<Program> generate(Rng& rng, const GenerateConfig& config) const = 0;
};

// The ids of `tokens` in `vocabulary`, sorted (a token not in it is a bug: std::logic_error).
inline std::vector<int> token_ids(const std::vector<std::string>& vocabulary, const std::vector<std::string>& tokens) {
  std::vector<int> ids;
  ids.reserve(tokens.size());
  for (const std::string& t : tokens) {
    const auto it = std::find(vocabulary.begin(), vocabulary.end(), t);
    if (it == vocabulary.end()) throw std::logic_error("token '" + t + "' is not in the vocabulary");
    ids.push_back(static_cast<int>(it - vocabulary.begin()));
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

// "rasp" or "python"; throws mm::Error naming the choices otherwise.
const Language& language_by_name(std::string_view name);
std::vector<std::string> language_names();

}  // namespace mm
