// What both subject trainers know about one input domain (no torch): its evaluation set, and a sampler
// of training inputs that avoids the evaluation set where that is a held-out sample (lengths whose every
// input is in the sample are trained on too: nothing else is left of them). When the evaluation set is
// the whole domain, every training input is one of its inputs: `index` finds it, so that a trainer can
// look its targets up instead of running the program again.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/domain.h"
#include "core/hash.h"
#include "core/rng.h"
#include "subject/trainer.h"

namespace mm {

struct InputHash {
  size_t operator()(const Input& x) const {
    return fnv1a64(std::string_view(reinterpret_cast<const char*>(x.data()), x.size() * sizeof(int64_t)));
  }
};

struct DomainData {
  InputDomain domain;
  std::vector<Input> eval;  // the evaluation inputs
  bool whole_domain = false;
  std::unordered_set<Input, InputHash> heldout;
  std::unordered_map<Input, int32_t, InputHash> index;  // whole domain only: input -> position in eval
  std::vector<bool> length_complete;                    // [len]: every input of this length is in `eval`

  Input draw(Rng& rng) const {
    while (true) {
      Input x = domain.sample(rng);
      if (whole_domain || length_complete[x.size()] || !heldout.count(x)) return x;
    }
  }
};

DomainData make_domain_data(const InputDomain& domain, const TrainConfig& config);

// One DomainData per distinct domain, made on first use (by both trainers; not thread-safe).
class DomainCache {
 public:
  explicit DomainCache(const TrainConfig& config) : config_(config) {}
  const DomainData& get(const InputDomain& d) {
    const std::string key = d.describe();
    auto it = domains_.find(key);
    if (it == domains_.end()) it = domains_.emplace(key, make_domain_data(d, config_)).first;
    return it->second;
  }

 private:
  const TrainConfig& config_;
  std::map<std::string, DomainData> domains_;
};

// A job's labels: the class index of each output position of its program on an input, `none` where the
// program raises (an input it cannot run on teaches nothing) or gives a value outside the class list.
class Labeller {
 public:
  explicit Labeller(const SubjectJob& job);
  // Writes x.size() labels to out; returns how many are classes (not `none`).
  int label(const Input& x, int32_t* out, int32_t none) const;

 private:
  const SubjectJob* job_;
  std::map<ValueKey, int32_t> class_of_;
};

}  // namespace mm
