// The RASP synthesizer (see synth.h). Data flow: the behaviour's inputs -> one search per thread, each on
// its own subset (per length, a fixed part) -> the position layout (every position's (token, position,
// length) triple) and the model's outputs as classes -> the bank, seeded with the primitives and the
// guides' statements -> cost 1 built and kept, then the selectors the model's attention heads point at
// (when given) -> cost 2 built and kept (selects, selector widths, aggregates, maps, sequence maps, linear
// sequence maps: each built as a table, dropped where it raises, merged with an equal table already kept,
// scored against the model) -> rounds of: check the costs the bank allows (scored only, stopped at the
// first losses), invert the last operation (EQ selects, Aggregates' values, linear maps), keep one cost
// more -> a last inversion -> the best 32 programs of every search, rebuilt, canonicalized and re-scored on
// every verification input -> the result.
#include "decompile/synth.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <set>
#include <unordered_map>

#include "core/error.h"
#include "core/language.h"
#include "core/rng.h"
#include "decompile/heads.h"
#include "rasp/functions.h"
#include "rasp/rasp.h"

namespace mm {

namespace {

using rasp::Comparison;
using rasp::Op;
using Clock = std::chrono::steady_clock;

constexpr uint16_t kRaise = 0xFFFF;    // "this expression raises here"
constexpr uint16_t kUnknown = 0xFFFE;  // a memo entry not yet computed
constexpr uint32_t kMaxCodes = 0xFF00;  // distinct values one search may hold
constexpr uint32_t kBinaryMemo = 256;   // pairs of codes below this are memoized densely
constexpr int kNoDefault = 127;         // an Aggregate without default (None)

const Comparison kOrderings[] = {Comparison::EQ, Comparison::LT, Comparison::LEQ,
                                 Comparison::GT, Comparison::GEQ, Comparison::NEQ};
const int kDefaults[] = {kNoDefault, 0, -2, -1, 1, 2, 3, 4};  // kept: the first two (the sampler's)

uint64_t mix(uint64_t h) {
  h ^= h >> 31;
  h *= 0x7fb5d329728ea185ULL;
  h ^= h >> 27;
  h *= 0x81dadef4bc2dd44dULL;
  h ^= h >> 33;
  return h;
}

template <class T>
uint64_t hash_span(const T* v, size_t n, uint64_t seed) {
  uint64_t h = mix(seed ^ (n * 0x9E3779B97F4A7C15ULL));
  const unsigned char* bytes = reinterpret_cast<const unsigned char*>(v);
  const size_t len = n * sizeof(T);
  size_t k = 0;
  for (; k + 8 <= len; k += 8) {
    uint64_t w;
    std::memcpy(&w, bytes + k, 8);
    h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
    h ^= h >> 29;
  }
  uint64_t w = 0;
  std::memcpy(&w, bytes + k, len - k);
  return mix(h ^ w ^ len);
}

// Calls body with comparison c as a function object of (key, query) — tracr's cmp(key, query) on numbers —
// so that the loops inside body compile without a switch per comparison.
template <class F>
void with_comparison(Comparison c, F&& body) {
  switch (c) {
    case Comparison::EQ: body([](double k, double q) { return k == q; }); break;
    case Comparison::LT: body([](double k, double q) { return k < q; }); break;
    case Comparison::LEQ: body([](double k, double q) { return k <= q; }); break;
    case Comparison::GT: body([](double k, double q) { return k > q; }); break;
    case Comparison::GEQ: body([](double k, double q) { return k >= q; }); break;
    case Comparison::NEQ: body([](double k, double q) { return k != q; }); break;
    case Comparison::TRUE: body([](double, double) { return true; }); break;
    case Comparison::FALSE: body([](double, double) { return false; }); break;
  }
}

// What an expression is: enough to rebuild it as a RASP statement.
struct Def {
  Op op = Op::Map;
  int fn = 0;
  int a = -1, b = -1;  // Map: a; SequenceMap/Linear: a, b; Select: keys a, queries b; Aggregate: sel a, sop b; Width: sel a
  int8_t ca = 1, cb = 1;
  int8_t dflt = kNoDefault;
  Comparison cmp = Comparison::EQ;
};

struct SopEntry {
  Def def;
  int prim = 0;  // rasp::kTokens / kIndices / kLength for the primitives, else 0
  int cost = 0, size = 0;
  bool local = true;
  bool has_none = false;
  size_t off = 0;    // into the local or global arena
};

struct SelEntry {
  Def def;
  int cost = 0, size = 0;
};

struct Table {
  bool local = true;
  std::vector<uint16_t> v;
  bool has_none = false;
};

class Synth {
 public:
  // `finished` (may be null): set by whichever search of several side by side matches its behaviour on
  // every position; the others stop at their next budget check.
  Synth(const Behaviour& b, const InputDomain& domain, const SynthOptions& o, std::atomic<bool>* finished = nullptr,
        const Behaviour* whole = nullptr)
      : behaviour_(b), domain_(domain), o_(o), start_(Clock::now()), finished_(finished), whole_(whole ? whole : &b) {
    layout();
    init_pool();
    init_target();
    init_primitives();
  }

  void run() {
    // Enumeration takes the budget up to kEnumerateShare; then one last inversion over everything kept.
    deadline_ = o_.max_seconds * kEnumerateShare;
    for (size_t g = 0; g < o_.guides.size() && !stop_; ++g) add_guide(o_.guides[g]);
    // Costs 1 and 2 are built and kept outright; from cost 3 on, each cost is first checked (fast,
    // nothing kept), then the kept s-ops are inverted, then the cost is built and kept for the next.
    auto report = [&](int cost, const char* what) {
      if (!o_.progress) return;
      char b[200];
      std::snprintf(b, sizeof b, "synthesis: cost %d %s %s at %.2f s: %lld expressions, %zu s-ops, %zu selectors kept, best %.2f%% (size %d)",
                    cost, what, stop_ ? "stopped" : "done", elapsed(), static_cast<long long>(expressions_), sops_.size(), sels_.size(),
                    100.0 * static_cast<double>(best_agree_) / static_cast<double>(std::max<int64_t>(positions_, 1)), best_size_);
      o_.progress(b + std::string(" [") + phase_report() + "]");
    };
    // Costs up to `kept` are built and kept; after each, every cost up to 2 * kept + 1 is checked on the
    // splits the new costs allow (nothing kept), then the kept s-ops are inverted, then one cost more is kept.
    int kept = 0;
    auto grow = [&](int cost) {
      if (cost >= static_cast<int>(by_cost_.size())) by_cost_.resize(static_cast<size_t>(cost) + 1);
      if (cost >= static_cast<int>(sels_by_cost_.size())) sels_by_cost_.resize(static_cast<size_t>(cost) + 1);
    };
    for (int cost = 1; cost <= 2 && !stop_; ++cost) {
      grow(cost);
      level(cost, /*bank=*/true);
      report(cost, "kept");
      if (stop_) break;
      kept = complete_cost_ = cost;
      if (cost == 1) add_head_selectors();
    }
    // Each phase of a round gets a share of the enumeration's time left, so that checking, inversion
    // and keeping one cost more all happen within any budget.
    auto share = [&](double fraction) {
      soft_ = false;
      soft_deadline_ = elapsed() + fraction * std::max(0.0, deadline_ - elapsed());
    };
    auto resume = [&] {  // after a phase stopped by its share (not by the budget)
      if (soft_ && !budget_spent_) stop_ = false;
      soft_ = false;
      soft_deadline_ = 1e300;
    };
    int checked_up_to = kept;  // the costs kept when the last checks ran
    int before = 0;
    while (!stop_ && best_agree_ < positions_) {
      share(kCheckShare);
      for (int c = kept + 1; c <= 2 * kept + 1 && !stop_ && best_agree_ < positions_; ++c) {
        grow(c);
        level(c, /*bank=*/false, before, kept);
        report(c, "checked");
        if (!stop_ && c == kept + 1) complete_cost_ = c;
      }
      resume();
      checked_up_to = kept;
      if (stop_ || best_agree_ == positions_) break;
      share(kInvertShare);
      invert();
      resume();
      if (stop_ || best_agree_ == positions_) break;
      grow(kept + 1);
      level(kept + 1, /*bank=*/true);  // the rest of the enumeration's time
      report(kept + 1, "kept");
      if (stop_) break;
      before = checked_up_to;
      ++kept;
    }
    if (best_agree_ < positions_ && expressions_ < o_.max_expressions && !(finished_ && finished_->load())) {
      stop_ = false;
      deadline_ = o_.max_seconds;
      invert();
    }
    // Several searches side by side: the others stop once this one's best also matches every position of
    // the whole behaviour (not only of this search's sample).
    if (finished_ && best_agree_ == positions_ && !top_.empty()) {
      const std::unique_ptr<Program> p = rasp::language().detokenize(rasp::tokenize(program_of(top_.front().def)));
      if (count_disagreements(*p, *whole_) == 0) finished_->store(true);
    }
    if (o_.progress) {
      char b[200];
      std::snprintf(b, sizeof b, "synthesis: done at %.2f s: %lld expressions, %lld by inversion, best %.2f%% (size %d)", elapsed(),
                    static_cast<long long>(expressions_), static_cast<long long>(inverted_found_),
                    100.0 * static_cast<double>(best_agree_) / static_cast<double>(std::max<int64_t>(positions_, 1)), best_size_);
      o_.progress(b);
    }
  }

  // ---- inversion ----------------------------------------------------------------------------------
  // The last operation solved for, instead of enumerated: for LinearSequenceMap(X, Y, a, b) to give the
  // model's output T, Y must be (T - a*X) / b. For every kept X and factor pair, that implied Y is
  // computed on a few fixed bands of positions and looked up among the kept s-ops by their values there;
  // each hit is built and scored like any expression. Bands (rather than the whole table) so that a
  // position where the model errs spoils one band, not the lookup. This reaches Linear(X, Y) for any X
  // and Y kept — costs up to twice the enumeration's — at the price of one pass over the kept s-ops.
  static constexpr int kBands = 4, kBandWidth = 16;
  static constexpr size_t kMaxHits = 64;  // s-ops tried per implied Y (equal on the bands, the oldest first)
  static int64_t quantum(double v) { return std::isnan(v) ? INT64_MIN : std::llround(v * 1048576.0); }
  uint64_t band_hash(const int64_t* q, int b) const { return hash_span(q, kBandWidth, 0xBA5D + static_cast<uint64_t>(b)); }

  void index_bands() {
    if (band_pos_.empty()) {
      Rng rng(0x5eed);
      for (int k = 0; k < kBands * kBandWidth; ++k) band_pos_.push_back(static_cast<int64_t>(rng.index(static_cast<size_t>(P_))));
    }
    for (int b = 0; b < kBands; ++b) {
      auto& idx = band_index_[b];
      int64_t q[kBandWidth];
      for (size_t id = indexed_; id < sops_.size(); ++id) {
        const SopEntry& e = sops_[id];
        for (int k = 0; k < kBandWidth; ++k) q[k] = quantum(num_[at(e, band_pos_[static_cast<size_t>(b * kBandWidth + k)])]);
        idx.emplace_back(band_hash(q, b), static_cast<int>(id));
      }
      std::sort(idx.begin(), idx.end());
    }
    indexed_ = sops_.size();
  }

