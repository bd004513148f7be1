// list-Python: the public API of the language. Text form = the paper's Figure 3 formatting (4-space
// indent, `(i)`, `(i + 1)`, `(i - 1)`); tokens = the lexemes of that text plus <nl>/<indent>/<dedent>;
// evaluation = Python's semantics (floor `%`, an IndexError where `arr[(i)]` runs past the end).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/language.h"
#include "core/rng.h"
#include "core/value.h"
#include "listpy/ast.h"

namespace mm::listpy {

// out on `arr`. Throws EvalError where Python raises (IndexError in a conditional's `arr[(i)]`).
std::vector<int64_t> evaluate(const Program& program, std::span<const int64_t> arr);

std::string print(const Program& program);
// One statement and its body as text, unindented at its own level ("for i in range(0, n):\n    ...").
std::string print_statement(const Stmt& statement);
// Reads the text with any spacing inside lines and any consistent indentation. Throws ParseError.
Program parse(std::string_view text);

std::vector<std::string> tokenize(const Program& program);
// Throws ParseError (line 0, column = token position).
Program detokenize(std::span<const std::string> tokens);
const std::vector<std::string>& vocabulary();
// The tokens that may follow `prefix` (a sequence of tokens without <bos>) on the way to a program that
// detokenizes, "<eos>" among them when `prefix` is one already; in vocabulary order. Never empty for a
// prefix it accepts: every allowed token leads to a complete program. Throws ParseError if `prefix` is
// not the beginning of any program.
std::vector<std::string> next_tokens(std::span<const std::string> prefix);

// Programs one structural step from `program`, for repair (src/decompile/repair.h): the moves that
// single-token edits cannot make — drop a statement, insert an assignment, wrap an assignment in an `if`
// or unwrap one, append a loop. Each is a program of the family with what the step did ("drop line 6:
// `out[(i) % len(out)] = arr[(i) % len(arr)]`"); line numbers are those of print(program).
std::vector<std::pair<Program, std::string>> structural_neighbours(const Program& program);

// A random program of the family with loops_min..loops_max outer loops (Appendix B.2).
Program generate(Rng& rng, int loops_min, int loops_max);

const Language& language();

}  // namespace mm::listpy
