// The RASP program, as tracr builds it: a list of statements, each defining one s-op or selector from
// primitives (tokens, indices, length) and earlier statements, and one statement named as the output.
// Statements refer to each other by index, so a Program is a DAG in definition order. Plain data: the
// evaluator, printer, parser, tokenizer and sampler are separate files.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace mm::rasp {

enum class Op : uint8_t { Map, SequenceMap, LinearSequenceMap, Select, Aggregate, SelectorWidth };
enum class Encoding : uint8_t { Categorical, Numerical };
// Applied as tracr does: cmp(key, query). LT selects keys smaller than the query.
enum class Comparison : uint8_t { EQ, LT, LEQ, GT, GEQ, NEQ, TRUE, FALSE };

// A reference to a value: a primitive (negative) or the statement at that index (>= 0).
using Ref = int;
constexpr Ref kTokens = -1;
constexpr Ref kIndices = -2;
constexpr Ref kLength = -3;

// Ranges of the integer constants a program may hold; the token dictionary has one token per value.
constexpr int64_t kCoefMin = -3, kCoefMax = 3;        // LinearSequenceMap factors
constexpr int64_t kDefaultMin = -2, kDefaultMax = 4;  // Aggregate defaults (None when absent)
constexpr int kMaxStatements = 32;                    // one variable token per statement

struct Statement {
  Op op = Op::Map;
  Encoding encoding = Encoding::Categorical;  // s-ops only; a Select has none
  int fn = 0;                                 // Map / SequenceMap: index into map_functions()
  Comparison cmp = Comparison::EQ;            // Select
  Ref a = kTokens;                            // Map: input; SequenceMap/Linear: first; Select: keys;
                                              // Aggregate/SelectorWidth: the selector
  Ref b = kTokens;                            // SequenceMap/Linear: second; Select: queries;
                                              // Aggregate: the s-op averaged
  int64_t coef_a = 1, coef_b = 1;             // LinearSequenceMap: coef_a * a + coef_b * b
  std::optional<int64_t> default_value;       // Aggregate: where nothing is selected (None if absent)

  bool operator==(const Statement&) const = default;
};

struct Program {
  std::vector<Statement> statements;  // in definition order; refs point to earlier statements
  int output = -1;                    // index of the statement the program returns (an s-op)

  bool operator==(const Program&) const = default;
};

// How many refs an op reads (1 or 2), and whether the statement defines a selector.
int arity(Op op);
bool is_selector(Op op);
std::string_view op_name(Op op);                 // "Map", "SequenceMap", ...
std::string_view comparison_name(Comparison c);  // "EQ", "LT", ...
std::string_view encoding_name(Encoding e);      // "categorical", "numerical"
std::string_view primitive_name(Ref r);          // "tokens", "indices", "length"

// needed[s] = 1 for every statement the output depends on (itself included), else 0; resized to the
// program. The evaluator, canonicalize and the compiler all run only these.
void mark_needed(const Program& program, std::vector<char>& needed);

}  // namespace mm::rasp