  // Aggregate(Select(K, Q, EQ), V) solved for Q, where each query selects one key: the model's output
  // at a query must then be V at the selected key. For V among the local s-ops of cost <= 1, count per
  // (key triple, query triple) pair how often T(query) == V(key): the pairs that always agree are the
  // ones a selector may select. For each local K of cost <= 1, the value Q must hold at each query triple
  // is the K value whose key triples are all allowed; the Q table so implied is looked up among the kept
  // s-ops (any cost). Reaches reverse-like programs whose selector compares two local values.
  void invert_selects() {
    if (V_ * domain_.len_max > 64 * 64 || triple_order_.empty()) return;
    std::vector<int> cbase(static_cast<size_t>(domain_.len_max) + 1, 0);
    int LS = 0;
    for (int n = domain_.len_min; n <= domain_.len_max; ++n) {
      cbase[static_cast<size_t>(n)] = LS;
      LS += (n * V_) * (n * V_);
    }
    auto cidx = [&](int n, int q, int tq, int k, int tk) { return cbase[static_cast<size_t>(n)] + ((q * V_ + tq) * n + k) * V_ + tk; };
    std::vector<int32_t> agree(static_cast<size_t>(LS)), total(static_cast<size_t>(LS));
    std::vector<uint8_t> allowed(static_cast<size_t>(LS));
    std::vector<int> values;  // V candidates: local, cost <= 1
    for (int c = 0; c <= 1 && c < static_cast<int>(by_cost_.size()); ++c)
      for (int id : by_cost_[static_cast<size_t>(c)])
        if (sops_[static_cast<size_t>(id)].local) values.push_back(id);
    const std::vector<int>& keys = values;
    if (key_triples_.empty())
      for (int j = 0; j < kKeyTriples; ++j) key_triples_.push_back(triple_order_[static_cast<size_t>(j) % triple_order_.size()]);
    const std::vector<std::pair<uint64_t, int>>* index = key_index_on(key_triples_);
    if (!index) return;
    Table t;
    std::vector<uint16_t> implied(static_cast<size_t>(L_));
    for (int v : values) {
      if (!spend() || best_agree_ == positions_) return;
      const uint16_t* vv = data(sops_[static_cast<size_t>(v)]);
      std::fill(agree.begin(), agree.end(), 0);
      std::fill(total.begin(), total.end(), 0);
      for (size_t i = 0; i < in_start_.size(); ++i) {
        const int64_t st = in_start_[i];
        const int n = in_len_[i];
        const Input& x = behaviour_.inputs[i];
        for (int q = 0; q < n; ++q) {
          const uint16_t tq = target_[static_cast<size_t>(st + q)];
          const int xq = static_cast<int>(x[static_cast<size_t>(q)] - vmin_);
          for (int k = 0; k < n; ++k) {
            const int xk = static_cast<int>(x[static_cast<size_t>(k)] - vmin_);
            const int e = cidx(n, q, xq, k, xk);
            ++total[static_cast<size_t>(e)];
            agree[static_cast<size_t>(e)] += tc_[vv[lidx(xk + vmin_, k, n)]] == tq;
          }
        }
      }
      // Allowed: seen, and agreeing on at least 80% of its occurrences (the model errs, and its errors
      // cluster; a pair that agrees by chance does so about 1 time in the number of values).
      bool covered = true;
      for (int n = domain_.len_min; n <= domain_.len_max && covered; ++n)
        for (int q = 0; q < n && covered; ++q)
          for (int tq = 0; tq < V_ && covered; ++tq) {
            bool any = false, seen = false;
            for (int k = 0; k < n; ++k)
              for (int tk = 0; tk < V_; ++tk) {
                const size_t e = static_cast<size_t>(cidx(n, q, tq, k, tk));
                allowed[e] = total[e] > 0 && agree[e] * 5 >= total[e] * 4;
                any |= allowed[e] != 0;
                seen |= total[e] > 0;
              }
            if (seen && !any) covered = false;
          }
      if (!covered) continue;
      for (int K : keys) {
        if (!spend()) return;
        const uint16_t* kv = data(sops_[static_cast<size_t>(K)]);
        for (int n = domain_.len_min; n <= domain_.len_max; ++n)
          for (int q = 0; q < n; ++q)
            for (int tq = 0; tq < V_; ++tq) {
              // The K value whose realizable key triples are most often allowed (at least 60% of them; the
              // model's errors can spoil a few).
              int chosen = -1;
              double best_frac = 0.6 - 1e-9;
              for (int k = 0; k < n; ++k)
                for (int tk = 0; tk < V_; ++tk) {
                  if (k == q && tk != tq) continue;
                  const uint16_t val = kv[lidx(tk + vmin_, k, n)];
                  if (val == chosen) continue;
                  int with = 0, ok_with = 0;
                  for (int k2 = 0; k2 < n; ++k2)
                    for (int tk2 = 0; tk2 < V_; ++tk2) {
                      if (k2 == q && tk2 != tq) continue;
                      if (kv[lidx(tk2 + vmin_, k2, n)] != val) continue;
                      ++with;
                      ok_with += allowed[static_cast<size_t>(cidx(n, q, tq, k2, tk2))];
                    }
                  const double frac = static_cast<double>(ok_with) / with;
                  if (frac > best_frac) {
                    best_frac = frac;
                    chosen = val;
                  }
                }
              // None, or no value: unknown here (the lookup below reads only the fullest triples).
              const bool known = chosen >= 0 && num_[static_cast<size_t>(chosen)] == num_[static_cast<size_t>(chosen)];
              implied[static_cast<size_t>(lidx(tq + vmin_, q, n))] = known ? static_cast<uint16_t>(chosen) : kUnknown;
            }
        // The implied Q among the kept local s-ops, by its values on the fullest triples; each hit runs.
        uint16_t key[kKeyTriples];
        bool known = true;
        for (int j = 0; j < kKeyTriples && known; ++j) {
          key[j] = implied[static_cast<size_t>(key_triples_[static_cast<size_t>(j)])];
          known = key[j] != kUnknown;
        }
        if (!known) continue;
        const uint64_t h = key_hash(key, kKeyTriples);
        for (auto it = std::lower_bound(index->begin(), index->end(), std::make_pair(h, INT_MIN));
             it != index->end() && it->first == h && !stop_; ++it) {
        if (!spend()) return;
        const int qid = it->second;
        const SopEntry& Qe = sops_[static_cast<size_t>(qid)];
        if (Qe.has_none) continue;
        Def sd;
        sd.op = Op::Select;
        sd.a = K;
        sd.b = qid;
        sd.cmp = Comparison::EQ;
        const int cost = std::min(1 + sops_[static_cast<size_t>(K)].cost + Qe.cost, static_cast<int>(sels_by_cost_.size()) - 1);
        const int sel = consider_sel(sd, cost, 1 + sops_[static_cast<size_t>(K)].size + Qe.size);
        std::vector<int32_t> empty;
        if (!build_mixing(sel, &sops_[static_cast<size_t>(v)], t, &empty)) continue;
        ++inverted_found_;
        Def d;
        d.op = Op::Aggregate;
        d.a = sel;
        d.b = v;
        offer(score(t), 1 + sels_[static_cast<size_t>(sel)].size + sops_[static_cast<size_t>(v)].size, d);
        }
      }
    }
  }
  static constexpr int kKeyTriples = 10;
  static uint64_t key_hash(const uint16_t* key, size_t n) { return hash_span(key, n, 0x7e1); }
  // The kept local s-ops by their codes on `triples` (sorted key_hash, id), brought up to date: one index
  // per triple list, shared by the inversions. `capped` (the Aggregate inversion's lists): null past
  // kMaxKeyIndexes such lists (memory).
  static constexpr size_t kMaxKeyIndexes = 24;
  const std::vector<std::pair<uint64_t, int>>* key_index_on(const std::vector<int>& triples, bool capped = false) {
    const uint64_t name = hash_span(triples.data(), triples.size(), 0x1d3);
    auto it = key_indexes_.find(name);
    if (capped && (it == key_indexes_.end() || !it->second.capped)) {
      if (capped_indexes_ >= kMaxKeyIndexes) return nullptr;
      ++capped_indexes_;
    }
    if (it == key_indexes_.end()) it = key_indexes_.emplace(name, KeyIndex{}).first;
    KeyIndex& ki = it->second;
    ki.capped |= capped;
    const size_t before = ki.index.size();
    uint16_t key[kKeyTriples];
    for (; ki.upto < sops_.size(); ++ki.upto) {
      const SopEntry& e = sops_[ki.upto];
      if (!e.local) continue;
      for (size_t j = 0; j < triples.size(); ++j) key[j] = data(e)[triples[j]];
      ki.index.emplace_back(key_hash(key, triples.size()), static_cast<int>(ki.upto));
    }
    if (ki.index.size() != before) std::sort(ki.index.begin(), ki.index.end());
    return &ki.index;
  }

  // Aggregate(S, V) solved for V, for a kept selector S of cost <= 2 and V local: the model's output at a
  // query is the mean of V over the keys S selects (a categorical Aggregate is the case where they are
  // all equal), so the output table T is linear in V's local table: T(p) = sum over selected keys k of
  // V(triple(k)) / width(p). V is the least-squares solution over every position with a number out (a
  // small ridge for the triples no selected key has), rounded to the nearest half, and looked up among the
  // kept local s-ops by its values on the ten fullest triples that some selected key has; each hit is
  // built and scored like any expression. This reaches Aggregates whose values cost 2 or more, and numerical means of any kept
  // local s-op, at the price of a small linear solve per selector.
  static constexpr int kMaxSolve = 256;  // local triples: larger domains are not solved for
  uint16_t code_near(double v) const {
    const double half = std::round(v * 2) / 2;
    if (std::abs(v - half) > 0.2) return kRaise;  // not near a half: no kept s-op holds it
    if (half == std::floor(half)) {
      const auto it = int_map_.find(static_cast<uint64_t>(static_cast<int64_t>(half)));
      return it == int_map_.end() ? kRaise : it->second;
    }
    uint64_t key;
    std::memcpy(&key, &half, 8);
    const auto it = float_map_.find(key);
    return it == float_map_.end() ? kRaise : it->second;
  }
  // Solves selectors in order until `until` (seconds into the search), then leaves the rest of the
  // inversion's time to the linear maps; the next inversion goes on from there.
  static constexpr double kAggregateShare = 0.4;
  static constexpr size_t kMaxAggregateHits = 16;  // kept s-ops tried per solved V
  void invert_aggregates(double until) {
    if (L_ > kMaxSolve || triple_order_.empty()) return;
    const size_t L = static_cast<size_t>(L_);
    std::vector<double> M(L * L), rhs(L), diag(L);
    std::vector<int> nz;
    Table t;
    std::vector<int32_t> empty;
    for (; agg_inverted_upto_ < sels_.size() && !stop_ && best_agree_ < positions_; ++agg_inverted_upto_) {
      const int s = static_cast<int>(agg_inverted_upto_);
      if (sels_[static_cast<size_t>(s)].cost > 2) continue;
      if (!spend() || elapsed() >= until) return;
      load_rows(s);
      std::fill(M.begin(), M.end(), 0.0);
      std::fill(rhs.begin(), rhs.end(), 0.0);
      for (size_t i = 0; i < in_start_.size(); ++i) {
        const int64_t st = in_start_[i];
        const int n = in_len_[i];
        for (int q = 0; q < n; ++q) {
          const size_t p = static_cast<size_t>(st + q);
          const uint64_t r = rows_[p];
          const double tv = target_num_[p];
          if (r == 0 || std::isnan(tv)) continue;
          nz.clear();
          for (uint64_t m = r; m; m &= m - 1) nz.push_back(local_of_[static_cast<size_t>(st + __builtin_ctzll(m))]);
          const double inv = 1.0 / static_cast<double>(nz.size());
          for (int a : nz) {
            rhs[static_cast<size_t>(a)] += inv * tv;
            for (int b : nz) M[static_cast<size_t>(a) * L + static_cast<size_t>(b)] += inv * inv;
          }
        }
      }
      for (size_t a = 0; a < L; ++a) {
        diag[a] = M[a * L + a];
        M[a * L + a] += 1e-6 * (1 + diag[a]);
      }
      // Cholesky, in place (the lower triangle), then the two triangular solves.
      bool ok = true;
      for (size_t j = 0; j < L && ok; ++j) {
        double d = M[j * L + j];
        for (size_t k = 0; k < j; ++k) d -= M[j * L + k] * M[j * L + k];
        if (d <= 0) ok = false;
        else M[j * L + j] = std::sqrt(d);
        for (size_t i = j + 1; i < L && ok; ++i) {
          double x = M[i * L + j];
          for (size_t k = 0; k < j; ++k) x -= M[i * L + k] * M[j * L + k];
          M[i * L + j] = x / M[j * L + j];
        }
      }
      if (!ok) continue;
      for (size_t i = 0; i < L; ++i) {
        double x = rhs[i];
        for (size_t k = 0; k < i; ++k) x -= M[i * L + k] * rhs[k];
        rhs[i] = x / M[i * L + i];
      }
      for (size_t i = L; i-- > 0;) {
        double x = rhs[i];
        for (size_t k = i + 1; k < L; ++k) x -= M[k * L + i] * rhs[k];
        rhs[i] = x / M[i * L + i];
      }
      // The lookup reads V on the fullest triples that some selected key has: V elsewhere never reaches
      // the output, so any kept s-op equal there will do.
      std::vector<int> triples;
      for (int l : triple_order_) {
        if (diag[static_cast<size_t>(l)] > 0) triples.push_back(l);
        if (static_cast<int>(triples.size()) == kKeyTriples) break;
      }
      if (triples.size() < 3) continue;
      const std::vector<std::pair<uint64_t, int>>* index = key_index_on(triples, /*capped=*/true);
      if (!index) continue;
      uint16_t key[kKeyTriples];
      bool known = true;
      for (size_t j = 0; j < triples.size() && known; ++j) {
        key[j] = code_near(rhs[static_cast<size_t>(triples[j])]);
        known = key[j] != kRaise;
      }
      if (!known) continue;
      const uint64_t h = key_hash(key, triples.size());
      size_t hits = 0;
      for (auto it = std::lower_bound(index->begin(), index->end(), std::make_pair(h, INT_MIN));
           it != index->end() && it->first == h && !stop_ && hits < kMaxAggregateHits; ++it, ++hits) {
        if (!spend()) return;
        const SopEntry& Ve = sops_[static_cast<size_t>(it->second)];
        if (Ve.has_none) continue;
        if (!build_mixing(s, &Ve, t, &empty)) continue;
        ++inverted_found_;
        Def d;
        d.op = Op::Aggregate;
        d.a = s;
        d.b = it->second;
        const int size = 1 + sels_[static_cast<size_t>(s)].size + Ve.size;
        const int64_t agree = score(t);
        offer(agree, size, d);
        if (!empty.empty()) other_defaults(d, 0, size, t, agree, empty, false);
      }
    }
  }

