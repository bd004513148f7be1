// The random program generator of the paper's Appendix B.2: 1 to 3 outer loops, each body 1 to 3
// statements among an assignment, a conditional holding 1-2 assignments, and at most one nested loop.
// The weights are ours; the paper gives none. The behavioural filters (core/sample.h) run afterwards.
#include "listpy/listpy.h"

namespace mm::listpy {

namespace {

constexpr double kWeightAssign = 0.5, kWeightIf = 0.3, kWeightFor = 0.2;
constexpr double kNegate = 0.25;  // P(an assignment negates its value)

Stmt assignment(Rng& rng, char var) {
  Stmt s;
  s.kind = StmtKind::Assign;
  s.var = var;
  s.out_offset = static_cast<int>(rng.uniform_int(-1, 1));
  s.arr_offset = static_cast<int>(rng.uniform_int(-1, 1));
  s.negate = rng.bernoulli(kNegate);
  return s;
}

Stmt conditional(Rng& rng, char var) {
  Stmt s;
  s.kind = StmtKind::If;
  s.var = var;
  s.modulus = static_cast<int>(rng.uniform_int(2, 3));
  s.equal = rng.bernoulli(0.5);
  const int64_t n = rng.uniform_int(1, kMaxIfBody);
  for (int64_t k = 0; k < n; ++k) s.body.push_back(assignment(rng, var));
  return s;
}

Stmt loop(Rng& rng, char var) {
  Stmt s;
  s.kind = StmtKind::For;
  s.var = var;
  s.start = static_cast<int>(rng.uniform_int(0, kStartMax));
  s.end = static_cast<EndKind>(rng.uniform_int(0, 2));
  if (s.end == EndKind::Const) s.end_const = static_cast<int>(rng.uniform_int(kEndConstMin, kEndConstMax));
  const int64_t n = rng.uniform_int(1, kMaxBody);
  bool nested = false;
  for (int64_t k = 0; k < n; ++k) {
    const bool may_nest = var == 'i' && !nested;
    switch (rng.weighted_index({kWeightAssign, kWeightIf, may_nest ? kWeightFor : 0})) {
      case 0: s.body.push_back(assignment(rng, var)); break;
      case 1: s.body.push_back(conditional(rng, var)); break;
      default:
        nested = true;
        s.body.push_back(loop(rng, 'j'));
    }
  }
  return s;
}

}  // namespace

Program generate(Rng& rng, int loops_min, int loops_max) {
  Program p;
  const int64_t n = rng.uniform_int(loops_min, loops_max);
  for (int64_t k = 0; k < n; ++k) p.loops.push_back(loop(rng, 'i'));
  return p;
}

}  // namespace mm::listpy
