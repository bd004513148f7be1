// The fixed library of map functions: each one lambda text (exactly as printed, so a program pastes into
// tracr), one token, and its meaning under Python's semantics — int and float kept apart, None
// propagating (tracr's evaluator never calls a map on None), comparisons giving 1 or 0 (Python's bools),
// `and`/`or` returning an operand as Python does. Integers that leave 64 bits, and floats that leave the
// finite range, raise EvalError: Python would carry on, but no learnable program goes there.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/value.h"

namespace mm::rasp {

struct MapFunction {
  int arity;            // 1 for Map, 2 for SequenceMap
  std::string token;    // "x+1", "min(x,y)", "x_and_y": one token, no spaces
  std::string lambda;   // "lambda x: x + 1", "lambda x, y: min(x, y)"
  std::string family;   // "x+k", "min(x,y)": the sampler draws a family first, then its constant
  int kind;             // which formula (internal)
  int64_t k;            // its constant, where it has one
};

// Every function, unary first; a function's index here is stable and is what Statement::fn holds.
const std::vector<MapFunction>& map_functions();
// Index of the function whose lambda text equals `lambda` up to whitespace and the names of its
// parameters; -1 if none.
int find_map_function(std::string_view lambda);
int find_map_function_by_token(std::string_view token);

Value apply_unary(const MapFunction& f, Value x);           // x not None
Value apply_binary(const MapFunction& f, Value x, Value y);  // x, y not None

// Python's arithmetic on Values, shared by the library and by LinearSequenceMap.
Value py_add(Value a, Value b);
Value py_sub(Value a, Value b);
Value py_mul(Value a, Value b);
Value py_mod(Value a, Value b);  // b != 0
bool py_lt(Value a, Value b);
bool py_truthy(Value a);

}  // namespace mm::rasp