  void invert() {
    phase("invert select");
    invert_selects();
    phase("invert aggregate");
    invert_aggregates(elapsed() + kAggregateShare * std::max(0.0, std::min(deadline_, soft_deadline_) - elapsed()));
    phase("invert linear");
    if (band_pos_.empty() || indexed_ < sops_.size()) index_bands();
    const size_t upto = sops_.size();
    Table t;
    std::vector<int> hits;
    for (size_t x = inverted_upto_; x < upto && !stop_ && best_agree_ < positions_; ++x) {
      const SopEntry X = sops_[x];
      double xv[kBands * kBandWidth], tv[kBands * kBandWidth];
      bool possible = true;
      for (int k = 0; k < kBands * kBandWidth; ++k) {
        const int64_t p = band_pos_[static_cast<size_t>(k)];
        xv[k] = num_[at(X, p)];
        tv[k] = target_num_[static_cast<size_t>(p)];
        if (std::isnan(xv[k]) && !std::isnan(tv[k])) possible = false;  // None in, a number out: never
      }
      if (!possible) continue;
      for (int fa = -3; fa <= 3 && !stop_; ++fa)
        for (int fb = -3; fb <= 3; ++fb) {
          if (fa == 0 || fb == 0) continue;
          if (!spend()) break;
          hits.clear();
          for (int b = 0; b < kBands; ++b) {
            int64_t q[kBandWidth];
            bool usable = true;
            for (int k = 0; k < kBandWidth && usable; ++k) {
              const int j = b * kBandWidth + k;
              if (std::isnan(xv[j])) usable = false;  // None in, None out: Y is free here
              else q[k] = std::isnan(tv[j]) ? INT64_MIN : quantum((tv[j] - fa * xv[j]) / fb);
            }
            if (!usable) continue;
            const uint64_t h = band_hash(q, b);
            const auto& idx = band_index_[b];
            for (auto it = std::lower_bound(idx.begin(), idx.end(), std::make_pair(h, INT_MIN));
                 it != idx.end() && it->first == h && hits.size() < kMaxHits; ++it)
              if (it->second != static_cast<int>(x) && std::find(hits.begin(), hits.end(), it->second) == hits.end()) hits.push_back(it->second);
          }
          for (int y : hits) {
            if (!spend()) break;
            const SopEntry Y = sops_[static_cast<size_t>(y)];
            Def d;
            d.op = Op::LinearSequenceMap;
            d.a = static_cast<int>(x);
            d.b = y;
            d.ca = static_cast<int8_t>(fa);
            d.cb = static_cast<int8_t>(fb);
            if (!build_binary(10 + pair_of(fa, fb), X, Y, t)) continue;
            ++inverted_found_;
            const int cost = std::min(X.cost + Y.cost + 1, static_cast<int>(by_cost_.size()) - 1);
            consider_sop(d, cost, 1 + X.size + Y.size, t);
          }
        }
      if (!stop_) inverted_upto_ = x + 1;
    }
  }

 private:
  // ---- layout -------------------------------------------------------------------------------------
  void layout() {
    vmin_ = domain_.value_min;
    V_ = static_cast<int>(domain_.value_max - domain_.value_min + 1);
    base_.assign(static_cast<size_t>(domain_.len_max) + 1, 0);
    int L = 0;
    for (int n = domain_.len_min; n <= domain_.len_max; ++n) {
      base_[static_cast<size_t>(n)] = L;
      L += V_ * n;
    }
    L_ = L;
    for (const Input& x : behaviour_.inputs) {
      const std::string why = domain_.why_not_contained(x);
      if (!why.empty()) throw Error("the synthesizer's input is outside the model's domain: " + why);
      in_start_.push_back(static_cast<int32_t>(local_of_.size()));
      in_len_.push_back(static_cast<int32_t>(x.size()));
      for (size_t q = 0; q < x.size(); ++q) local_of_.push_back(lidx(x[q], static_cast<int>(q), static_cast<int>(x.size())));
    }
    P_ = static_cast<int64_t>(local_of_.size());
    positions_ = P_;
    penalty_ = o_.size_penalty * static_cast<double>(P_);
  }
  int lidx(int64_t t, int q, int n) const { return base_[static_cast<size_t>(n)] + q * V_ + static_cast<int>(t - vmin_); }

  // ---- values -------------------------------------------------------------------------------------
  void init_pool() {
    vals_.reserve(kMaxCodes);
    num_.reserve(kMaxCodes);
    is_int_.reserve(kMaxCodes);
    tc_.reserve(kMaxCodes);
    unary_memo_.assign(rasp::map_functions().size(), {});
    intern(Value::none());  // code 0
  }
  uint16_t intern(Value v) {
    uint64_t key;
    if (v.kind == Value::Kind::None) key = 0;
    else if (v.kind == Value::Kind::Int) key = static_cast<uint64_t>(v.i);
    else std::memcpy(&key, &v.f, 8);
    auto& m = v.kind == Value::Kind::None ? none_map_ : v.kind == Value::Kind::Int ? int_map_ : float_map_;
    const auto it = m.find(key);
    if (it != m.end()) return it->second;
    if (vals_.size() >= kMaxCodes) return kRaise;  // too many distinct values: the expression is dropped
    const uint16_t c = static_cast<uint16_t>(vals_.size());
    vals_.push_back(v);
    num_.push_back(v.is_none() ? std::nan("") : v.as_double());
    is_int_.push_back(v.kind == Value::Kind::Int);
    tc_.push_back(target_class(v));
    m.emplace(key, c);
    return c;
  }

  // ---- the model's outputs ------------------------------------------------------------------------
  // Classes by Python equality: None, or a number (3 == 3.0).
  uint16_t target_class(Value v) const {
    if (v.is_none()) return none_class_;
    const auto it = class_of_.find(v.as_double());
    return it == class_of_.end() ? static_cast<uint16_t>(K_) : it->second;
  }
  void init_target() {
    // Classes first (codes are classified as they are interned), then the per-position classes.
    std::map<double, uint16_t> classes;
    bool none = false;
    for (const auto& row : behaviour_.outputs)
      for (const Value& v : row) {
        if (v.is_none()) none = true;
        else classes.emplace(v.as_double(), 0);
      }
    uint16_t k = 0;
    for (auto& [value, id] : classes) {
      id = k++;
      class_of_.emplace(value, id);
    }
    none_class_ = none ? k++ : 0xFFFF;
    K_ = k;
    if (!none) none_class_ = static_cast<uint16_t>(K_);
    // Fix up the codes interned before the classes were known (None).
    for (size_t c = 0; c < vals_.size(); ++c) tc_[c] = target_class(vals_[c]);
    target_.reserve(static_cast<size_t>(P_));
    for (size_t i = 0; i < behaviour_.inputs.size(); ++i) {
      const auto& row = behaviour_.outputs[i];
      if (row.size() != behaviour_.inputs[i].size()) throw Error("the behaviour has an output row of the wrong length");
      for (const Value& v : row) {
        target_.push_back(target_class(v));
        target_num_.push_back(v.is_none() ? std::nan("") : v.as_double());
      }
    }
    // Per (token, position, length) triple: how many positions of the model's output hold each class.
    counts_.assign(static_cast<size_t>(L_) * (K_ + 1), 0);
    for (int64_t p = 0; p < P_; ++p) ++counts_[static_cast<size_t>(local_of_[static_cast<size_t>(p)]) * (K_ + 1) + target_[static_cast<size_t>(p)]];
    for (int l = 0; l < L_; ++l) counts_[static_cast<size_t>(l) * (K_ + 1) + K_] = 0;  // no class: agrees nowhere
    triple_total_.assign(static_cast<size_t>(L_), 0);
    for (int64_t p = 0; p < P_; ++p) ++triple_total_[static_cast<size_t>(local_of_[static_cast<size_t>(p)])];
    for (int l = 0; l < L_; ++l)
      if (triple_total_[static_cast<size_t>(l)] > 0) triple_order_.push_back(l);
    std::stable_sort(triple_order_.begin(), triple_order_.end(), [&](int x, int y) {
      return triple_total_[static_cast<size_t>(x)] > triple_total_[static_cast<size_t>(y)];
    });
  }

  // ---- the bank -----------------------------------------------------------------------------------
  void init_primitives() {
    for (int prim : {rasp::kTokens, rasp::kIndices, rasp::kLength}) {
      Table t;
      t.local = true;
      t.v.assign(static_cast<size_t>(L_), 0);
      for (int n = domain_.len_min; n <= domain_.len_max; ++n)
        for (int q = 0; q < n; ++q)
          for (int64_t tok = domain_.value_min; tok <= domain_.value_max; ++tok) {
            const int64_t v = prim == rasp::kTokens ? tok : prim == rasp::kIndices ? q : n;
            t.v[static_cast<size_t>(lidx(tok, q, n))] = intern(Value::of_int(v));
          }
      SopEntry e;
      e.prim = prim;
      e.cost = 0;
      e.size = 0;
      const int id = keep_sop(e, t);
      by_cost_.resize(1);
      by_cost_[0].push_back(id);
    }
  }

  const uint16_t* data(const SopEntry& e) const {
    return e.local ? local_arena_.data() + e.off : global_arena_.data() + e.off;
  }
  uint16_t at(const SopEntry& e, int64_t p) const {
    return e.local ? local_arena_[e.off + static_cast<size_t>(local_of_[static_cast<size_t>(p)])] : global_arena_[e.off + static_cast<size_t>(p)];
  }

  int keep_sop(SopEntry e, const Table& t) {
    const size_t bytes = t.v.size() * sizeof(uint16_t);
    if (memory_used_ + bytes > static_cast<size_t>(o_.memory_mb) * (1u << 20)) {
      memory_full_ = true;
      return -1;
    }
    memory_used_ += bytes;
    e.local = t.local;
    e.has_none = t.has_none;
    auto& arena = t.local ? local_arena_ : global_arena_;
    if (arena.capacity() < arena.size() + t.v.size())  // grow by doubling, within the memory budget
      arena.reserve(std::min(std::max(arena.capacity() * 2, arena.size() + t.v.size()),
                             static_cast<size_t>(o_.memory_mb) * (1u << 20) / sizeof(uint16_t) + t.v.size()));
    e.off = arena.size();
    arena.insert(arena.end(), t.v.begin(), t.v.end());
    sops_.push_back(e);
    ++kept_;
    return static_cast<int>(sops_.size() - 1);
  }

