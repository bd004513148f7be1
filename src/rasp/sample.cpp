// The random program generator of the paper's Appendix B.1: pick a number of operations; build each from
// a random primitive over earlier values of a fitting type; then add operations that consume unused
// statements until only the last is unused; return it. The behavioural filters (core/sample.h) decide
// afterwards whether the program is kept. Weights below are ours; the paper gives none.
#include <string>

#include "rasp/functions.h"
#include "rasp/rasp.h"

namespace mm::rasp {

namespace {

// Relative weights of the operations in the initial phase.
constexpr double kWeightMap = 3, kWeightSequenceMap = 2, kWeightLinear = 1, kWeightSelect = 3,
                 kWeightAggregate = 3, kWeightSelectorWidth = 1;
// Comparisons: the six orderings equally, TRUE and FALSE (which select everything or nothing) less.
const std::vector<double> kComparisonWeights = {1, 1, 1, 1, 1, 1, 0.5, 0.25};
constexpr double kNumericalAggregate = 0.3;  // P(an Aggregate is numerical)
constexpr double kNumericalMap = 0.1;        // P(a Map / SequenceMap / LinearSequenceMap is numerical)
constexpr double kDefaultZero = 0.2;         // P(an Aggregate has default=0 rather than None)

class Builder {
 public:
  explicit Builder(Rng& rng) : rng_(rng) {}

  void random_operation() {
    const bool have_selector = !selectors_.empty();
    const std::vector<double> w = {kWeightMap, kWeightSequenceMap, kWeightLinear, kWeightSelect,
                                   have_selector ? kWeightAggregate : 0, have_selector ? kWeightSelectorWidth : 0};
    switch (static_cast<Op>(rng_.weighted_index(w))) {
      case Op::Map: add_map(pick_sop()); break;
      case Op::SequenceMap: {
        const Ref a = pick_sop();
        add_sequence_map(a, pick_sop_other_than(a));
        break;
      }
      case Op::LinearSequenceMap: {
        const Ref a = pick_sop();
        add_linear(a, pick_sop_other_than(a));
        break;
      }
      case Op::Select: add_select(pick_sop(), pick_sop()); break;
      case Op::Aggregate: add_aggregate(rng_.pick(selectors_), pick_sop()); break;
      case Op::SelectorWidth: add_selector_width(rng_.pick(selectors_)); break;
    }
  }

  // Adds one operation that consumes unused statements; false once only the last (an s-op) is unused.
  bool consume_unused() {
    std::vector<Ref> unused_sops, unused_selectors;
    for (size_t i = 0; i < p_.statements.size(); ++i)
      if (uses_[i] == 0) (is_selector(p_.statements[i].op) ? unused_selectors : unused_sops).push_back(static_cast<Ref>(i));
    if (unused_selectors.empty() && unused_sops.size() <= 1) return false;
    if (!unused_selectors.empty()) {
      const Ref s = rng_.pick(unused_selectors);
      if (!unused_sops.empty() && rng_.bernoulli(0.8)) add_aggregate(s, rng_.pick(unused_sops));
      else if (rng_.bernoulli(0.5)) add_aggregate(s, pick_sop());
      else add_selector_width(s);
    } else {
      const size_t i = rng_.index(unused_sops.size());
      size_t j = rng_.index(unused_sops.size() - 1);
      if (j >= i) ++j;
      if (rng_.bernoulli(0.8)) add_sequence_map(unused_sops[i], unused_sops[j]);
      else add_linear(unused_sops[i], unused_sops[j]);
    }
    return true;
  }

  size_t size() const { return p_.statements.size(); }
  Program finish() {
    p_.output = static_cast<int>(p_.statements.size() - 1);
    return p_;
  }

 private:
  Ref pick_sop() { return rng_.pick(sops_); }
  Ref pick_sop_other_than(Ref a) {
    Ref b = pick_sop();
    while (b == a) b = pick_sop();  // there are always three primitives to choose from
    return b;
  }
  int pick_function(int arity) {
    const auto& fs = map_functions();
    std::vector<std::string> families;
    for (const auto& f : fs)
      if (f.arity == arity && (families.empty() || families.back() != f.family)) families.push_back(f.family);
    const std::string& family = rng_.pick(families);
    std::vector<int> members;
    for (size_t i = 0; i < fs.size(); ++i)
      if (fs[i].family == family) members.push_back(static_cast<int>(i));
    return rng_.pick(members);
  }
  Encoding encoding(double p_numerical) {
    return rng_.bernoulli(p_numerical) ? Encoding::Numerical : Encoding::Categorical;
  }
  int64_t coefficient() {
    const int64_t k = rng_.uniform_int(kCoefMin, kCoefMax - 1);
    return k >= 0 ? k + 1 : k;  // never 0: a zero factor ignores its input
  }

  void add(Statement s) {
    for (Ref r : {s.a, arity(s.op) == 2 ? s.b : kTokens})
      if (r >= 0) ++uses_[static_cast<size_t>(r)];
    const Ref id = static_cast<Ref>(p_.statements.size());
    p_.statements.push_back(s);
    uses_.push_back(0);
    (is_selector(s.op) ? selectors_ : sops_).push_back(id);
  }
  void add_map(Ref a) {
    Statement s;
    s.op = Op::Map;
    s.fn = pick_function(1);
    s.a = a;
    s.encoding = encoding(kNumericalMap);
    add(s);
  }
  void add_sequence_map(Ref a, Ref b) {
    Statement s;
    s.op = Op::SequenceMap;
    s.fn = pick_function(2);
    s.a = a;
    s.b = b;
    s.encoding = encoding(kNumericalMap);
    add(s);
  }
  void add_linear(Ref a, Ref b) {
    Statement s;
    s.op = Op::LinearSequenceMap;
    s.a = a;
    s.b = b;
    s.coef_a = coefficient();
    s.coef_b = coefficient();
    s.encoding = encoding(kNumericalMap);
    add(s);
  }
  void add_select(Ref keys, Ref queries) {
    Statement s;
    s.op = Op::Select;
    s.a = keys;
    s.b = queries;
    s.cmp = static_cast<Comparison>(rng_.weighted_index(kComparisonWeights));
    add(s);
  }
  void add_aggregate(Ref selector, Ref sop) {
    Statement s;
    s.op = Op::Aggregate;
    s.a = selector;
    s.b = sop;
    s.encoding = encoding(kNumericalAggregate);
    if (rng_.bernoulli(kDefaultZero)) s.default_value = 0;
    add(s);
  }
  void add_selector_width(Ref selector) {
    Statement s;
    s.op = Op::SelectorWidth;
    s.a = selector;
    add(s);
  }

  Rng& rng_;
  Program p_;
  std::vector<int> uses_;                                // per statement: how many later statements read it
  std::vector<Ref> sops_ = {kTokens, kIndices, kLength};  // what an s-op argument may be
  std::vector<Ref> selectors_;                            // what a selector argument may be
};

}  // namespace

Program generate(Rng& rng, int ops_min, int ops_max) {
  Builder b(rng);
  const int64_t n = rng.uniform_int(ops_min, ops_max);
  for (int64_t k = 0; k < n; ++k) b.random_operation();
  while (b.consume_unused())
    if (b.size() > static_cast<size_t>(kMaxStatements)) return {};
  return canonicalize(b.finish());
}

}  // namespace mm::rasp
