// The values programs compute: None, a 64-bit integer, or a double — Python's None, int (bool counts as
// int: comparisons yield 1 or 0) and float. Kept distinct because tracr's evaluator treats int and float
// differently (it averages ints but refuses to average several floats).
// Equality is Python's: 3 == 3.0, None == None, None != 0.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace mm {

struct Value {
  enum class Kind : uint8_t { None, Int, Float };
  Kind kind = Kind::None;
  union {
    int64_t i = 0;  // when kind == Int
    double f;       // when kind == Float
  };

  static Value none() { return {}; }
  static Value of_int(int64_t v) {
    Value x;
    x.kind = Kind::Int;
    x.i = v;
    return x;
  }
  static Value of_float(double v) {
    Value x;
    x.kind = Kind::Float;
    x.f = v;
    return x;
  }
  bool is_none() const { return kind == Kind::None; }
  double as_double() const { return kind == Kind::Int ? static_cast<double>(i) : f; }
};

bool operator==(const Value& a, const Value& b);

// JSON text: ints as ints, floats with at most 6 significant digits and always a '.' or exponent
// (so 3.0 prints "3.0", 1/3 prints "0.333333"), None as null.
std::string value_to_json(const Value& v);
std::string values_to_json(std::span<const Value> vs);  // "[1, 2.5, null]"

// A key under which values that print alike are one value: ints and floats compare numerically after
// rounding to the 6 significant digits we print; None sorts first. Used to count distinct outputs.
struct ValueKey {
  bool none = true;
  double v = 0;
  auto operator<=>(const ValueKey&) const = default;
};
ValueKey value_key(const Value& v);

}  // namespace mm