  // ---- budget -------------------------------------------------------------------------------------
  // The budget's clock: wall-clock seconds, or expressions built at o_.expressions_per_second.
  double elapsed() const {
    if (o_.expressions_per_second > 0) return static_cast<double>(expressions_) / o_.expressions_per_second;
    return elapsed_seconds();
  }
  // Counts one expression; sets stop_ when the budget is spent.
  bool spend() {
    ++expressions_;
    if (expressions_ >= o_.max_expressions) {
      stop_ = budget_spent_ = true;
      return false;
    }
    if ((expressions_ & 255) == 0) {
      if (finished_ && finished_->load(std::memory_order_relaxed)) {  // another search matched everywhere
        stop_ = true;
        return false;
      }
      const double s = elapsed();
      if (s >= deadline_) {
        stop_ = budget_spent_ = true;
        return false;
      }
      if (s >= soft_deadline_) {  // this phase's share spent: the next phase goes on
        stop_ = soft_ = true;
        return false;
      }
      if (o_.progress && s >= next_progress_) {
        next_progress_ = s + 2;
        char b[200];
        std::snprintf(b, sizeof b, "synthesis: cost %d, %lld expressions, %lld kept, best %.2f%% (size %d), %.1f s",
                      current_cost_, static_cast<long long>(expressions_), static_cast<long long>(kept_),
                      100.0 * static_cast<double>(best_agree_) / static_cast<double>(std::max<int64_t>(positions_, 1)),
                      best_size_, s);
        o_.progress(b);
      }
    }
    return true;
  }

  // ---- scoring ------------------------------------------------------------------------------------
  int64_t score(const Table& t) const {
    int64_t agree = 0;
    if (t.local) {
      const size_t k1 = static_cast<size_t>(K_) + 1;
      for (size_t l = 0; l < t.v.size(); ++l) agree += counts_[l * k1 + tc_[t.v[l]]];
    } else {
      for (size_t p = 0; p < t.v.size(); ++p) agree += tc_[t.v[p]] == target_[p];
    }
    return agree;
  }

  // An expression's score: it joins the best kTop (by agreement, then smaller tree size) when it beats
  // the worst of them.
  static constexpr size_t kTop = 32;
  bool better(int64_t a1, int s1, int64_t a2, int s2) const {
    const double x = static_cast<double>(a1) - penalty_ * s1, y = static_cast<double>(a2) - penalty_ * s2;
    return x != y ? x > y : s1 < s2;
  }
  void offer(int64_t agree, int size, const Def& def, bool guide = false) {
    if (top_.size() == kTop && !better(agree, size, top_.back().agree, top_.back().size)) return;
    Top t{def, agree, size, guide};
    const auto at = std::upper_bound(top_.begin(), top_.end(), t, [this](const Top& x, const Top& y) {
      return better(x.agree, x.size, y.agree, y.size);
    });
    top_.insert(at, t);
    if (top_.size() > kTop) top_.pop_back();
    if (better(agree, size, best_agree_, best_size_)) {
      best_agree_ = agree;
      best_size_ = size;
    }
  }

  // ---- building tables ----------------------------------------------------------------------------
  uint16_t unary(int f, uint16_t c) {
    auto& memo = unary_memo_[static_cast<size_t>(f)];
    if (memo.empty()) memo.assign(kMaxCodes, kUnknown);
    uint16_t& m = memo[c];
    if (m != kUnknown) return m;
    if (c == 0) return m = 0;  // None stays None
    try {
      m = intern(rasp::apply_unary(rasp::map_functions()[static_cast<size_t>(f)], vals_[c]));
    } catch (const EvalError&) {
      m = kRaise;
    }
    return m;
  }
  // Binary kinds: 0..9 the SequenceMap functions (offset by the first binary function), 10.. the linear
  // coefficient pairs.
  Value binary_value(int kind, Value x, Value y) const {
    if (kind < 10) return rasp::apply_binary(rasp::map_functions()[static_cast<size_t>(first_binary() + kind)], x, y);
    const int ca = coef(kind - 10) , cb = coef2(kind - 10);
    return rasp::py_add(rasp::py_mul(Value::of_int(ca), x), rasp::py_mul(Value::of_int(cb), y));
  }
  static int coef(int pair) { const int i = pair / 6; return i < 3 ? i - 3 : i - 2; }
  static int coef2(int pair) { const int j = pair % 6; return j < 3 ? j - 3 : j - 2; }
  static int pair_of(int ca, int cb) { return (ca < 0 ? ca + 3 : ca + 2) * 6 + (cb < 0 ? cb + 3 : cb + 2); }
  int first_binary() const {
    static const int first = [] {
      const auto& fs = rasp::map_functions();
      for (size_t i = 0; i < fs.size(); ++i)
        if (fs[i].arity == 2) return static_cast<int>(i);
      return 0;
    }();
    return first;
  }
  uint16_t binary(int kind, uint16_t x, uint16_t y) {
    if (x == 0 || y == 0) return 0;
    if (x < kBinaryMemo && y < kBinaryMemo) {
      auto& memo = binary_memo_[static_cast<size_t>(kind)];
      if (memo.empty()) memo.assign(kBinaryMemo * kBinaryMemo, kUnknown);
      uint16_t& m = memo[x * kBinaryMemo + y];
      if (m != kUnknown) return m;
      try {
        m = intern(binary_value(kind, vals_[x], vals_[y]));
      } catch (const EvalError&) {
        m = kRaise;
      }
      return m;
    }
    try {
      return intern(binary_value(kind, vals_[x], vals_[y]));
    } catch (const EvalError&) {
      return kRaise;
    }
  }

  // Finishes a table: false if it raises anywhere; notes whether it holds None.
  static bool finish(Table& t) {
    t.has_none = false;
    for (uint16_t c : t.v) {
      if (c == kRaise) return false;
      t.has_none |= c == 0;
    }
    return true;
  }

  bool build_map(int f, const SopEntry& x, Table& t) {
    t.local = x.local;
    const uint16_t* xv = data(x);
    const size_t n = x.local ? static_cast<size_t>(L_) : static_cast<size_t>(P_);
    t.v.resize(n);
    for (size_t k = 0; k < n; ++k) {
      const uint16_t r = unary(f, xv[k]);
      if (r == kRaise) return false;
      t.v[k] = r;
    }
    return finish(t);
  }

  bool build_binary(int kind, const SopEntry& x, const SopEntry& y, Table& t) {
    t.local = x.local && y.local;
    if (t.local) {
      const uint16_t* xv = data(x);
      const uint16_t* yv = data(y);
      t.v.resize(static_cast<size_t>(L_));
      for (int l = 0; l < L_; ++l) {
        const uint16_t r = binary(kind, xv[l], yv[l]);
        if (r == kRaise) return false;
        t.v[static_cast<size_t>(l)] = r;
      }
    } else {
      t.v.resize(static_cast<size_t>(P_));
      for (int64_t p = 0; p < P_; ++p) {
        const uint16_t r = binary(kind, at(x, p), at(y, p));
        if (r == kRaise) return false;
        t.v[static_cast<size_t>(p)] = r;
      }
    }
    return finish(t);
  }



  // The selector's rows on input i: rows[q] bit k set when key k is selected for query q.
  void selector_rows(const SelEntry& s, size_t i, uint64_t* rows, uint8_t* widths = nullptr) const {
    const SopEntry& K = sops_[static_cast<size_t>(s.def.a)];
    const SopEntry& Q = sops_[static_cast<size_t>(s.def.b)];
    const int64_t st = in_start_[i];
    const int n = in_len_[i];
    double kv[64], qv[64];
    for (int j = 0; j < n; ++j) {
      kv[j] = num_[at(K, st + j)];
      qv[j] = num_[at(Q, st + j)];
    }
    auto fill = [&](auto cmp) {
      for (int q = 0; q < n; ++q) {
        uint64_t r = 0;
        int w = 0;
        for (int k = 0; k < n; ++k) {
          const bool b = cmp(kv[k], qv[q]);
          r |= static_cast<uint64_t>(b) << k;
          w += b;
        }
        rows[q] = r;
        if (widths) widths[q] = static_cast<uint8_t>(w);
      }
    };
    with_comparison(s.def.cmp, fill);
  }

  // A selector's identity: its matrix, per (key triple, query triple) when keys and queries are both
  // local (pairs that no input realizes — one position with two tokens — left out), else per input.
  uint64_t selector_hash(const SelEntry& s) {
    const SopEntry& K = sops_[static_cast<size_t>(s.def.a)];
    const SopEntry& Q = sops_[static_cast<size_t>(s.def.b)];
    std::vector<uint64_t>& bits = scratch_bits_;
    bits.clear();
    if (K.local && Q.local && V_ * domain_.len_max <= 64 * 64) {
      const uint16_t* kv = data(K);
      const uint16_t* qv = data(Q);
      uint64_t word = 0;
      int fill = 0;
      double kd[64 * 64], qd[64 * 64];
      auto run = [&](auto cmp) {
        for (int n = domain_.len_min; n <= domain_.len_max; ++n) {
          const int nv = n * V_;
          if (nv > 64 * 64) continue;  // huge value ranges: the selector hashes per input below instead
          const int base = base_[static_cast<size_t>(n)];
          for (int j = 0; j < nv; ++j) {
            kd[j] = num_[kv[base + j]];
            qd[j] = num_[qv[base + j]];
          }
          for (int q = 0; q < n; ++q)
            for (int tq = 0; tq < V_; ++tq) {
              const double qq = qd[q * V_ + tq];
              for (int j = 0; j < nv; ++j) {
                if (j / V_ == q && j % V_ != tq) continue;  // one position, two tokens: no input has it
                word |= static_cast<uint64_t>(cmp(kd[j], qq)) << fill;
                if (++fill == 64) {
                  bits.push_back(word);
                  word = 0;
                  fill = 0;
                }
              }
            }
        }
      };
      with_comparison(s.def.cmp, run);
      bits.push_back(word | (static_cast<uint64_t>(fill) << 58));
      return hash_span(bits.data(), bits.size(), 0x5e1ec7);
    }
    uint64_t rows[64];
    for (size_t i = 0; i < in_start_.size(); ++i) {
      selector_rows(s, i, rows);
      bits.insert(bits.end(), rows, rows + in_len_[i]);
    }
    return hash_span(bits.data(), bits.size(), 0x91b41);
  }

  // The rows of selector s on every input, into rows_ (one word per query position), unless they are there.
  void load_rows(int s) {
    if (rows_of_ == s) return;
    rows_.resize(static_cast<size_t>(P_));
    widths_.resize(static_cast<size_t>(P_));
    for (size_t i = 0; i < in_start_.size(); ++i)
      selector_rows(sels_[static_cast<size_t>(s)], i, rows_.data() + in_start_[i], widths_.data() + in_start_[i]);
    rows_of_ = s;
  }

  // tracr's mean of int values: Python's sum from int 0, then true division (a float). Memoized by
  // (sum, count) for small sums.
  uint16_t mean_code(int64_t sum, int count) {
    if (sum >= -512 && sum < 512) {
      if (mean_memo_.empty()) mean_memo_.assign(1024 * 65, kUnknown);
      uint16_t& m = mean_memo_[static_cast<size_t>(sum + 512) * 65 + static_cast<size_t>(count)];
      if (m == kUnknown) m = intern(Value::of_float(static_cast<double>(sum) / count));
      return m;
    }
    return intern(Value::of_float(static_cast<double>(sum) / count));
  }

  // SelectorWidth (v null) or Aggregate of sop `v` with default None, over selector s; `empty` (may be
  // null) gets the positions where nothing is selected. False where it raises.
  bool build_mixing(int s, const SopEntry* v, Table& t, std::vector<int32_t>* empty) {
    load_rows(s);
    t.local = false;
    t.v.resize(static_cast<size_t>(P_));
    if (empty) empty->clear();
    if (!v) {
      for (int64_t p = 0; p < P_; ++p) {
        const uint16_t c = width_code(widths_[static_cast<size_t>(p)]);
        if (c == kRaise) return false;
        t.v[static_cast<size_t>(p)] = c;
      }
      return true;
    }
    uint16_t vv[64];
    for (size_t i = 0; i < in_start_.size(); ++i) {
      const int64_t st = in_start_[i];
      const int n = in_len_[i];
      for (int j = 0; j < n; ++j) vv[j] = at(*v, st + j);
      for (int q = 0; q < n; ++q) {
        const uint64_t r = rows_[static_cast<size_t>(st + q)];
        uint16_t out;
        if (r == 0) {
          out = 0;
          if (empty) empty->push_back(static_cast<int32_t>(st + q));
        } else {
          const uint16_t c0 = vv[__builtin_ctzll(r)];
          if (is_int_[c0]) {
            // Ints throughout (the common case): an exact int64 sum; else Python's arithmetic on Values.
            int64_t isum = 0;
            int count = 0;
            bool ints = true;
            for (uint64_t m = r; m; m &= m - 1) {
              const uint16_t c = vv[__builtin_ctzll(m)];
              if (c == 0) return false;  // None among numbers: tracr raises
              if (!is_int_[c] || vals_[c].i > (int64_t{1} << 40) || vals_[c].i < -(int64_t{1} << 40)) ints = false;
              else isum += vals_[c].i;
              ++count;
            }
            if (ints) {
              out = mean_code(isum, count);
            } else {
              Value sum = Value::of_int(0);
              try {
                for (uint64_t m = r; m; m &= m - 1) sum = rasp::py_add(sum, vals_[vv[__builtin_ctzll(m)]]);
              } catch (const EvalError&) {
                return false;
              }
              out = intern(Value::of_float(sum.as_double() / static_cast<double>(count)));
            }
            if (out == kRaise) return false;
          } else {
            if (r & (r - 1)) return false;  // several values that are not integers: tracr raises
            out = c0;
          }
        }
        t.v[static_cast<size_t>(st + q)] = out;
      }
    }
    return true;
  }
  uint16_t width_code(int w) {
    if (width_codes_.empty()) width_codes_.assign(65, kUnknown);
    uint16_t& c = width_codes_[static_cast<size_t>(w)];
    if (c == kUnknown) c = intern(Value::of_int(w));
    return c;
  }

