// Internal: the lexemes of list-Python, shared by the parser (text) and the detokenizer (token strings).
// The token sequence of a program is exactly its lexemes, with line structure as <nl>, <indent>, <dedent>.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "listpy/ast.h"

namespace mm::listpy {

enum class Lex { Name, Number, Op, Newline, Indent, Dedent, End };

struct Lexeme {
  Lex kind;
  std::string text;  // the token's spelling: "for", "3", "==", "<nl>", "<indent>", "<dedent>"
  int line, column;  // 1-based; line 0 means column is a token position
};

// Python's tokenizer, cut down to this family: names, integers, the operators ( ) [ ] : , = == != * + - %,
// and INDENT/DEDENT from leading spaces; blank lines and comments are skipped, and newlines inside
// brackets join lines. Throws ParseError.
std::vector<Lexeme> lex(std::string_view text);
// Throws ParseError at the first lexeme that does not fit the family. With `wants`, every token the
// end of input was tested against is appended to it: when the lexemes are a proper prefix of a program
// (the error is at the end), a superset of the tokens that may come next.
Program parse_lexemes(const std::vector<Lexeme>& lexemes, std::vector<std::string>* wants = nullptr);

}  // namespace mm::listpy
