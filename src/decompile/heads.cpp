// Head patterns: each head's mean attention per (length, query position and token, key position and
// token), accumulated in double over the inputs in slices (one per thread) and summed in slice order: the
// same tables for the same thread count; another count changes only the last bits.
#include "decompile/heads.h"

#include <algorithm>

#include "core/error.h"
#include "core/parallel.h"
#include "subject/model.h"

namespace mm {

size_t pattern_size(const InputDomain& domain) {
  const size_t V = static_cast<size_t>(domain.value_max - domain.value_min + 1);
  size_t total = 0;
  for (int n = domain.len_min; n <= domain.len_max; ++n) total += static_cast<size_t>(n) * n * V * V;
  return total;
}

size_t pattern_index(const InputDomain& domain, int n, int q, int64_t tq, int k, int64_t tk) {
  const size_t V = static_cast<size_t>(domain.value_max - domain.value_min + 1);
  size_t base = 0;
  for (int m = domain.len_min; m < n; ++m) base += static_cast<size_t>(m) * m * V * V;
  return base + ((static_cast<size_t>(q) * V + static_cast<size_t>(tq - domain.value_min)) * n + static_cast<size_t>(k)) * V +
         static_cast<size_t>(tk - domain.value_min);
}

HeadPatterns read_heads(const SubjectModel& model, const std::vector<Input>& inputs, int threads) {
  HeadPatterns out;
  out.domain = model.domain;
  const InputDomain& d = model.domain;
  const size_t size = pattern_size(d);
  if (size > kMaxPatternEntries || inputs.empty()) return out;
  const int H = model.arch.n_layers * model.arch.n_heads;
  for (const Input& x : inputs) {
    const std::string why = d.why_not_contained(x);
    if (!why.empty()) throw Error("head reading: an input is outside the model's domain: " + why);
  }
  const int slices = std::max(1, std::min<int>(threads, static_cast<int>(inputs.size())));
  std::vector<std::vector<double>> sums(static_cast<size_t>(slices));
  std::vector<std::vector<int32_t>> counts(static_cast<size_t>(slices));
  parallel_for(static_cast<size_t>(slices), threads, [&](size_t s) {
    std::vector<double>& sum = sums[s];
    std::vector<int32_t>& count = counts[s];
    sum.assign(size * static_cast<size_t>(H), 0.0);
    count.assign(size, 0);
    const size_t lo = inputs.size() * s / static_cast<size_t>(slices), hi = inputs.size() * (s + 1) / static_cast<size_t>(slices);
    for (size_t i = lo; i < hi; ++i) {
      const Input& x = inputs[i];
      const int n = static_cast<int>(x.size());
      const std::vector<float> a = subject_attention(model, x);
      for (int q = 0; q < n; ++q)
        for (int k = 0; k < n; ++k) {
          const size_t e = pattern_index(d, n, q, x[static_cast<size_t>(q)], k, x[static_cast<size_t>(k)]);
          ++count[e];
          for (int h = 0; h < H; ++h) sum[static_cast<size_t>(h) * size + e] += a[(static_cast<size_t>(h) * n + q) * n + k];
        }
    }
  });
  out.count.assign(size, 0);
  for (int s = 0; s < slices; ++s)
    for (size_t e = 0; e < size; ++e) out.count[e] += counts[static_cast<size_t>(s)][e];
  for (int h = 0; h < H; ++h) {
    HeadPattern p;
    p.layer = h / model.arch.n_heads;
    p.head = h % model.arch.n_heads;
    p.mean.assign(size, 0.0f);
    for (size_t e = 0; e < size; ++e) {
      if (out.count[e] == 0) continue;
      double total = 0;
      for (int s = 0; s < slices; ++s) total += sums[static_cast<size_t>(s)][static_cast<size_t>(h) * size + e];
      p.mean[e] = static_cast<float>(total / out.count[e]);
    }
    out.heads.push_back(std::move(p));
  }
  return out;
}

}  // namespace mm