  // A global table whose values are a function of the (token, position, length) triple becomes local.
  void localize(Table& t) {
    if (t.local) return;
    std::vector<uint16_t>& loc = scratch_local_;
    loc.assign(static_cast<size_t>(L_), kUnknown);
    for (int64_t p = 0; p < P_; ++p) {
      uint16_t& c = loc[static_cast<size_t>(local_of_[static_cast<size_t>(p)])];
      const uint16_t v = t.v[static_cast<size_t>(p)];
      if (c == kUnknown) c = v;
      else if (c != v) return;
    }
    // Triples no input realizes (a sample of the domain) get None: never observed.
    for (uint16_t& c : loc)
      if (c == kUnknown) c = 0;
    t.local = true;
    t.v = loc;
  }

  // ---- keeping expressions ------------------------------------------------------------------------
  // Scores a finished s-op table and keeps it when it is new. Returns its id (the existing one for a
  // duplicate), or -1 when not kept.
  int consider_sop(const Def& def, int cost, int size, Table& t, bool score_it = true, bool guide = false) {
    localize(t);
    auto& seen = t.local ? local_seen_ : global_seen_;
    const uint64_t h = hash_span(t.v.data(), t.v.size(), t.local ? 1 : 2);
    const auto it = seen.find(h);
    if (it != seen.end()) {
      SopEntry& e = sops_[static_cast<size_t>(it->second)];
      if (e.local == t.local && std::equal(t.v.begin(), t.v.end(), data(e))) {
        // The same table: keep the smaller definition, where it reads only older entries.
        if (size < e.size && e.prim == 0 && reads_older(def, it->second)) {
          e.def = def;
          e.size = size;
        }
        if (guide && score_it) offer(score(t), e.size, e.def, true);
        return it->second;
      }
    }
    const int64_t agree = score_it ? score(t) : -1;
    SopEntry e;
    e.def = def;
    e.cost = cost;
    e.size = size;
    const int id = keep_sop(e, t);
    if (id >= 0 && it == seen.end()) seen.emplace(h, id);
    if (score_it) {
      offer(agree, size, def, guide);
    }
    if (id >= 0) by_cost_[static_cast<size_t>(cost)].push_back(id);
    return id;
  }
  // Whether every s-op a definition reads (through its selector too) is older than entry `id`: only then
  // may it replace that entry's definition without making the definitions circular.
  bool reads_older(const Def& def, int id) const {
    auto sel_older = [&](int s) {
      const Def& sd = sels_[static_cast<size_t>(s)].def;
      return sd.a < id && sd.b < id;
    };
    switch (def.op) {
      case Op::Aggregate: return sel_older(def.a) && def.b < id;
      case Op::SelectorWidth: return sel_older(def.a);
      case Op::Map: return def.a < id;
      default: return def.a < id && def.b < id;
    }
  }

  int consider_sel(const Def& def, int cost, int size) {
    SelEntry s;
    s.def = def;
    s.cost = cost;
    s.size = size;
    const uint64_t h = selector_hash(s);
    const auto it = sel_seen_.find(h);
    if (it != sel_seen_.end()) return it->second;
    sels_.push_back(s);
    const int id = static_cast<int>(sels_.size() - 1);
    sel_seen_.emplace(h, id);
    sels_by_cost_[static_cast<size_t>(cost)].push_back(id);
    ++kept_;
    return id;
  }

  // ---- enumeration --------------------------------------------------------------------------------
  const std::vector<int>& at_cost(int c) const { return by_cost_[static_cast<size_t>(c)]; }

  // Where a level's time goes (for the progress lines): the phase now running, and per phase the
  // expressions and seconds so far.
  void phase(const char* name) {
    const double now = elapsed();
    if (!phase_name_.empty()) {
      auto& [n, sec] = phase_stats_[phase_name_];
      n += expressions_ - phase_start_n_;
      sec += now - phase_start_s_;
    }
    phase_name_ = name;
    phase_start_n_ = expressions_;
    phase_start_s_ = now;
  }
  std::string phase_report() {
    phase("");
    std::string out;
    char b[96];
    for (const auto& [name, v] : phase_stats_) {
      std::snprintf(b, sizeof b, "%s%s %lld in %.2f s", out.empty() ? "" : ", ", name.c_str(), static_cast<long long>(v.first), v.second);
      out += b;
    }
    phase_stats_.clear();
    return out;
  }

  // ---- checking without keeping ------------------------------------------------------------------
  // The disagreements a candidate may have and still join the best (ties included).
  // (Each operation costs SynthOptions::size_penalty of the positions: a candidate of `size` operations must agree on
  // that many more positions per operation it has beyond the best's.)
  int64_t cap(int size) const {
    if (best_agree_ < 0) return P_;
    return P_ - best_agree_ + static_cast<int64_t>(std::floor(penalty_ * (best_size_ - size)));
  }
  // Agreement of a local candidate, its code per triple given by f; -1 once it cannot reach the best or
  // where it raises. Triples in order of how many positions they hold, so that a loser stops early.
  template <class F>
  int64_t check_local(int size, F f) const {
    const int64_t c = cap(size);
    const size_t k1 = static_cast<size_t>(K_) + 1;
    int64_t wrong = 0;
    for (int l : triple_order_) {
      const uint16_t code = f(l);
      if (code == kRaise) return -1;
      wrong += triple_total_[static_cast<size_t>(l)] - counts_[static_cast<size_t>(l) * k1 + tc_[code]];
      if (wrong > c) return -1;
    }
    return P_ - wrong;
  }
  template <class F>
  int64_t check_global(int size, F f) const {
    const int64_t c = cap(size);
    int64_t wrong = 0;
    for (int64_t p = 0; p < P_; ++p) {
      const uint16_t code = f(p);
      if (code == kRaise) return -1;
      if (tc_[code] != target_[static_cast<size_t>(p)] && ++wrong > c) return -1;
    }
    return P_ - wrong;
  }
  // An Aggregate of v over the selector whose rows are loaded, counting a position where nothing is
  // selected as agreeing (some default may): a bound that never prunes a candidate that could win.
  int64_t check_aggregate(int size, const SopEntry& v) {
    const int64_t c = cap(size);
    int64_t wrong = 0;
    uint16_t vv[64];
    for (size_t i = 0; i < in_start_.size(); ++i) {
      const int64_t st = in_start_[i];
      const int n = in_len_[i];
      for (int j = 0; j < n; ++j) vv[j] = at(v, st + j);
      for (int q = 0; q < n; ++q) {
        const uint64_t r = rows_[static_cast<size_t>(st + q)];
        if (r == 0) continue;
        const uint16_t c0 = vv[__builtin_ctzll(r)];
        uint16_t out;
        if (is_int_[c0]) {
          int64_t isum = 0;
          int count = 0;
          for (uint64_t m = r; m; m &= m - 1) {
            const uint16_t x = vv[__builtin_ctzll(m)];
            if (x == 0 || !is_int_[x]) return -2;  // None among numbers raises; floats: the full build decides
            isum += vals_[x].i;
            ++count;
          }
          out = mean_code(isum, count);
          if (out == kRaise) return -1;
        } else {
          if (r & (r - 1)) return -1;  // tracr raises
          out = c0;
        }
        if (tc_[out] != target_[static_cast<size_t>(st + q)] && ++wrong > c) return -1;
      }
    }
    return P_ - wrong;
  }

  // SequenceMap kinds whose arguments commute (x+y, x*y, x==y, (x+y)%5): one order is enough.
  bool symmetric(int k) const {
    const std::string& tok = rasp::map_functions()[static_cast<size_t>(first_binary() + k)].token;
    return tok == "x+y" || tok == "x*y" || tok == "x==y" || tok == "(x+y)%5";
  }

  // The local s-ops of one cost grouped by their codes on the two fullest triples: a candidate g(X, Y)
  // must agree there, or lose more positions than the best allows, so only the groups whose codes can
  // agree are run (exact: no candidate that could win is skipped). Non-local s-ops are listed apart.
  struct Buckets {
    std::unordered_map<uint32_t, std::vector<int>> by_key;
    std::vector<int> others;
    size_t built_for = 0;  // how many of the cost's s-ops are in it
  };
  Buckets& buckets(int cost) {
    if (buckets_.size() <= static_cast<size_t>(cost)) buckets_.resize(static_cast<size_t>(cost) + 1);
    Buckets& b = buckets_[static_cast<size_t>(cost)];
    const auto& ids = at_cost(cost);
    for (; b.built_for < ids.size(); ++b.built_for) {
      const int id = ids[b.built_for];
      const SopEntry& e = sops_[static_cast<size_t>(id)];
      if (!e.local || triple_order_.size() < 2) {
        b.others.push_back(id);
        continue;
      }
      const uint16_t* v = data(e);
      b.by_key[(static_cast<uint32_t>(v[triple_order_[0]]) << 16) | v[triple_order_[1]]].push_back(id);
    }
    return b;
  }
  // Disagreements on triple l of a code there.
  int64_t wrong_at(int l, uint16_t code) const {
    return triple_total_[static_cast<size_t>(l)] - counts_[static_cast<size_t>(l) * (static_cast<size_t>(K_) + 1) + tc_[code]];
  }

  // Checks every SequenceMap (or, with `linear`, LinearSequenceMap) of an s-op of cost ca and one of cost
  // cb, through the buckets.
  void check_binaries(bool linear, int ca, int cb) {
    const auto& fs = rasp::map_functions();
    Buckets& ys = buckets(cb);
    const std::vector<int> xs = at_cost(ca);
    std::vector<int> kinds;
    if (linear) {
      for (int fa = -3; fa <= 3; ++fa)
        for (int fb = -3; fb <= 3; ++fb)
          if (fa != 0 && fb != 0) kinds.push_back(10 + pair_of(fa, fb));
    } else {
      for (int k = 0; k < 10; ++k) kinds.push_back(k);
    }
    const bool two = triple_order_.size() >= 2;
    const int l0 = two ? triple_order_[0] : 0, l1 = two ? triple_order_[1] : 0;
    for (int x : xs) {
      if (stop_) return;
      const SopEntry X = sops_[static_cast<size_t>(x)];
      const uint16_t* xv = data(X);
      for (int kind : kinds) {
        // Linear: one order of each pair (the factors cover the other); symmetric functions likewise.
        const bool one_order = kind >= 10 || symmetric(kind);
        auto run = [&](int y) {
          if (y == x) return true;
          if (one_order && (ca > cb || (ca == cb && x > y))) return true;
          if (!spend()) return false;
          const SopEntry& Y = sops_[static_cast<size_t>(y)];
          const uint16_t* yv = data(Y);
          const int size = 1 + X.size + Y.size;
          const int64_t agree = X.local && Y.local ? check_local(size, [&](int l) { return binary(kind, xv[l], yv[l]); })
                                                   : check_global(size, [&](int64_t p) { return binary(kind, at(X, p), at(Y, p)); });
          if (agree < 0) return true;
          Def d;
          if (kind >= 10) {
            d.op = Op::LinearSequenceMap;
            d.ca = static_cast<int8_t>(coef(kind - 10));
            d.cb = static_cast<int8_t>(coef2(kind - 10));
          } else {
            d.op = Op::SequenceMap;
            d.fn = first_binary() + kind;
          }
          d.a = x;
          d.b = y;
          offer(agree, size, d);
          return true;
        };
        for (int y : ys.others)
          if (!run(y)) return;
        if (!X.local || !two) {
          for (const auto& [key, ids] : ys.by_key)
            for (int y : ids)
              if (!run(y)) return;
          continue;
        }
        const int64_t c = cap(1 + X.size + cb);  // the most any Y of cost cb (size >= cb) may be allowed
        for (const auto& [key, ids] : ys.by_key) {
          const uint16_t r0 = binary(kind, xv[l0], static_cast<uint16_t>(key >> 16));
          if (r0 == kRaise) continue;
          const int64_t w0 = wrong_at(l0, r0);
          if (w0 > c) continue;
          const uint16_t r1 = binary(kind, xv[l1], static_cast<uint16_t>(key & 0xFFFF));
          if (r1 == kRaise || w0 + wrong_at(l1, r1) > c) continue;
          for (int y : ids)
            if (!run(y)) return;
        }
      }
    }
    (void)fs;
  }

