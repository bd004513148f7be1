// The map-function library and Python's arithmetic on Values.
#include "rasp/functions.h"

#include <cctype>
#include <cmath>
#include <cstdint>

#include "core/error.h"

namespace mm::rasp {

namespace {

enum Kind {
  kAddK, kSubK, kDouble, kNeg, kModK, kEqK, kNeK, kLtK, kGtK, kOneMinus, kAbs, kMinK, kMaxK, kAddHalf,
  kAdd, kSub, kMul, kMin, kMax, kEq, kLt, kAddMod5, kAnd, kOr,
};

std::vector<MapFunction> build_library() {
  std::vector<MapFunction> fs;
  auto unary = [&](int kind, int64_t k, std::string family, std::string token, std::string body) {
    fs.push_back({1, std::move(token), "lambda x: " + body, std::move(family), kind, k});
  };
  auto binary = [&](int kind, std::string token, std::string body) {
    fs.push_back({2, token, "lambda x, y: " + body, token, kind, 0});
  };
  auto s = [](int64_t k) { return std::to_string(k); };
  for (int64_t k = 1; k <= 3; ++k) unary(kAddK, k, "x+k", "x+" + s(k), "x + " + s(k));
  for (int64_t k = 1; k <= 3; ++k) unary(kSubK, k, "x-k", "x-" + s(k), "x - " + s(k));
  unary(kDouble, 2, "2*x", "2*x", "2 * x");
  unary(kNeg, 0, "-x", "-x", "-x");
  for (int64_t k = 2; k <= 3; ++k) unary(kModK, k, "x%k", "x%" + s(k), "x % " + s(k));
  for (int64_t k = 0; k <= 4; ++k) unary(kEqK, k, "x==k", "x==" + s(k), "x == " + s(k));
  for (int64_t k = 0; k <= 4; ++k) unary(kNeK, k, "x!=k", "x!=" + s(k), "x != " + s(k));
  for (int64_t k = 0; k <= 4; ++k) unary(kLtK, k, "x<k", "x<" + s(k), "x < " + s(k));
  for (int64_t k = 0; k <= 4; ++k) unary(kGtK, k, "x>k", "x>" + s(k), "x > " + s(k));
  unary(kOneMinus, 1, "1-x", "1-x", "1 - x");
  unary(kAbs, 0, "abs(x)", "abs(x)", "abs(x)");
  for (int64_t k = 0; k <= 4; ++k) unary(kMinK, k, "min(x,k)", "min(x," + s(k) + ")", "min(x, " + s(k) + ")");
  for (int64_t k = 0; k <= 4; ++k) unary(kMaxK, k, "max(x,k)", "max(x," + s(k) + ")", "max(x, " + s(k) + ")");
  unary(kAddHalf, 0, "x+0.5", "x+0.5", "x + 0.5");
  binary(kAdd, "x+y", "x + y");
  binary(kSub, "x-y", "x - y");
  binary(kMul, "x*y", "x * y");
  binary(kMin, "min(x,y)", "min(x, y)");
  binary(kMax, "max(x,y)", "max(x, y)");
  binary(kEq, "x==y", "x == y");
  binary(kLt, "x<y", "x < y");
  binary(kAddMod5, "(x+y)%5", "(x + y) % 5");
  binary(kAnd, "x_and_y", "x and y");
  binary(kOr, "x_or_y", "x or y");
  return fs;
}

// Lexemes of a lambda with its parameters renamed to x and y, joined by single spaces; empty if the
// text is not `lambda <names>: <body>`.
std::string normalize_lambda(std::string_view text) {
  std::vector<std::string> lex;
  size_t k = 0;
  while (k < text.size()) {
    const char c = text[k];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++k;
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t e = k;
      while (e < text.size() && (std::isalnum(static_cast<unsigned char>(text[e])) || text[e] == '_')) ++e;
      lex.emplace_back(text.substr(k, e - k));
      k = e;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t e = k;
      while (e < text.size() && (std::isdigit(static_cast<unsigned char>(text[e])) || text[e] == '.')) ++e;
      lex.emplace_back(text.substr(k, e - k));
      k = e;
    } else if (k + 1 < text.size() && (text.substr(k, 2) == "==" || text.substr(k, 2) == "!=" ||
                                       text.substr(k, 2) == "<=" || text.substr(k, 2) == ">=")) {
      lex.emplace_back(text.substr(k, 2));
      k += 2;
    } else {
      lex.emplace_back(1, c);
      ++k;
    }
  }
  // lambda p1 [, p2] : body
  if (lex.size() < 4 || lex[0] != "lambda") return {};
  std::vector<std::string> params;
  size_t pos = 1;
  while (pos < lex.size() && lex[pos] != ":") {
    if (lex[pos] != ",") params.push_back(lex[pos]);
    ++pos;
  }
  if (pos >= lex.size() || params.empty() || params.size() > 2) return {};
  std::string out = "lambda";
  const char* names[] = {"x", "y"};
  for (size_t p = 0; p < params.size(); ++p) out += std::string(p ? " , " : " ") + names[p];
  out += " :";
  for (size_t t = pos + 1; t < lex.size(); ++t) {
    std::string w = lex[t];
    for (size_t p = 0; p < params.size(); ++p)
      if (w == params[p]) w = names[p];
    out += " " + w;
  }
  return out;
}

void check_finite(double v) {
  if (!std::isfinite(v)) throw EvalError("a float left the finite range");
}

Value int_result(bool overflow, int64_t r) {
  if (overflow) throw EvalError("an integer left the 64-bit range");
  return Value::of_int(r);
}

Value float_result(double r) {
  check_finite(r);
  return Value::of_float(r);
}

bool both_int(Value a, Value b) { return a.kind == Value::Kind::Int && b.kind == Value::Kind::Int; }

}  // namespace

