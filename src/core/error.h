// Errors that reach the user. Every error modelmap reports is one of these: a one-line message that
// names the problem (and, for program text, the line and column), printed by the CLI with exit code 2.
// Not for internal invariants: those are bugs, and surface as "internal error".
#pragma once

#include <stdexcept>
#include <string>

namespace mm {

// A problem with what the user gave us: a flag, a file, an input value.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Program text (or a token sequence) that is not in the language. `line` and `column` are 1-based;
// for token sequences `line` is 0 and `column` is the 1-based token position.
class ParseError : public Error {
 public:
  ParseError(int line, int column, const std::string& what);
  int line;
  int column;
  std::string detail;  // the message without the position
};

// A program that cannot be evaluated on an input: where tracr's evaluator (or Python) would raise,
// or where a value leaves the range we represent (64-bit integers, finite doubles).
class EvalError : public Error {
 public:
  explicit EvalError(const std::string& message) : Error(message) {}
};

}  // namespace mm
