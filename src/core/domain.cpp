// Enumeration and sampling of input domains.
#include "core/domain.h"

#include "core/error.h"
#include "core/rng.h"

namespace mm {

void InputDomain::validate() const {
  if (len_min < 1) throw Error("minimum length must be at least 1 (got " + std::to_string(len_min) + ")");
  if (len_max < len_min)
    throw Error("maximum length " + std::to_string(len_max) + " is below the minimum " +
                std::to_string(len_min));
  if (len_max > kMaxLength)
    throw Error("maximum length must be at most " + std::to_string(kMaxLength) + " (got " +
                std::to_string(len_max) + ")");
  if (value_max < value_min)
    throw Error("maximum value " + std::to_string(value_max) + " is below the minimum " +
                std::to_string(value_min));
  if (value_min < -kMaxAbsValue || value_max > kMaxAbsValue)
    throw Error("token values must lie within -" + std::to_string(kMaxAbsValue) + ".." +
                std::to_string(kMaxAbsValue));
}

uint64_t InputDomain::count_of_length(int len) const {
  const auto values = static_cast<uint64_t>(value_max - value_min + 1);
  uint64_t n = 1;
  for (int k = 0; k < len; ++k) {
    if (n > UINT64_MAX / values) return UINT64_MAX;
    n *= values;
  }
  return n;
}

uint64_t InputDomain::size() const {
  uint64_t total = 0;
  for (int len = len_min; len <= len_max; ++len) {
    const uint64_t n = count_of_length(len);
    if (n > UINT64_MAX - total) return UINT64_MAX;
    total += n;
  }
  return total;
}

std::string InputDomain::why_not_contained(std::span<const int64_t> input) const {
  const auto len = static_cast<int64_t>(input.size());
  if (len < len_min || len > len_max)
    return "input length " + std::to_string(len) + " is outside " + std::to_string(len_min) + ".." +
           std::to_string(len_max);
  for (size_t k = 0; k < input.size(); ++k)
    if (input[k] < value_min || input[k] > value_max)
      return "value " + std::to_string(input[k]) + " at position " + std::to_string(k) + " is outside " +
             std::to_string(value_min) + ".." + std::to_string(value_max);
  return {};
}

static void append_all_of_length(const InputDomain& d, int len, std::vector<Input>& out) {
  Input x(static_cast<size_t>(len), d.value_min);
  while (true) {
    out.push_back(x);
    int k = len - 1;  // odometer increment, last position fastest
    while (k >= 0 && x[static_cast<size_t>(k)] == d.value_max) x[static_cast<size_t>(k--)] = d.value_min;
    if (k < 0) return;
    ++x[static_cast<size_t>(k)];
  }
}

std::vector<Input> InputDomain::enumerate(uint64_t limit) const {
  const uint64_t n = size();
  if (n > limit)
    throw Error("the input domain (" + describe() + ") holds " + std::to_string(n) +
                " inputs, more than the " + std::to_string(limit) + " that may be enumerated");
  std::vector<Input> out;
  out.reserve(n);
  for (int len = len_min; len <= len_max; ++len) append_all_of_length(*this, len, out);
  return out;
}

Input InputDomain::sample(Rng& rng) const {
  Input x(static_cast<size_t>(rng.uniform_int(len_min, len_max)));
  for (auto& v : x) v = rng.uniform_int(value_min, value_max);
  return x;
}

std::vector<Input> InputDomain::evaluation_set(uint64_t max_inputs, uint64_t seed) const {
  if (size() <= max_inputs) return enumerate(max_inputs);
  uint64_t budget = max_inputs;
  Rng rng(seed);
  std::vector<Input> out;
  for (int len = len_min; len <= len_max; ++len) {
    // Even share of what is left, so that budget unused by short lengths flows to longer ones.
    const uint64_t share = budget / static_cast<uint64_t>(len_max - len + 1);
    const uint64_t n = count_of_length(len);
    if (n <= share) {
      append_all_of_length(*this, len, out);
      budget -= n;
    } else {
      for (uint64_t k = 0; k < share; ++k) {
        Input x(static_cast<size_t>(len));
        for (auto& v : x) v = rng.uniform_int(value_min, value_max);
        out.push_back(std::move(x));
      }
      budget -= share;
    }
  }
  return out;
}

std::string InputDomain::describe() const {
  return "values " + std::to_string(value_min) + ".." + std::to_string(value_max) + ", lengths " +
         std::to_string(len_min) + ".." + std::to_string(len_max);
}

}  // namespace mm