  // Every expression of cost c. bank: built, scored, and kept for reuse by higher costs. check: only
  // scored against the best so far (a loser stops at its first few disagreements), nothing kept; the
  // survivors are built and offered. Selects are made only when banking.
  void level(int c, bool bank, int lo = -1, int hi = 1 << 20) {
    current_cost_ = c;
    // A split of cost c - 1 among the parts is new to this pass when its costliest part lies in (lo, hi]
    // and none exceeds hi (checking: the costs kept so far; banking: everything).
    auto fresh = [&](int a, int b) { return std::max(a, b) > lo && std::max(a, b) <= hi; };
    const auto& fs = rasp::map_functions();
    Table t;
    // Checking runs the cheap kinds first (maps, then pairs through their buckets), the mixing ones last.
    auto widths = [&] {
    phase(bank ? "width" : "check width");
    // SelectorWidth of a selector of cost c - 1.
    if (fresh(c - 1, 0)) {
      const std::vector<int> sels = sels_by_cost_[static_cast<size_t>(c - 1)];
      for (int s : sels) {
        if (!spend()) return;
        if (!bank) {
          check_width(s, t);
          continue;
        }
        Def d;
        d.op = Op::SelectorWidth;
        d.a = s;
        if (build_mixing(s, nullptr, t, nullptr)) consider_sop(d, c, 1 + sels_[static_cast<size_t>(s)].size, t);
      }
    }
    };
    auto aggregates = [&] {
    phase(bank ? "aggregate" : "check aggregate");
    // Aggregate: a selector of cost cs >= 1 and an s-op of cost c - 1 - cs; every default scored, the
    // sampler's two (None, 0) kept.
    std::vector<int32_t> empty;
    for (int cs = 1; cs <= c - 1 && !stop_; ++cs) {
      if (!fresh(cs, c - 1 - cs)) continue;
      const std::vector<int> sels = sels_by_cost_[static_cast<size_t>(cs)];
      const std::vector<int> vals = at_cost(c - 1 - cs);
      for (int s : sels) {
        for (int v : vals) {
          if (!spend()) return;
          if (!bank) {
            load_rows(s);
            if (check_aggregate(1 + sels_[static_cast<size_t>(s)].size + sops_[static_cast<size_t>(v)].size, sops_[static_cast<size_t>(v)]) == -1) continue;
          }
          const SelEntry& se = sels_[static_cast<size_t>(s)];
          if (!build_mixing(s, &sops_[static_cast<size_t>(v)], t, &empty)) continue;
          t.has_none = !empty.empty() || std::find(t.v.begin(), t.v.end(), uint16_t{0}) != t.v.end();
          const int size = 1 + se.size + sops_[static_cast<size_t>(v)].size;
          Def d;
          d.op = Op::Aggregate;
          d.a = s;
          d.b = v;
          if (!empty.empty()) other_defaults(d, c, size, t, score(t), empty, bank);
          if (bank) consider_sop(d, c, size, t);
          else offer(score(t), size, d);
        }
      }
    }
    };
    auto maps = [&] {
    phase(bank ? "map" : "check map");
    // Map of an s-op of cost c - 1, every unary function.
    if (fresh(c - 1, 0)) {
      const std::vector<int> xs = at_cost(c - 1);
      for (int x : xs)
        for (size_t f = 0; f < fs.size(); ++f) {
          if (fs[f].arity != 1) continue;
          if (!spend()) return;
          Def d;
          d.op = Op::Map;
          d.fn = static_cast<int>(f);
          d.a = x;
          const SopEntry& X = sops_[static_cast<size_t>(x)];
          const int size = 1 + X.size;
          if (!bank) {
            const uint16_t* xv = data(X);
            const int fi = static_cast<int>(f);
            const int64_t agree = X.local ? check_local(size, [&](int l) { return unary(fi, xv[l]); })
                                          : check_global(size, [&](int64_t p) { return unary(fi, xv[p]); });
            if (agree >= 0) offer(agree, size, d);
            continue;
          }
          if (build_map(static_cast<int>(f), X, t)) consider_sop(d, c, size, t);
        }
    }
    };
    auto binaries = [&] {
    phase(bank ? "binary" : "check binary");
    // SequenceMap and LinearSequenceMap of two different s-ops of costs summing to c - 1.
    for (int pass = 0; pass < 2 && !stop_; ++pass) {
      const bool linear = pass == 1;
      for (int ca = 0; ca <= c - 1 && !stop_; ++ca) {
        const int cb = c - 1 - ca;
        if (!fresh(ca, cb)) continue;
        if (!bank) {
          check_binaries(linear, ca, cb);
          continue;
        }
        const std::vector<int> xs = at_cost(ca), ys = at_cost(cb);
        for (int x : xs)
          for (int y : ys) {
            if (x == y) continue;
            const SopEntry X = sops_[static_cast<size_t>(x)];
            const SopEntry Y = sops_[static_cast<size_t>(y)];
            const int size = 1 + X.size + Y.size;
            if (!linear) {
              for (int k = 0; k < 10; ++k) {
                const int fn = first_binary() + k;
                if (symmetric(k) && (ca > cb || (ca == cb && x > y))) continue;
                if (!spend()) return;
                Def d;
                d.op = Op::SequenceMap;
                d.fn = fn;
                d.a = x;
                d.b = y;
                if (build_binary(k, X, Y, t)) consider_sop(d, c, size, t);
              }
            } else {
              // ca*x + cb*y = cb*y + ca*x: one order of the pair, every factor pair.
              if (ca > cb || (ca == cb && x > y)) continue;
              for (int fa = -3; fa <= 3; ++fa)
                for (int fb = -3; fb <= 3; ++fb) {
                  if (fa == 0 || fb == 0) continue;
                  if (!spend()) return;
                  Def d;
                  d.op = Op::LinearSequenceMap;
                  d.a = x;
                  d.b = y;
                  d.ca = static_cast<int8_t>(fa);
                  d.cb = static_cast<int8_t>(fb);
                  if (build_binary(10 + pair_of(fa, fb), X, Y, t)) consider_sop(d, c, size, t);
                }
            }
          }
      }
    }
    };
    if (bank) {
      select_level(c);
      // The new selectors over primitives, checked at once (one cost up): the rest of this cost can take
      // long, and these are few.
      if (!stop_ && c >= 3) eager_mixing(c);
      if (!stop_) widths();
      if (!stop_) aggregates();
      if (!stop_) maps();
      if (!stop_) binaries();
    } else {
      maps();
      if (!stop_) binaries();
      if (!stop_) widths();
      if (!stop_) aggregates();
    }
  }

  // SelectorWidth and Aggregate (of a primitive) of each selector of cost c, checked.
  void eager_mixing(int c) {
    phase("check new selectors");
    Table t;
    std::vector<int32_t> empty;
    const std::vector<int> sels = sels_by_cost_[static_cast<size_t>(c)];
    for (int s : sels) {
      load_rows(s);
      const int ssize = sels_[static_cast<size_t>(s)].size;
      if (!spend()) return;
      check_width(s, t);
      for (int v : at_cost(0)) {
        if (!spend()) return;
        if (check_aggregate(1 + ssize + sops_[static_cast<size_t>(v)].size, sops_[static_cast<size_t>(v)]) == -1) continue;
        if (!build_mixing(s, &sops_[static_cast<size_t>(v)], t, &empty)) continue;
        Def d;
        d.op = Op::Aggregate;
        d.a = s;
        d.b = v;
        const int64_t base = score(t);
        offer(base, 1 + ssize, d);
        if (!empty.empty()) other_defaults(d, c + 1, 1 + ssize, t, base, empty, /*bank=*/false);
      }
    }
  }

  // SelectorWidth of selector s, checked against the best (nothing kept); offered if it survives.
  void check_width(int s, Table& t) {
    load_rows(s);
    const int size = 1 + sels_[static_cast<size_t>(s)].size;
    if (check_global(size, [&](int64_t p) { return width_code(widths_[static_cast<size_t>(p)]); }) < 0) return;
    if (!build_mixing(s, nullptr, t, nullptr)) return;
    Def d;
    d.op = Op::SelectorWidth;
    d.a = s;
    offer(score(t), size, d);
  }

  // Aggregate d (its default None; table t, agreeing on `base` positions; nothing selected at `empty`)
  // under every other default. A default changes only the positions where nothing is selected, so each is
  // scored from the difference there; with `bank`, default 0 (the sampler's other choice) is kept as a
  // table of its own at cost c.
  void other_defaults(Def d, int c, int size, const Table& t, int64_t base, const std::vector<int32_t>& empty, bool bank) {
    int64_t none_agree = 0;
    for (int32_t p : empty) none_agree += tc_[0] == target_[static_cast<size_t>(p)];
    for (size_t k = 1; k < std::size(kDefaults); ++k) {
      const uint16_t code = intern(Value::of_int(kDefaults[k]));
      if (code == kRaise) continue;
      d.dflt = static_cast<int8_t>(kDefaults[k]);
      if (k == 1 && bank) {
        variant_ = t;
        for (int32_t p : empty) variant_.v[static_cast<size_t>(p)] = code;
        finish(variant_);
        consider_sop(d, c, size, variant_);
        continue;
      }
      int64_t agree = 0;
      for (int32_t p : empty) agree += tc_[code] == target_[static_cast<size_t>(p)];
      offer(base - none_agree + agree, size, d);
    }
  }

  // Selects of cost c, kept for higher costs.
  void select_level(int c) {
    phase("select");
    // They feed only higher costs. Keys and queries of costs summing to c - 1; from cost 3
    // on, only where keys or queries are not local (a selector over local values of cost 2 is one of
    // hundreds of thousands: what such programs need is left to the guides).
    for (int ck = 0; ck <= c - 1 && !stop_; ++ck) {
      const int cq = c - 1 - ck;
      const std::vector<int> keys = at_cost(ck), queries = at_cost(cq);
      for (int K : keys) {
        if (sops_[static_cast<size_t>(K)].has_none) continue;
        for (int Q : queries) {
          if (sops_[static_cast<size_t>(Q)].has_none) continue;
          if (c >= 3 && sops_[static_cast<size_t>(K)].local && sops_[static_cast<size_t>(Q)].local) continue;
          for (Comparison cmp : kOrderings) {
            if (!spend()) return;
            Def d;
            d.op = Op::Select;
            d.a = K;
            d.b = Q;
            d.cmp = cmp;
            consider_sel(d, c, 1 + sops_[static_cast<size_t>(K)].size + sops_[static_cast<size_t>(Q)].size);
          }
        }
      }
    }
    if (c == 1) {  // TRUE and FALSE select all or nothing, whatever they compare: one each
      for (Comparison cmp : {Comparison::TRUE, Comparison::FALSE}) {
        Def d;
        d.op = Op::Select;
        d.a = 0;
        d.b = 0;
        d.cmp = cmp;
        consider_sel(d, 1, 1);
      }
    }
    }

