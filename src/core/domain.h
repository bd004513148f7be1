// The input domain of a program language: integer lists with values in [value_min, value_max] and
// lengths in [len_min, len_max]. Small domains are enumerated; large ones are sampled, stratified by
// length so that short inputs are never missing from a check.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace mm {

using Input = std::vector<int64_t>;

struct InputDomain {
  int64_t value_min = 0;  // smallest token value
  int64_t value_max = 4;  // largest token value
  int len_min = 1;        // shortest input
  int len_max = 5;        // longest input

  // Limits on what a user may configure; beyond them the domain stops being a sequence task we train on.
  static constexpr int kMaxLength = 64;
  static constexpr int64_t kMaxAbsValue = 1000;

  // Throws mm::Error naming the offending bound.
  void validate() const;
  // Number of inputs, saturating at UINT64_MAX; and of inputs of one length.
  uint64_t size() const;
  uint64_t count_of_length(int len) const;
  // Empty when `input` is in the domain, else why not ("value 7 at position 2 is outside 0..4").
  std::string why_not_contained(std::span<const int64_t> input) const;
  // Every input, shortest first, then lexicographic. Throws mm::Error if size() > limit.
  std::vector<Input> enumerate(uint64_t limit) const;
  // One input: a length uniform over [len_min, len_max], then uniform values.
  Input sample(class Rng& rng) const;
  // The whole domain if it holds at most `max_inputs`; else a fixed set (determined by `seed`) of about
  // `max_inputs` inputs, the budget split evenly across lengths and every length whose inputs fit in its
  // share enumerated completely. Shortest first.
  std::vector<Input> evaluation_set(uint64_t max_inputs, uint64_t seed) const;

  std::string describe() const;  // "values 0..4, lengths 1..5"
};

}  // namespace mm
