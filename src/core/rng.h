// A small deterministic random number generator (xoshiro256**, seeded by splitmix64).
// We do not use <random>'s distributions: their output is implementation-defined, and a seed must give
// the same programs on every machine and compiler.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace mm {

class Rng {
 public:
  explicit Rng(uint64_t seed);

  uint64_t next_u64();
  int64_t uniform_int(int64_t lo, int64_t hi);  // inclusive on both ends; requires lo <= hi
  double uniform01();                           // in [0, 1)
  bool bernoulli(double p);
  size_t index(size_t n) { return static_cast<size_t>(uniform_int(0, static_cast<int64_t>(n) - 1)); }
  // Index drawn with probability proportional to weights[i] (weights >= 0, not all zero).
  size_t weighted_index(const std::vector<double>& weights);

  template <class T>
  const T& pick(const std::vector<T>& xs) { return xs[index(xs.size())]; }

 private:
  uint64_t s_[4];
};

}  // namespace mm