  // ---- head reading -------------------------------------------------------------------------------
  // Selectors the model's attention heads point at join the bank at cost 1, like a guide's statements.
  // Every Select(K, Q, cmp) with K and Q local s-ops of cost <= 1 (see the pairs below) is compared with
  // each head's mean attention (heads.h): per query (n, q, tq), the correlation between the head's mean
  // attention over the keys (k, tk) and the selector's row (1 on the selected keys, 0 elsewhere), averaged
  // over the queries weighted by how often they occur. Queries where the selector selects no key say
  // nothing about it (a head must attend somewhere) and are skipped; where it selects every key, it counts
  // 0; a selector that selects nothing on half the queries is not read. The best `head_selectors`
  // selectors of each head, distinct in what they select and correlating at least kMinHeadScore, are kept.
  static constexpr double kMinHeadScore = 0.5;
  void add_head_selectors() {
    if (!o_.heads || o_.heads->empty() || o_.head_selectors <= 0) return;
    const HeadPatterns& hp = *o_.heads;
    if (hp.domain.value_min != domain_.value_min || hp.domain.value_max != domain_.value_max ||
        hp.domain.len_min != domain_.len_min || hp.domain.len_max != domain_.len_max || hp.count.size() != pattern_size(domain_))
      return;
    phase("heads");
    const size_t H = hp.heads.size();
    struct Row {
      int lq;        // the query's local index
      double w;      // how often the query occurs
      size_t first, end;  // its keys in ent_lk / att
    };
    std::vector<Row> rows;
    std::vector<int> ent_lk;
    std::vector<float> att;  // (entry, head)
    std::vector<double> norm, mean_a;  // (row, head): the spread and mean of the head's attention over the keys
    double total_w = 0;
    for (int n = domain_.len_min; n <= domain_.len_max; ++n)
      for (int q = 0; q < n; ++q)
        for (int64_t tq = domain_.value_min; tq <= domain_.value_max; ++tq) {
          const size_t self = pattern_index(domain_, n, q, tq, q, tq);
          if (hp.count[self] == 0) continue;
          Row r{lidx(tq, q, n), static_cast<double>(hp.count[self]), ent_lk.size(), 0};
          for (int k = 0; k < n; ++k)
            for (int64_t tk = domain_.value_min; tk <= domain_.value_max; ++tk) {
              const size_t e = pattern_index(domain_, n, q, tq, k, tk);
              if (hp.count[e] == 0) continue;
              ent_lk.push_back(lidx(tk, k, n));
              for (size_t h = 0; h < H; ++h) att.push_back(hp.heads[h].mean[e]);
            }
          r.end = ent_lk.size();
          // Per head, the row's mean attention and its spread, for the correlation below.
          const double N = static_cast<double>(r.end - r.first);
          for (size_t h = 0; h < H; ++h) {
            double s1 = 0, s2 = 0;
            for (size_t j = r.first; j < r.end; ++j) {
              s1 += att[j * H + h];
              s2 += static_cast<double>(att[j * H + h]) * att[j * H + h];
            }
            mean_a.push_back(s1 / N);
            norm.push_back(std::sqrt(std::max(0.0, s2 / N - (s1 / N) * (s1 / N))));
          }
          total_w += r.w;
          rows.push_back(r);
        }
    if (rows.empty()) return;
    // Candidate keys and queries: local, never None, cost <= 1. Both sides from the primitives and their
    // Maps ("simple"), or one a primitive and the other any local s-op of cost 1 (a SequenceMap of two
    // primitives too).
    std::vector<int> simple, wide;
    for (int c = 0; c <= 1 && c < static_cast<int>(by_cost_.size()); ++c)
      for (int id : by_cost_[static_cast<size_t>(c)]) {
        const SopEntry& e = sops_[static_cast<size_t>(id)];
        if (!e.local || e.has_none) continue;
        wide.push_back(id);
        if (e.prim != 0 || c == 0 || (e.def.op == Op::Map && sops_[static_cast<size_t>(e.def.a)].prim != 0)) simple.push_back(id);
      }
    std::vector<std::pair<int, int>> pairs;
    for (int K : simple)
      for (int Q : simple) pairs.emplace_back(K, Q);
    for (int P : by_cost_[0])
      for (int X : wide) {
        if (std::find(simple.begin(), simple.end(), X) != simple.end()) continue;
        pairs.emplace_back(P, X);
        pairs.emplace_back(X, P);
      }
    struct Pick {
      double score;
      uint64_t hash;
      Def def;
    };
    std::vector<std::vector<Pick>> best(H);
    std::vector<double> acc(H), dot(H);
    std::vector<double> kd(static_cast<size_t>(L_)), qd(static_cast<size_t>(L_));
    auto consider = [&](int K, int Q, Comparison cmp) {
      const uint16_t* kv = data(sops_[static_cast<size_t>(K)]);
      const uint16_t* qv = data(sops_[static_cast<size_t>(Q)]);
      for (int l = 0; l < L_; ++l) {
        kd[static_cast<size_t>(l)] = num_[kv[l]];
        qd[static_cast<size_t>(l)] = num_[qv[l]];
      }
      std::fill(acc.begin(), acc.end(), 0.0);
      double covered = 0;
      uint64_t hash = 0x5e1ec7;
      with_comparison(cmp, [&](auto f) {
        for (const Row& r : rows) {
          const double qq = qd[static_cast<size_t>(r.lq)];
          std::fill(dot.begin(), dot.end(), 0.0);
          int m = 0;
          for (size_t j = r.first; j < r.end; ++j) {
            const bool sel = f(kd[static_cast<size_t>(ent_lk[j])], qq);
            hash = (hash ^ static_cast<uint64_t>(sel)) * 0x100000001B3ULL;
            if (!sel) continue;
            ++m;
            for (size_t h = 0; h < H; ++h) dot[h] += att[j * H + h];
          }
          const double N = static_cast<double>(r.end - r.first);
          if (m == 0) continue;  // selects no key: the head must attend somewhere, says nothing here
          covered += r.w;
          if (m == static_cast<int>(N)) continue;  // every key: no correlation to speak of (counts 0)
          const double frac = m / N, sd_s = std::sqrt(frac * (1 - frac));
          const size_t ri = static_cast<size_t>(&r - rows.data());
          for (size_t h = 0; h < H; ++h) {
            const double sd_a = norm[ri * H + h];
            if (sd_a > 0) acc[h] += r.w * (dot[h] / N - frac * mean_a[ri * H + h]) / (sd_s * sd_a);
          }
        }
      });
      if (covered < 0.5 * total_w) return;
      Def d;
      d.op = Op::Select;
      d.a = K;
      d.b = Q;
      d.cmp = cmp;
      for (size_t h = 0; h < H; ++h) {
        const double score = acc[h] / covered;
        if (score < kMinHeadScore) continue;
        auto& b = best[h];
        bool dup = false;
        for (Pick& p : b)
          if (p.hash == hash) {
            dup = true;
            // The same selection: keep the smaller definition.
            const auto size_of = [&](const Def& x) { return sops_[static_cast<size_t>(x.a)].size + sops_[static_cast<size_t>(x.b)].size; };
            if (size_of(d) < size_of(p.def)) p.def = d;
          }
        if (dup) continue;
        if (b.size() == static_cast<size_t>(o_.head_selectors) && score <= b.back().score) continue;
        b.push_back({score, hash, d});
        std::stable_sort(b.begin(), b.end(), [](const Pick& x, const Pick& y) { return x.score > y.score; });
        if (b.size() > static_cast<size_t>(o_.head_selectors)) b.pop_back();
      }
    };
    int64_t tried = 0;
    for (const auto& [K, Q] : pairs) {
      for (Comparison cmp : kOrderings) {
        if (!spend()) break;
        ++tried;
        consider(K, Q, cmp);
      }
      if (stop_) break;
    }
    int added = 0;
    for (size_t h = 0; h < H; ++h)
      for (const Pick& p : best[h]) {
        const int size = 1 + sops_[static_cast<size_t>(p.def.a)].size + sops_[static_cast<size_t>(p.def.b)].size;
        const size_t before = sels_.size();
        consider_sel(p.def, 1, size);
        if (sels_.size() > before) ++added;
      }
    if (o_.progress) {
      char b[240];
      std::snprintf(b, sizeof b, "synthesis: read %zu heads against %lld selectors (%zu key/query pairs) at %.2f s: %d new selectors kept, best scores",
                    H, static_cast<long long>(tried), pairs.size(), elapsed(), added);
      std::string line = b;
      for (size_t h = 0; h < H; ++h) {
        char x[32];
        std::snprintf(x, sizeof x, " %.2f", best[h].empty() ? 0.0 : best[h][0].score);
        line += x;
      }
      o_.progress(line);
    }
  }

  // ---- guides -------------------------------------------------------------------------------------
  // A guide's statements join the bank at cost 1 (building blocks the search combines first); its
  // output is scored like any expression.
  void add_guide(const std::vector<std::string>& tokens) {
    rasp::Program p;
    try {
      p = rasp::detokenize(tokens);
    } catch (const ParseError&) {
      return;
    }
    if (by_cost_.size() < 2) by_cost_.resize(2);
    if (sels_by_cost_.size() < 2) sels_by_cost_.resize(2);
    std::vector<char> needed;
    rasp::mark_needed(p, needed);
    std::vector<int> id(p.statements.size(), -1);  // bank id of each statement (sop or selector)
    std::vector<int> tree(p.statements.size(), 0);
    auto sop_ref = [&](rasp::Ref r) -> int {
      if (r == rasp::kTokens) return 0;
      if (r == rasp::kIndices) return 1;
      if (r == rasp::kLength) return 2;
      return id[static_cast<size_t>(r)];
    };
    auto size_of = [&](rasp::Ref r) { return r < 0 ? 0 : tree[static_cast<size_t>(r)]; };
    Table t;
    for (size_t s = 0; s < p.statements.size(); ++s) {
      if (!needed[s]) continue;
      const rasp::Statement& x = p.statements[s];
      Def d;
      d.op = x.op;
      d.fn = x.fn;
      d.a = sop_ref(x.a);
      d.b = rasp::arity(x.op) == 2 ? sop_ref(x.b) : -1;
      if (d.a < 0 || (rasp::arity(x.op) == 2 && d.b < 0)) return;  // an input was not kept
      d.cmp = x.cmp;
      d.ca = static_cast<int8_t>(x.coef_a);
      d.cb = static_cast<int8_t>(x.coef_b);
      d.dflt = x.default_value ? static_cast<int8_t>(*x.default_value) : static_cast<int8_t>(kNoDefault);
      const int size = 1 + size_of(x.a) + (rasp::arity(x.op) == 2 ? size_of(x.b) : 0);
      tree[s] = size;
      ++expressions_;
      const bool output = static_cast<int>(s) == p.output;
      bool ok = true;
      switch (x.op) {
        case Op::Select:
          if (sops_[static_cast<size_t>(d.a)].has_none || sops_[static_cast<size_t>(d.b)].has_none) return;
          id[s] = consider_sel(d, 1, size);
          continue;
        case Op::Map: ok = build_map(d.fn, sops_[static_cast<size_t>(d.a)], t); break;
        case Op::SequenceMap: ok = build_binary(d.fn - first_binary(), sops_[static_cast<size_t>(d.a)], sops_[static_cast<size_t>(d.b)], t); break;
        case Op::LinearSequenceMap:
          ok = build_binary(10 + pair_of(d.ca, d.cb), sops_[static_cast<size_t>(d.a)], sops_[static_cast<size_t>(d.b)], t);
          break;
        case Op::SelectorWidth: ok = build_mixing(d.a, nullptr, t, nullptr); break;
        case Op::Aggregate: {
          std::vector<int32_t> empty;
          ok = build_mixing(d.a, &sops_[static_cast<size_t>(d.b)], t, &empty);
          if (ok && d.dflt != kNoDefault) {
            const uint16_t code = intern(Value::of_int(d.dflt));
            for (int32_t q : empty) t.v[static_cast<size_t>(q)] = code;
          }
          if (ok) ok = finish(t);
          break;
        }
      }
      if (!ok) return;  // raises on the verification inputs: the rest of the guide reads it
      id[s] = consider_sop(d, 1, size, t, /*score_it=*/output, /*guide=*/output);
      if (id[s] < 0) return;
    }
  }

