// The behavioural filters and the accept/reject loop shared by every language.
#include "core/sample.h"

#include <set>

#include "core/error.h"
#include "core/rng.h"

namespace mm {

namespace {

// Distinct values by value_key, with a cache by exact value in front: outputs repeat a few values
// thousands of times, and value_key formats floats.
class DistinctValues {
 public:
  void insert(const Value& v) {
    const std::pair<int, int64_t> exact = {static_cast<int>(v.kind), v.kind == Value::Kind::None ? 0 : v.i};
    for (const auto& e : exact_)
      if (e == exact) return;
    exact_.push_back(exact);
    keys_.insert(value_key(v));
  }
  size_t size() const { return keys_.size(); }

 private:
  std::vector<std::pair<int, int64_t>> exact_;  // (kind, bits of the int or the double)
  std::set<ValueKey> keys_;
};

bool same_value(const Value& a, const Value& b) { return a == b || value_key(a) == value_key(b); }

}  // namespace

std::optional<std::string> reject_reason(const Program& program, const std::vector<Input>& inputs,
                                         const SampleConfig& config) {
  DistinctValues distinct;
  int64_t positions = 0, nones = 0;
  bool identity = true;
  // "ignores tokens": every input of a length gives that length's first output. Inputs come
  // shortest first, so a new length starts a new reference.
  bool ignores_tokens = true;
  std::vector<Value> reference;
  size_t reference_len = SIZE_MAX;
  for (const Input& x : inputs) {
    std::vector<Value> y;
    try {
      y = program.evaluate(x);
    } catch (const EvalError&) {
      return "raises";
    }
    for (size_t k = 0; k < y.size(); ++k) {
      const Value& v = y[k];
      ++positions;
      if (v.is_none()) ++nones;
      if (identity && !(v == Value::of_int(x[k]))) identity = false;
      distinct.insert(v);
    }
    if (static_cast<int>(distinct.size()) > config.max_distinct_outputs) return "too many outputs";
    if (x.size() != reference_len) {
      reference = y;
      reference_len = x.size();
    } else if (ignores_tokens) {
      for (size_t k = 0; k < y.size(); ++k)
        if (!same_value(y[k], reference[k])) {
          ignores_tokens = false;
          break;
        }
    }
  }
  if (distinct.size() <= 1) return "constant";
  if (identity) return "identity";
  if (ignores_tokens) return "ignores tokens";
  if (static_cast<double>(nones) > config.max_none_fraction * static_cast<double>(positions))
    return "mostly None";
  return std::nullopt;
}

Sampler::Sampler(const Language& language, SampleConfig config)
    : language_(language), config_(std::move(config)) {
  config_.domain.validate();
  const GenerateConfig defaults = language_.default_generate_config();
  if (config_.generate.size_min == 0) config_.generate.size_min = defaults.size_min;
  if (config_.generate.size_max == 0) config_.generate.size_max = defaults.size_max;
  if (config_.generate.size_min < 1 || config_.generate.size_max < config_.generate.size_min ||
      config_.generate.size_max > language_.max_size())
    throw Error("program size range " + std::to_string(config_.generate.size_min) + ".." +
                std::to_string(config_.generate.size_max) + " is invalid for " +
                std::string(language_.name()) + " (allowed: 1.." + std::to_string(language_.max_size()) +
                ", minimum <= maximum)");
  inputs_ = config_.domain.evaluation_set(config_.filter_inputs, config_.filter_seed);
}

std::unique_ptr<Program> Sampler::next(Rng& rng) {
  for (int attempt = 0; attempt < config_.max_attempts; ++attempt) {
    ++stats_.candidates;
    std::unique_ptr<Program> p = language_.generate(rng, config_.generate);
    if (!p) {
      ++stats_.rejected["too long"];
      continue;
    }
    if (auto reason = reject_reason(*p, inputs_, config_)) {
      ++stats_.rejected[*reason];
      continue;
    }
    ++stats_.accepted;
    return p;
  }
  throw Error("no program passed the filters in " + std::to_string(config_.max_attempts) +
              " candidates; widen the input domain or the program sizes");
}

std::vector<Value> output_values(const Program& program, const std::vector<Input>& inputs) {
  std::map<ValueKey, Value> distinct;
  for (const Input& x : inputs)
    for (const Value& v : program.evaluate(x)) distinct.emplace(value_key(v), v);
  std::vector<Value> out;
  for (auto& [key, v] : distinct) out.push_back(v);
  return out;
}

}  // namespace mm
