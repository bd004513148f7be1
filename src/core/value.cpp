// Value equality, printing and keys.
#include "core/value.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace mm {

bool operator==(const Value& a, const Value& b) {
  if (a.is_none() || b.is_none()) return a.is_none() && b.is_none();
  if (a.kind == Value::Kind::Int && b.kind == Value::Kind::Int) return a.i == b.i;
  return a.as_double() == b.as_double();
}

static std::string float_to_text(double x) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.6g", x);
  std::string s = buf;
  if (s == "-0") s = "0";  // Python prints -0.0 as -0.0, but it equals 0.0; one spelling keeps keys simple
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

std::string value_to_json(const Value& v) {
  switch (v.kind) {
    case Value::Kind::None: return "null";
    case Value::Kind::Int: return std::to_string(v.i);
    case Value::Kind::Float: return float_to_text(v.f);
  }
  return "null";
}

std::string values_to_json(std::span<const Value> vs) {
  std::string s = "[";
  for (size_t k = 0; k < vs.size(); ++k) {
    if (k) s += ", ";
    s += value_to_json(vs[k]);
  }
  return s + "]";
}

ValueKey value_key(const Value& v) {
  if (v.is_none()) return {};
  if (v.kind == Value::Kind::Int) return {false, static_cast<double>(v.i)};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.6g", v.f);
  double rounded = std::strtod(buf, nullptr);
  if (rounded == 0) rounded = 0;  // fold -0.0
  return {false, rounded};
}

}  // namespace mm
