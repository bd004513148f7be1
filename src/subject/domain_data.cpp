#include "subject/domain_data.h"

#include <algorithm>

#include "core/error.h"

namespace mm {

DomainData make_domain_data(const InputDomain& domain, const TrainConfig& config) {
  DomainData d;
  d.domain = domain;
  d.eval = evaluation_inputs(domain, config);
  d.whole_domain = domain.size() <= config.enumerate_limit;
  d.length_complete.assign(static_cast<size_t>(domain.len_max) + 1, d.whole_domain);
  if (d.whole_domain) {
    for (size_t i = 0; i < d.eval.size(); ++i) d.index.emplace(d.eval[i], static_cast<int32_t>(i));
  } else {
    d.heldout.insert(d.eval.begin(), d.eval.end());
    std::vector<uint64_t> per_len(static_cast<size_t>(domain.len_max) + 1, 0);
    for (const Input& x : d.heldout) ++per_len[x.size()];
    for (int len = domain.len_min; len <= domain.len_max; ++len)
      d.length_complete[static_cast<size_t>(len)] = per_len[static_cast<size_t>(len)] == domain.count_of_length(len);
  }
  return d;
}

Labeller::Labeller(const SubjectJob& job) : job_(&job) {
  for (size_t c = 0; c < job.classes.size(); ++c) class_of_.emplace(value_key(job.classes[c]), static_cast<int32_t>(c));
}

int Labeller::label(const Input& x, int32_t* out, int32_t none) const {
  std::fill(out, out + x.size(), none);
  std::vector<Value> y;
  try {
    y = job_->program->evaluate(x);
  } catch (const EvalError&) {
    return 0;
  }
  int n = 0;
  for (size_t k = 0; k < y.size() && k < x.size(); ++k) {
    auto it = class_of_.find(value_key(y[k]));
    if (it != class_of_.end()) out[k] = it->second, ++n;
  }
  return n;
}

}  // namespace mm