  // ---- the result ---------------------------------------------------------------------------------
  // Appends the statements of an expression (and of what it reads) to p; returns its Ref.
  rasp::Ref emit_sop(int id, rasp::Program& p, std::map<std::pair<int, int>, rasp::Ref>& done) const {
    const SopEntry& e = sops_[static_cast<size_t>(id)];
    if (e.prim) return e.prim;
    const auto it = done.find({0, id});
    if (it != done.end()) return it->second;
    const rasp::Ref r = emit_def(e.def, p, done);
    done[{0, id}] = r;
    return r;
  }
  rasp::Ref emit_sel(int id, rasp::Program& p, std::map<std::pair<int, int>, rasp::Ref>& done) const {
    const auto it = done.find({1, id});
    if (it != done.end()) return it->second;
    const rasp::Ref r = emit_def(sels_[static_cast<size_t>(id)].def, p, done);
    done[{1, id}] = r;
    return r;
  }
  rasp::Ref emit_def(const Def& d, rasp::Program& p, std::map<std::pair<int, int>, rasp::Ref>& done) const {
    rasp::Statement s;
    s.op = d.op;
    switch (d.op) {
      case Op::Map: s.fn = d.fn; s.a = emit_sop(d.a, p, done); break;
      case Op::SequenceMap:
        s.fn = d.fn;
        s.a = emit_sop(d.a, p, done);
        s.b = emit_sop(d.b, p, done);
        break;
      case Op::LinearSequenceMap:
        s.a = emit_sop(d.a, p, done);
        s.b = emit_sop(d.b, p, done);
        s.coef_a = d.ca;
        s.coef_b = d.cb;
        break;
      case Op::Select:
        s.a = emit_sop(d.a, p, done);
        s.b = emit_sop(d.b, p, done);
        s.cmp = d.cmp;
        break;
      case Op::Aggregate:
        s.a = emit_sel(d.a, p, done);
        s.b = emit_sop(d.b, p, done);
        if (d.dflt != kNoDefault) s.default_value = d.dflt;
        break;
      case Op::SelectorWidth: s.a = emit_sel(d.a, p, done); break;
    }
    p.statements.push_back(s);
    return static_cast<rasp::Ref>(p.statements.size() - 1);
  }
  rasp::Program program_of(const Def& d) const {
    rasp::Program p;
    std::map<std::pair<int, int>, rasp::Ref> done;
    p.output = emit_def(d, p, done);
    return rasp::canonicalize(p);
  }

  // The best programs found, canonical, with whether each is a guide's own.
 public:
  struct Found {
    rasp::Program program;
    bool guide = false;
  };
  std::vector<Found> found() const {
    std::vector<Found> out;
    for (const Top& t : top_) out.push_back({program_of(t.def), t.guide});
    return out;
  }
  SynthResult stats() const {
    SynthResult r;
    r.expressions = expressions_;
    r.kept = kept_;
    r.complete_cost = complete_cost_;
    r.budget_spent = budget_spent_;
    r.memory_full = memory_full_;
    return r;
  }
  double elapsed_seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }  // wall clock

 private:
  struct Top {
    Def def;
    int64_t agree;
    int size;
    bool guide;
  };

  const Behaviour& behaviour_;
  InputDomain domain_;
  const SynthOptions& o_;
  Clock::time_point start_;

  // layout
  int64_t vmin_ = 0;
  int V_ = 0, L_ = 0;
  int64_t P_ = 0, positions_ = 0;
  std::vector<int> base_;
  std::vector<int32_t> local_of_, in_start_, in_len_;

  // values
  std::vector<Value> vals_;
  std::vector<double> num_;
  std::vector<uint8_t> is_int_;
  std::vector<uint16_t> tc_;  // target class of each code (K_: none)
  std::unordered_map<uint64_t, uint16_t> none_map_, int_map_, float_map_;
  std::vector<std::vector<uint16_t>> unary_memo_;
  std::vector<uint16_t> binary_memo_[10 + 36];
  std::vector<uint16_t> width_codes_;

  // target
  std::map<double, uint16_t> class_of_;
  uint16_t none_class_ = 0;
  int K_ = 0;
  std::vector<uint16_t> target_;  // class per position
  std::vector<int32_t> counts_;   // (L, K + 1)
  std::vector<int32_t> triple_total_;  // positions per triple
  std::vector<int> triple_order_;      // triples with positions, the fullest first
  std::vector<Buckets> buckets_;       // per cost (checking binaries)
  std::vector<int> key_triples_;  // the EQ-select inversion's lookup triples
  struct KeyIndex {
    size_t upto = 0;  // sops_ indexed so far
    std::vector<std::pair<uint64_t, int>> index;
    bool capped = false;  // asked for by the Aggregate inversion
  };
  std::unordered_map<uint64_t, KeyIndex> key_indexes_;  // by the triple list they read
  size_t capped_indexes_ = 0;
  size_t agg_inverted_upto_ = 0;  // selectors solved for their Aggregate's values so far

  // bank
  std::vector<SopEntry> sops_;
  std::vector<SelEntry> sels_;
  std::vector<std::vector<int>> by_cost_, sels_by_cost_;
  std::vector<uint16_t> local_arena_, global_arena_;
  std::unordered_map<uint64_t, int> local_seen_, global_seen_, sel_seen_;
  size_t memory_used_ = 0;
  std::vector<uint16_t> scratch_local_;
  std::vector<uint64_t> scratch_bits_;
  Table variant_;  // other_defaults' kept variant
  std::vector<uint64_t> rows_;  // the rows of selector rows_of_ on every input
  std::vector<uint8_t> widths_;  // their widths
  int rows_of_ = -1;
  std::vector<uint16_t> mean_memo_;

  // progress and result
  int64_t expressions_ = 0, kept_ = 0;
  int complete_cost_ = 0, current_cost_ = 0;
  bool stop_ = false, budget_spent_ = false, memory_full_ = false;
  double next_progress_ = 2;
  int64_t best_agree_ = -1;
  int best_size_ = 1 << 30;
  std::vector<Top> top_;  // best first
  std::string phase_name_;
  int64_t phase_start_n_ = 0;
  double phase_start_s_ = 0;
  std::map<std::string, std::pair<int64_t, double>> phase_stats_;
  static constexpr double kEnumerateShare = 0.75;  // then the last inversion
  double penalty_ = 0;  // SynthOptions::size_penalty of the positions: what one more operation must buy
  static constexpr double kCheckShare = 0.3, kInvertShare = 0.3;  // of the time left, per round
  double deadline_ = 0;
  double soft_deadline_ = 1e300;  // the end of the current phase's share (see share())
  bool soft_ = false;
  std::vector<int64_t> band_pos_;
  std::vector<std::pair<uint64_t, int>> band_index_[kBands];
  size_t indexed_ = 0, inverted_upto_ = 0;
  int64_t inverted_found_ = 0;
  std::vector<double> target_num_;  // the model's output per position, as a number (NaN: None)
  std::atomic<bool>* finished_ = nullptr;
  const Behaviour* whole_ = nullptr;  // every verification input (behaviour_ is this search's sample of them)
};


// The inputs a search builds its tables on: per length, the first `per_length` of the behaviour's
// (shuffled) order — every input of the short lengths, a fixed sample of the long ones.
Behaviour search_subset(const Behaviour& b, size_t per_length) {
  Behaviour s;
  s.whole_domain = false;
  std::map<size_t, size_t> taken;
  for (size_t i = 0; i < b.inputs.size(); ++i) {
    if (taken[b.inputs[i].size()]++ >= per_length) continue;
    s.inputs.push_back(b.inputs[i]);
    s.outputs.push_back(b.outputs[i]);
  }
  return s;
}

}  // namespace

SynthResult synthesize_rasp(const Behaviour& behaviour, const InputDomain& domain, const SynthOptions& options) {
  if (options.max_seconds <= 0) throw Error("the search budget in seconds must be above 0");
  if (options.expressions_per_second < 0) throw Error("the search's expressions per second must be 0 (wall clock) or above");
  if (options.max_expressions <= 0) throw Error("the search budget in expressions must be at least 1");
  if (options.memory_mb <= 0) throw Error("the search memory must be at least 1 MB");
  if (options.threads < 1) throw Error("the synthesizer needs at least 1 thread");
  if (options.search_per_length < 1) throw Error("the search needs at least 1 input per length");
  if (behaviour.inputs.empty()) throw Error("the synthesizer needs at least one verification input");
  if (behaviour.outputs.size() != behaviour.inputs.size()) throw Error("the behaviour has no output for some input");
  domain.validate();
  // One search per thread, side by side, each on its own sample of the inputs: the first on
  // `search_per_length` inputs per length, each further one on a sixteenth of the previous one's (cheaper
  // tables for what Aggregate and SelectorWidth compute, so it reaches further in the same time; what it
  // finds is re-scored on every input below like the rest). Their best programs are pooled.
  const int searches = std::min(options.threads, 3);
  std::vector<Behaviour> subsets;
  for (int k = 0; k < searches; ++k)
    subsets.push_back(search_subset(behaviour, std::max<size_t>(16, options.search_per_length >> (4 * k))));
  std::mutex progress_mutex;
  std::vector<SynthOptions> opts(static_cast<size_t>(searches), options);
  for (int k = 0; k < searches && options.progress; ++k)
    opts[static_cast<size_t>(k)].progress = [&, k](const std::string& line) {
      std::lock_guard<std::mutex> lock(progress_mutex);
      options.progress(searches == 1 ? line : "[search " + std::to_string(k + 1) + "] " + line);
    };
  std::vector<std::unique_ptr<Synth>> synths(static_cast<size_t>(searches));
  std::atomic<bool> finished{false};
  std::vector<std::exception_ptr> errors(static_cast<size_t>(searches));
  auto run_one = [&](int k) {
    try {
      synths[static_cast<size_t>(k)] =
          std::make_unique<Synth>(subsets[static_cast<size_t>(k)], domain, opts[static_cast<size_t>(k)], searches > 1 ? &finished : nullptr, &behaviour);
      synths[static_cast<size_t>(k)]->run();
    } catch (...) {
      errors[static_cast<size_t>(k)] = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  for (int k = 1; k < searches; ++k) pool.emplace_back(run_one, k);
  run_one(0);
  for (auto& t : pool) t.join();
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
  SynthResult r = synths[0]->stats();
  for (int k = 1; k < searches; ++k) {
    const SynthResult o = synths[static_cast<size_t>(k)]->stats();
    r.expressions += o.expressions;
    r.kept += o.kept;
    r.complete_cost = std::max(r.complete_cost, o.complete_cost);
    r.budget_spent = r.budget_spent && o.budget_spent;
    r.memory_full = r.memory_full || o.memory_full;
  }
  r.searches = searches;
  // The best programs on the subset, re-scored on every verification input: the most faithful there wins,
  // then the smaller, then the likelier under the mapper.
  r.positions = behaviour.positions();
  struct Scored {
    std::vector<std::string> tokens;
    int64_t agree;
    int size;
    double logprob;
    bool guide;
  };
  std::vector<Scored> scored;
  std::set<std::vector<std::string>> seen;
  std::vector<Synth::Found> pooled;
  for (const auto& sy : synths)
    for (auto& f : sy->found()) pooled.push_back(std::move(f));
  for (const auto& f : pooled) {
    std::vector<std::string> tokens = rasp::tokenize(f.program);
    if (!seen.insert(tokens).second) continue;
    const std::unique_ptr<Program> p = rasp::language().detokenize(tokens);
    const int64_t wrong = count_disagreements(*p, behaviour);
    scored.push_back({std::move(tokens), r.positions - wrong, static_cast<int>(f.program.statements.size()), 0, f.guide});
  }
  if (scored.empty()) {
    r.seconds = synths[0]->elapsed_seconds();
    return r;
  }
  const double penalty = options.size_penalty * static_cast<double>(r.positions);
  auto value = [&](const Scored& x) { return static_cast<double>(x.agree) - penalty * x.size; };
  std::stable_sort(scored.begin(), scored.end(), [&](const Scored& x, const Scored& y) {
    return value(x) != value(y) ? value(x) > value(y) : x.size < y.size;
  });
  size_t pick = 0;
  if (options.logprob) {
    double best = -1e300;
    for (size_t k = 0; k < scored.size() && scored[k].agree == scored[0].agree && scored[k].size == scored[0].size; ++k) {
      const double lp = options.logprob(scored[k].tokens);
      if (lp > best) {
        best = lp;
        pick = k;
      }
    }
  }
  r.found = true;
  r.tokens = scored[pick].tokens;
  r.agreeing = scored[pick].agree;
  r.size = scored[pick].size;
  r.from = scored[pick].guide ? "guide" : "search";
  r.seconds = synths[0]->elapsed_seconds();
  return r;
}

}  // namespace mm
