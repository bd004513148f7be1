// xoshiro256** (Blackman & Vigna), seeded by splitmix64; unbiased bounded integers by rejection.
#include "core/rng.h"

#include <stdexcept>

#include "core/hash.h"

namespace mm {

static uint64_t splitmix64(uint64_t& state) { return mix64(state += 0x9e3779b97f4a7c15ULL); }

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

Rng::Rng(uint64_t seed) {
  uint64_t state = seed;
  for (auto& s : s_) s = splitmix64(state);
}

uint64_t Rng::next_u64() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

int64_t Rng::uniform_int(int64_t lo, int64_t hi) {
  if (lo > hi) throw std::logic_error("Rng::uniform_int: lo > hi");
  const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);
  if (span == UINT64_MAX) return static_cast<int64_t>(next_u64());
  const uint64_t n = span + 1;
  // Reject the top partial block so that every residue is equally likely.
  const uint64_t limit = UINT64_MAX - (UINT64_MAX % n);
  uint64_t x;
  do x = next_u64(); while (x >= limit);
  return static_cast<int64_t>(static_cast<uint64_t>(lo) + x % n);
}

double Rng::uniform01() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

bool Rng::bernoulli(double p) { return uniform01() < p; }

size_t Rng::weighted_index(const std::vector<double>& weights) {
  double total = 0;
  for (double w : weights) total += w;
  if (!(total > 0)) throw std::logic_error("Rng::weighted_index: weights sum to zero");
  double r = uniform01() * total;
  for (size_t i = 0; i < weights.size(); ++i) {
    if (r < weights[i]) return i;
    r -= weights[i];
  }
  for (size_t i = weights.size(); i-- > 0;)  // rounding left r at the top: the last positive weight
    if (weights[i] > 0) return i;
  return 0;
}

}  // namespace mm
