// RASP in tracr's flavour: the public API of the language. Text form = tracr's Python, so a printed
// program pastes into tracr; tokens = a linearized AST over a small dictionary; evaluation = tracr's
// default evaluator, including where it raises (see docs/languages.md for every such choice).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/language.h"
#include "core/rng.h"
#include "core/value.h"
#include "rasp/ast.h"

namespace mm::rasp {

// Output of `program` on `input`. Throws EvalError where tracr's evaluator would raise: a Select that
// compares None, an Aggregate of several non-integers or of a None among integers; also on integer
// overflow. Only statements the output depends on are evaluated, as in tracr.
std::vector<Value> evaluate(const Program& program, std::span<const int64_t> input);

// Every statement's value on one input, as evaluate computes it: what the compiler reads its value sets
// and lookup tables off. Only statements the output needs are filled; the rest stay empty.
struct Trace {
  std::vector<std::vector<Value>> sops;               // (statements, n): an s-op's value per position
  std::vector<std::vector<unsigned char>> selectors;  // (statements, n * n): a Select's [query * n + key]
};
// Throws EvalError as evaluate does.
Trace trace(const Program& program, std::span<const int64_t> input);

// The canonical text form (v1, v2, ... in definition order).
std::string print(const Program& program);
// Reads the text form with any whitespace, comments and variable names. Throws ParseError.
Program parse(std::string_view text);

// The same computation in canonical form: statements the output does not need are dropped, duplicate
// definitions merged, and the rest put in a canonical topological order (structurally smaller first), so
// that programs differing only in names, order, dead code or repeats become equal.
Program canonicalize(const Program& program);
// Tokens of canonicalize(program).
std::vector<std::string> tokenize(const Program& program);
// The program the tokens spell; the last statement is the output. Throws ParseError (line 0, column =
// token position).
Program detokenize(std::span<const std::string> tokens);
const std::vector<std::string>& vocabulary();
// The tokens that may follow `prefix` (a sequence of tokens without <bos>) on the way to a program that
// detokenizes, "<eos>" among them when `prefix` is one already; in vocabulary order. Never empty for a
// prefix it accepts: every allowed token leads to a complete program. Throws ParseError if `prefix` is
// not the beginning of any program.
std::vector<std::string> next_tokens(std::span<const std::string> prefix);

// The output-first token order, for a mapper to write in (Language::in_order("output-first")): the same
// statements, the output's first, then each statement's inputs in order of first mention, breadth first;
// the k-th statement defines v<k>, so v1 is the output and a reference names a variable mentioned before
// or the next new one. A program has one such spelling (of its canonical form); the order is as long as
// the canonical one. detokenize_output_first reads it back in definition order (refusing cycles and
// variables mentioned but not defined, with the token position); next_tokens_output_first is its grammar,
// with next_tokens's guarantee that every allowed token leads on to a complete program.
std::vector<std::string> tokenize_output_first(const Program& program);
Program detokenize_output_first(std::span<const std::string> tokens);
std::vector<std::string> next_tokens_output_first(std::span<const std::string> prefix);

// Decoding to a given number of statements (Language::toward_statements): of `allowed` (what next_tokens,
// or with `output_first` next_tokens_output_first, gives for `prefix`), the tokens after which a program of
// exactly `statements` statements can still be finished; `allowed` itself where none can. Canonical
// order: <eos> only after that many statements, no statement after them, no selector as the last one.
// Output-first order, where the count is the number of variables mentioned: no new variable once there
// are that many; a new one forced into the last operand slot of the last statement still to write while
// there are fewer.
std::vector<std::string> toward_statements(std::span<const std::string> prefix, const std::vector<std::string>& allowed,
                                           int statements, bool output_first);

// Programs one structural move away, each canonical, with what the move did: return an earlier s-op
// ("output v2"), drop an operation so its readers read its input ("bypass v3 (its readers read v2)"), or
// insert a Map after an s-op ("insert x+1 after v2"). Repair's moves beyond single tokens.
std::vector<std::pair<Program, std::string>> structural_neighbours(const Program& program);
// For reduction (core/reduce.h): every s-op's readers redirected to an earlier s-op or a primitive
// ("replace v4 by v2"), and every SequenceMap / LinearSequenceMap made a Map of one of its operands
// ("fold v3 into x+1 of v2"), each canonical — what reduce keeps where they are equal on the domain.
std::vector<std::pair<Program, std::string>> replacement_neighbours(const Program& program);

// Throws mm::Error naming the statement if the program is malformed: a ref to a later statement, a
// selector where an s-op belongs (or the reverse), a function of the wrong arity, a constant outside
// the token dictionary, a selector as output. Parse and detokenize never return such a program.
void validate(const Program& program);

// A random program by the paper's Appendix B.1 procedure, in canonical form: `ops_min..ops_max` initial
// operations, then more until every statement is used. Empty (no statements) when it grew past
// kMaxStatements.
Program generate(Rng& rng, int ops_min, int ops_max);

const Language& language();

}  // namespace mm::rasp
