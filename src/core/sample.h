// Sampling programs that are worth learning: the language generates candidates by the paper's
// procedure, and the behavioural filters below (the same for every language) reject the degenerate ones
// by running each candidate on the input domain.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/language.h"

namespace mm {

struct SampleConfig {
  GenerateConfig generate;          // sizes; 0 = the language's default
  InputDomain domain;               // inputs the filters run the candidate on
  uint64_t filter_inputs = 5000;    // the whole domain when it holds at most this many, else a fixed sample
  uint64_t filter_seed = 1;         // which fixed sample
  int max_distinct_outputs = 32;    // more distinct output values than this: rejected
  double max_none_fraction = 0.5;   // more output positions None than this: rejected
  int max_attempts = 100000;        // candidates per accepted program before giving up
};

// Why a candidate was rejected, one counter per reason.
struct SampleStats {
  int64_t candidates = 0;
  int64_t accepted = 0;
  std::map<std::string, int64_t> rejected;  // reason -> count
};

// Runs `program` on `inputs` and returns why it should be rejected, or nullopt if it passes:
// "raises" (an input it cannot run on), "constant" (one output value over the whole domain), "identity"
// (output equals input everywhere), "ignores tokens" (output depends on the length only), "mostly None",
// "too many outputs".
std::optional<std::string> reject_reason(const Program& program, const std::vector<Input>& inputs,
                                         const SampleConfig& config);

// Draws candidates until one passes the filters. Throws mm::Error after max_attempts candidates.
class Sampler {
 public:
  Sampler(const Language& language, SampleConfig config);
  std::unique_ptr<Program> next(Rng& rng);
  const SampleStats& stats() const { return stats_; }

 private:
  const Language& language_;
  SampleConfig config_;
  std::vector<Input> inputs_;  // the filter inputs, computed once
  SampleStats stats_;
};

// The distinct values `program` outputs over `inputs`, sorted by value_key. Throws EvalError.
std::vector<Value> output_values(const Program& program, const std::vector<Input>& inputs);

}  // namespace mm