const std::vector<MapFunction>& map_functions() {
  static const std::vector<MapFunction> library = build_library();
  return library;
}

int find_map_function(std::string_view lambda) {
  static const std::vector<std::string> normalized = [] {
    std::vector<std::string> n;
    for (const auto& f : map_functions()) n.push_back(normalize_lambda(f.lambda));
    return n;
  }();
  const std::string key = normalize_lambda(lambda);
  if (key.empty()) return -1;
  for (size_t i = 0; i < normalized.size(); ++i)
    if (normalized[i] == key) return static_cast<int>(i);
  return -1;
}

int find_map_function_by_token(std::string_view token) {
  const auto& fs = map_functions();
  for (size_t i = 0; i < fs.size(); ++i)
    if (fs[i].token == token) return static_cast<int>(i);
  return -1;
}

Value py_add(Value a, Value b) {
  if (both_int(a, b)) {
    int64_t r = 0;
    const bool overflow = __builtin_add_overflow(a.i, b.i, &r);
    return int_result(overflow, r);
  }
  return float_result(a.as_double() + b.as_double());
}

Value py_sub(Value a, Value b) {
  if (both_int(a, b)) {
    int64_t r = 0;
    const bool overflow = __builtin_sub_overflow(a.i, b.i, &r);
    return int_result(overflow, r);
  }
  return float_result(a.as_double() - b.as_double());
}

Value py_mul(Value a, Value b) {
  if (both_int(a, b)) {
    int64_t r = 0;
    const bool overflow = __builtin_mul_overflow(a.i, b.i, &r);
    return int_result(overflow, r);
  }
  return float_result(a.as_double() * b.as_double());
}

// Python's %: the result takes the sign of the divisor.
Value py_mod(Value a, Value b) {
  if (both_int(a, b)) {
    if (b.i == -1) return Value::of_int(0);  // avoids INT64_MIN % -1
    int64_t r = a.i % b.i;
    if (r != 0 && ((r < 0) != (b.i < 0))) r += b.i;
    return Value::of_int(r);
  }
  const double y = b.as_double();
  double r = std::fmod(a.as_double(), y);
  if (r != 0) {
    if ((y < 0) != (r < 0)) r += y;
  } else {
    r = std::copysign(0.0, y);
  }
  return float_result(r);
}

bool py_lt(Value a, Value b) { return both_int(a, b) ? a.i < b.i : a.as_double() < b.as_double(); }

bool py_truthy(Value a) { return a.kind == Value::Kind::Int ? a.i != 0 : a.f != 0; }

static Value py_bool(bool b) { return Value::of_int(b ? 1 : 0); }

static Value py_neg(Value x) {
  if (x.kind == Value::Kind::Int) {
    int64_t r = 0;
    const bool overflow = __builtin_sub_overflow(int64_t{0}, x.i, &r);
    return int_result(overflow, r);
  }
  return Value::of_float(-x.f);
}

Value apply_unary(const MapFunction& f, Value x) {
  const Value k = Value::of_int(f.k);
  switch (f.kind) {
    case kAddK: return py_add(x, k);
    case kSubK: return py_sub(x, k);
    case kDouble: return py_mul(Value::of_int(2), x);
    case kNeg: return py_neg(x);
    case kModK: return py_mod(x, k);
    case kEqK: return py_bool(x == k);
    case kNeK: return py_bool(!(x == k));
    case kLtK: return py_bool(py_lt(x, k));
    case kGtK: return py_bool(py_lt(k, x));
    case kOneMinus: return py_sub(Value::of_int(1), x);
    case kAbs: return py_lt(x, Value::of_int(0)) ? py_neg(x) : x;
    case kMinK: return py_lt(k, x) ? k : x;  // Python's min keeps the first of equals
    case kMaxK: return py_lt(x, k) ? k : x;
    case kAddHalf: return py_add(x, Value::of_float(0.5));
  }
  throw std::logic_error("apply_unary: not a unary function: " + f.token);
}

Value apply_binary(const MapFunction& f, Value x, Value y) {
  switch (f.kind) {
    case kAdd: return py_add(x, y);
    case kSub: return py_sub(x, y);
    case kMul: return py_mul(x, y);
    case kMin: return py_lt(y, x) ? y : x;
    case kMax: return py_lt(x, y) ? y : x;
    case kEq: return py_bool(x == y);
    case kLt: return py_bool(py_lt(x, y));
    case kAddMod5: return py_mod(py_add(x, y), Value::of_int(5));
    case kAnd: return py_truthy(x) ? y : x;
    case kOr: return py_truthy(x) ? x : y;
  }
  throw std::logic_error("apply_binary: not a binary function: " + f.token);
}

}  // namespace mm::rasp
