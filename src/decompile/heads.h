// Reading a subject's attention heads for the synthesizer (issue 16's second guide). A RASP selector
// Select(K, Q, cmp) over s-ops whose values are functions of (token, position, length) — "local" —
// decides whether a query at (token tq, position q) attends a key at (token tk, position k) in an input of
// length n. A head that computes such a selector puts its attention on the selected keys. So each head is
// summarised by its mean attention per (n, q, tq, k, tk), averaged over the inputs where that pair occurs:
// a table independent of which head is which, and the synthesizer compares it with the selectors it can
// build (cf. D-RASP, Huang et al., arXiv 2602.08857: attention patterns matched to comparison primitives).
#pragma once

#include <cstdint>
#include <vector>

#include "core/domain.h"
#include "core/value.h"

namespace mm {

struct SubjectModel;

struct HeadPattern {
  int layer = 0, head = 0;
  std::vector<float> mean;  // per pattern_index(n, q, tq, k, tk): mean attention of the query on the key
};

struct HeadPatterns {
  InputDomain domain;
  std::vector<HeadPattern> heads;
  std::vector<int32_t> count;  // per pattern_index: inputs in which that (query, key) pair occurs (0: never)
  bool empty() const { return heads.empty(); }
};

// Entries of a pattern over `domain`: sum over lengths n of (n * V)^2, V the number of token values.
size_t pattern_size(const InputDomain& domain);
size_t pattern_index(const InputDomain& domain, int n, int q, int64_t tq, int k, int64_t tk);
// Domains too large for a pattern table (more than kMaxPatternEntries) get no head reading.
constexpr size_t kMaxPatternEntries = size_t{1} << 22;

// Every head of `model`, read on `inputs` (its domain's). Empty for a domain too large for the tables.
// Throws mm::Error for an input outside the model's domain.
HeadPatterns read_heads(const SubjectModel& model, const std::vector<Input>& inputs, int threads = 1);

}  // namespace mm
