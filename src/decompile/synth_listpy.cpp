// The list-Python synthesizer (see synth.h): a beam search over programs built backwards, last loop first.
//
// Why backwards. Every statement of the family writes one position of `out` with a value read from `arr`,
// and `arr` never changes, so the returned list holds, at each position, the value of the *last* write to
// it (0 where nothing wrote). Group the writes by the loop that makes them: a loop executed later overrides
// an earlier one wherever it writes. A program is then a decision list of loops: at each position, the
// latest loop that writes there decides. Built from the last loop backwards, each loop added is final on
// the positions it writes that no later loop writes — so its wrong writes are a cost no earlier loop can
// undo, and the count of those is a lower bound on the finished program's disagreements.
//
// The pieces. A *writer* is one assignment in a loop of its own: a range (start 0..2; end n, n - 1 or a
// constant 2..5), the offsets of `out` and `arr` (-1..1), a sign, and a guard (none, or
// `arr[(v)] % k ==/!= 0`, k in {2, 3}): 18 x 90 = 1,620 writers. Each is run once on the search inputs and
// kept as its table: at each position, the last iteration that wrote it and the value written. A *block*
// is a loop body of writers sharing one range (at most 3 statements once adjacent writers under one guard
// share an `if`, at most 2 each): at each position the write of the latest iteration wins, and within one
// iteration the later statement — exactly the interpreter's order, computed from the writers' tables
// without running anything. A block also has a *gate*: it runs only on inputs of at least g = 1..4
// elements, which is what a loop nested in `for i in range(S, E)` does (the inner loop's writes depend on
// `arr` alone, so running it once per outer iteration is running it once, when the outer range is not
// empty: n >= S + 1 for E = n, n >= S + 2 for E = n - 1).
//
// The search. A state is a list of blocks, the last executed first; its bottom block is open. Moves: add
// a writer to the bottom block (first or last in its body), or close it and open a new block below with
// one writer and a gate. States are ranked by committed wrong writes plus `alpha` times the positions
// nothing writes yet whose target is not 0 (what is still to explain); a beam of the best is kept per
// step. Every state is also a finished program (positions nothing writes hold 0) and the best finished
// ones are realized as list-Python — up to 3 outer loops, a gated block becoming an outer loop holding a
// `for j` loop, merged with the block below it as that loop's earlier statements where the ranges allow —
// and run against the whole behaviour. What the family has and the search does not build: a statement
// after a nested loop in the same outer loop (its last iteration outlives the inner loop). Repair
// (structural edits) starts from the result in the pipeline.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <stdexcept>
#include <tuple>

#include "core/error.h"
#include "core/parallel.h"
#include "decompile/synth.h"
#include "listpy/listpy.h"

namespace mm {

namespace {

using listpy::EndKind;
using listpy::Stmt;
using listpy::StmtKind;

constexpr int8_t kNone = -1;       // a position the writer does not write
constexpr int8_t kNoValue = 127;   // a target that is no int8 (never matched)
constexpr int kGates = 4;          // gate g: the block runs on inputs of at least g elements
constexpr int kMaxLen = 64;

struct Range {
  int start;
  EndKind end;
  int end_const;
};

std::vector<Range> all_ranges() {
  std::vector<Range> r;
  for (int s = 0; s <= listpy::kStartMax; ++s) {
    r.push_back({s, EndKind::N, 0});
    r.push_back({s, EndKind::NMinus1, 0});
    for (int c = listpy::kEndConstMin; c <= listpy::kEndConstMax; ++c) r.push_back({s, EndKind::Const, c});
  }
  return r;
}

struct Writer {
  int range = 0;
  int out_offset = 0, arr_offset = 0;
  bool negate = false;
  int guard = 0;  // 0: none; 1..4: modulus 2 + (g-1)/2, equal when g is odd
  int modulus() const { return 2 + (guard - 1) / 2; }
  bool equal() const { return guard % 2 == 1; }
};

std::vector<Writer> all_writers(size_t ranges) {
  std::vector<Writer> w;
  for (size_t r = 0; r < ranges; ++r)
    for (int a = -1; a <= 1; ++a)
      for (int b = -1; b <= 1; ++b)
        for (int neg = 0; neg < 2; ++neg)
          for (int g = 0; g <= 4; ++g) w.push_back({static_cast<int>(r), a, b, neg == 1, g});
  return w;
}

int64_t floor_mod(int64_t a, int64_t n) {
  const int64_t r = a % n;
  return r < 0 ? r + n : r;
}

// One outer loop `for i in R`: i-writers before a nested loop (`pre`; all of them when there is none), the
// nested `for j in J` loop's writers, i-writers after it (`post`). All pre/post writers have range R, all
// nested ones range J.
struct Unit {
  int range = 0;
  std::vector<int> pre;
  int jrange = -1;     // -1: no nested loop
  std::vector<int> j;
  std::vector<int> post;
  bool free = false;   // nested, and R can still change (no pre/post writer yet): only its gate matters
  bool nested() const { return jrange >= 0; }
  bool operator==(const Unit&) const = default;
};

using Signature = std::vector<std::tuple<int, std::vector<int>, int, std::vector<int>, std::vector<int>>>;
Signature signature(const std::vector<Unit>& units) {
  Signature s;
  for (const Unit& u : units) s.emplace_back(u.range, u.pre, u.jrange, u.j, u.post);
  return s;
}

struct State {
  std::vector<Unit> units;       // the last executed first; back() is the open bottom unit
  std::vector<uint8_t> covered;  // written by the units above the bottom one
  std::vector<uint8_t> bottom;   // written by the bottom unit (and not above)
  std::vector<int8_t> bottom_value;
  int64_t wrong_above = 0, wrong_bottom = 0;
  int64_t unexplained = 0;       // positions nothing writes whose target is not 0
  int64_t writers = 0;
  int64_t error() const { return wrong_above + wrong_bottom + unexplained; }
};

// Statements a list of writers takes once adjacent writers under one guard share an `if` (at most 2 each).
int body_statements(const std::vector<int>& ws, const std::vector<Writer>& writers) {
  int count = 0;
  for (size_t k = 0; k < ws.size();) {
    const int g = writers[static_cast<size_t>(ws[k])].guard;
    size_t run = 1;
    if (g != 0)
      while (k + run < ws.size() && run < static_cast<size_t>(listpy::kMaxIfBody) &&
             writers[static_cast<size_t>(ws[k + run])].guard == g)
        ++run;
    ++count;
    k += run;
  }
  return count;
}

bool fits(const Unit& u, const std::vector<Writer>& writers) {
  const int outer = body_statements(u.pre, writers) + (u.nested() ? 1 : 0) + body_statements(u.post, writers);
  return outer <= listpy::kMaxBody && body_statements(u.j, writers) <= listpy::kMaxBody;
}

class Search {
 public:
  Search(const Behaviour& b, const SynthOptions& o, size_t inputs)
      : behaviour_(b), options_(o), ranges_(all_ranges()), writers_(all_writers(ranges_.size())) {
    // The search inputs: the first `inputs` of the behaviour (its order mixes the lengths).
    const size_t count = std::min(inputs, b.inputs.size());
    for (size_t i = 0; i < count; ++i) {
      const Input& x = b.inputs[i];
      if (x.empty()) continue;
      if (x.size() > static_cast<size_t>(kMaxLen)) throw Error("list-Python synthesis: an input longer than 64");
      input_.push_back(i);
      base_.push_back(positions_);
      positions_ += x.size();
    }
    length_.resize(positions_);
    bucket_.resize(positions_);
    target_.resize(positions_);
    for (size_t k = 0; k < input_.size(); ++k) {
      const Input& x = b.inputs[input_[k]];
      const Outputs::value_type& y = b.outputs[input_[k]];
      for (size_t p = 0; p < x.size(); ++p) {
        length_[base_[k] + p] = static_cast<uint8_t>(x.size());
        bucket_[base_[k] + p] = static_cast<uint8_t>(std::min<size_t>(x.size(), kGates));
        int8_t t = kNoValue;
        if (p < y.size() && y[p].kind == Value::Kind::Int && y[p].i > -127 && y[p].i < 127) t = static_cast<int8_t>(y[p].i);
        target_[base_[k] + p] = t;
      }
    }
    for (size_t r = 0; r < ranges_.size(); ++r) {
      const Range& rg = ranges_[r];
      gate_.push_back(rg.end == EndKind::N ? rg.start + 1 : rg.end == EndKind::NMinus1 ? rg.start + 2 : rg.end_const > rg.start ? 1 : kGates + 1);
    }
    for (int g = 1; g <= kGates; ++g)  // the range a free nested unit is printed with: (g-1, n), or (2, n - 1)
      canonical_.push_back(g == 4 ? range_index(2, EndKind::NMinus1) : range_index(g - 1, EndKind::N));
    run_writers();
  }

  SynthResult run();

 private:
  int range_index(int start, EndKind end, int c = 0) const {
    for (size_t r = 0; r < ranges_.size(); ++r)
      if (ranges_[r].start == start && ranges_[r].end == end && (end != EndKind::Const || ranges_[r].end_const == c))
        return static_cast<int>(r);
    return -1;
  }
  int64_t end_of(int range, int64_t n) const {
    const Range& r = ranges_[static_cast<size_t>(range)];
    return r.end == EndKind::N ? n : r.end == EndKind::NMinus1 ? n - 1 : r.end_const;
  }
  int gate_of(const Unit& u) const { return gate_[static_cast<size_t>(u.range)]; }
  void run_writers();
  // Per gate bucket (length min(n, 4)): positions `w` writes among those not in `covered`, and how many
  // of them it gets wrong / whose target is not 0.
  void count_new(const std::vector<uint8_t>& covered, size_t w, int64_t wrong[kGates + 1], int64_t nonzero[kGates + 1]) const;
  // What a unit writes outside `covered`: fills `mark` (1 where it writes) and `value`, returns the wrong
  // count, and the count of marked positions whose target is not 0 through `nonzero`.
  int64_t unit_writes(const Unit& u, const std::vector<uint8_t>& covered, std::vector<uint8_t>& mark,
                      std::vector<int8_t>& value, int64_t& nonzero) const;
  // i-writers never raise on their own range; a nested loop's writers must not raise where its gate lets it run.
  bool allowed(size_t w, int gate) const { return raises_below_[w] < gate; }
  double rank(int64_t wrong, int64_t unexplained, int64_t writers) const {
    return static_cast<double>(wrong) + alpha_ * static_cast<double>(unexplained) + 1e-3 * static_cast<double>(writers);
  }
  listpy::Program realize(const std::vector<Unit>& units) const;
  // Throws std::logic_error unless `program` disagrees with the targets on exactly `error` search positions.
  void check(const mm::Program& program, int64_t error) const;
  std::vector<Stmt> statements(const std::vector<int>& ws, char var) const;

  const Behaviour& behaviour_;
  const SynthOptions& options_;
  std::vector<Range> ranges_;
  std::vector<Writer> writers_;
  std::vector<int> gate_;       // per range: the shortest input it is not empty on (kGates + 1: never)
  std::vector<int> canonical_;  // per gate - 1: the range a free nested unit is printed with
  std::vector<size_t> input_, base_;
  size_t positions_ = 0;
  std::vector<uint8_t> length_, bucket_;  // per position: the input's length; min(length, kGates)
  std::vector<int8_t> target_;
  std::vector<int8_t> last_, value_;  // per writer x position: last iteration that wrote it, the value
  std::vector<int> raises_below_;     // per writer: it raises on inputs shorter than this (0: never)
  double alpha_ = options_.listpy_alpha;
  int64_t beam_width_ = options_.listpy_beam;
  int max_writers_ = options_.listpy_max_writers;
};

void Search::run_writers() {
  const size_t W = writers_.size();
  last_.assign(W * positions_, kNone);
  value_.assign(W * positions_, 0);
  raises_below_.assign(W, 0);
  parallel_for(W, options_.threads, [&](size_t w) {
    const Writer& wr = writers_[w];
    const Range& r = ranges_[static_cast<size_t>(wr.range)];
    int8_t* last = &last_[w * positions_];
    int8_t* value = &value_[w * positions_];
    for (size_t k = 0; k < input_.size(); ++k) {
      const Input& x = behaviour_.inputs[input_[k]];
      const int64_t n = static_cast<int64_t>(x.size());
      const int64_t end = end_of(wr.range, n);
      for (int64_t v = r.start; v < end; ++v) {
        if (wr.guard != 0) {
          if (v >= n) {  // arr[(v)] past the end: the interpreter raises
            raises_below_[w] = std::max(raises_below_[w], static_cast<int>(std::min<int64_t>(n, kGates)) + 1);
            break;
          }
          if ((floor_mod(x[static_cast<size_t>(v)], wr.modulus()) == 0) != wr.equal()) continue;
        }
        const size_t p = base_[k] + static_cast<size_t>(floor_mod(v + wr.out_offset, n));
        const int64_t a = x[static_cast<size_t>(floor_mod(v + wr.arr_offset, n))];
        last[p] = static_cast<int8_t>(v);
        value[p] = static_cast<int8_t>(wr.negate ? -a : a);
      }
    }
  });
}

void Search::count_new(const std::vector<uint8_t>& covered, size_t w, int64_t wrong[kGates + 1],
                       int64_t nonzero[kGates + 1]) const {
  const int8_t* last = &last_[w * positions_];
  const int8_t* value = &value_[w * positions_];
  for (int g = 0; g <= kGates; ++g) wrong[g] = nonzero[g] = 0;
  for (size_t p = 0; p < positions_; ++p) {
    if (covered[p] || last[p] == kNone) continue;
    wrong[bucket_[p]] += value[p] != target_[p];
    nonzero[bucket_[p]] += target_[p] != 0;
  }
}

int64_t Search::unit_writes(const Unit& u, const std::vector<uint8_t>& covered, std::vector<uint8_t>& mark,
                            std::vector<int8_t>& value, int64_t& nonzero) const {
  mark.assign(positions_, 0);
  value.assign(positions_, 0);
  int64_t wrong = 0;
  nonzero = 0;
  const int gate = gate_of(u);
  // The latest iteration wins; within one, the later statement.
  auto latest = [&](const std::vector<int>& ws, size_t p, int& best_v, int8_t& v) {
    for (int w : ws) {
      const size_t at = static_cast<size_t>(w) * positions_ + p;
      if (last_[at] != kNone && last_[at] >= best_v) {
        best_v = last_[at];
        v = value_[at];
      }
    }
  };
  for (size_t p = 0; p < positions_; ++p) {
    if (covered[p] || bucket_[p] < gate) continue;
    int best_v = kNone;
    int8_t v = 0;
    if (u.nested()) {
      // The last outer iteration's statements after the nested loop; then the nested loop (run again on
      // every outer iteration); then every iteration's statements before and after it.
      if (!u.post.empty()) {
        const int64_t last_iteration = end_of(u.range, length_[p]) - 1;
        for (int w : u.post) {
          const size_t at = static_cast<size_t>(w) * positions_ + p;
          if (last_[at] == last_iteration) {
            best_v = last_[at];
            v = value_[at];
          }
        }
      }
      if (best_v == kNone) latest(u.j, p, best_v, v);
      if (best_v == kNone) {
        latest(u.pre, p, best_v, v);
        latest(u.post, p, best_v, v);
      }
    } else {
      latest(u.pre, p, best_v, v);
    }
    if (best_v == kNone) continue;
    mark[p] = 1;
    value[p] = v;
    wrong += v != target_[p];
    nonzero += target_[p] != 0;
  }
  return wrong;
}

std::vector<Stmt> Search::statements(const std::vector<int>& ws, char var) const {
  std::vector<Stmt> out;
  auto assign = [&](const Writer& w) {
    Stmt s;
    s.kind = StmtKind::Assign;
    s.var = var;
    s.out_offset = w.out_offset;
    s.arr_offset = w.arr_offset;
    s.negate = w.negate;
    return s;
  };
  for (size_t k = 0; k < ws.size();) {
    const Writer& w = writers_[static_cast<size_t>(ws[k])];
    if (w.guard == 0) {
      out.push_back(assign(w));
      ++k;
      continue;
    }
    Stmt s;
    s.kind = StmtKind::If;
    s.var = var;
    s.modulus = w.modulus();
    s.equal = w.equal();
    while (k < ws.size() && s.body.size() < static_cast<size_t>(listpy::kMaxIfBody) &&
           writers_[static_cast<size_t>(ws[k])].guard == w.guard)
      s.body.push_back(assign(writers_[static_cast<size_t>(ws[k++])]));
    out.push_back(std::move(s));
  }
  return out;
}

listpy::Program Search::realize(const std::vector<Unit>& units) const {
  auto loop = [&](int range, char var) {
    const Range& r = ranges_[static_cast<size_t>(range)];
    Stmt f;
    f.kind = StmtKind::For;
    f.var = var;
    f.start = r.start;
    f.end = r.end;
    f.end_const = r.end_const;
    return f;
  };
  listpy::Program p;
  for (size_t k = units.size(); k-- > 0;) {  // executed order: the last unit of the list first
    const Unit& u = units[k];
    Stmt outer = loop(u.range, 'i');
    outer.body = statements(u.pre, 'i');
    if (u.nested()) {
      Stmt inner = loop(u.jrange, 'j');
      inner.body = statements(u.j, 'j');
      outer.body.push_back(std::move(inner));
      for (Stmt& s : statements(u.post, 'i')) outer.body.push_back(std::move(s));
    }
    p.loops.push_back(std::move(outer));
  }
  return p;
}

void Search::check(const mm::Program& program, int64_t error) const {
  int64_t wrong = 0;
  for (size_t k = 0; k < input_.size(); ++k) {
    const Input& x = behaviour_.inputs[input_[k]];
    const std::vector<Value> y = program.evaluate(x);
    for (size_t p = 0; p < x.size(); ++p) wrong += !(y[p].kind == Value::Kind::Int && y[p].i == target_[base_[k] + p]);
  }
  if (wrong != error)
    throw std::logic_error("list-Python synthesis counted " + std::to_string(error) + " disagreements for a program the interpreter gives " +
                           std::to_string(wrong) + ":\n" + program.text());
}

SynthResult Search::run() {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  const auto deadline = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options_.max_seconds));
  SynthResult result;
  result.positions = behaviour_.positions();

  // Finished programs worth running on the whole behaviour: the best few by error on the search inputs.
  struct Finished {
    int64_t error;
    int64_t writers;
    std::vector<Unit> units;
  };
  std::vector<Finished> finished;
  std::set<Signature> finished_seen;
  constexpr size_t kKeepFinished = 24;
  auto consider = [&](const State& s) {
    Signature sig = signature(s.units);
    if (finished_seen.count(sig)) return;
    finished.push_back({s.error(), s.writers, s.units});
    finished_seen.insert(std::move(sig));
    std::sort(finished.begin(), finished.end(),
              [](const Finished& a, const Finished& b) { return std::tie(a.error, a.writers) < std::tie(b.error, b.writers); });
    if (finished.size() > kKeepFinished) {
      finished_seen.erase(signature(finished.back().units));
      finished.pop_back();
    }
  };

  // The empty program: every position 0.
  State root;
  root.covered.assign(positions_, 0);
  root.bottom.assign(positions_, 0);
  root.bottom_value.assign(positions_, 0);
  for (size_t p = 0; p < positions_; ++p) root.unexplained += target_[p] != 0;
  std::vector<State> beam = {root};

  // The moves out of a state, scored without building it.
  enum Kind : int { kNewPlain, kNewNested, kPreFirst, kPreLast, kJFirst, kJLast, kPostFirst, kPostLast };
  struct Move {
    double rank;
    int64_t writers;
    size_t from;
    int kind;
    int gate;    // kNewNested: the gate
    int writer;
  };
  constexpr size_t kPrefilter = 16;  // pre/post writers of a free nested unit fully scored, by a quick score

  const size_t width = static_cast<size_t>(std::max<int64_t>(1, beam_width_));
  int64_t scored = 0;
  for (int step = 0; step < max_writers_ && !beam.empty(); ++step) {
    // The first step always runs (a few hundredths of a second): an exhausted budget still returns a program.
    if (step > 0 && Clock::now() >= deadline) {
      result.budget_spent = true;
      break;
    }
    std::vector<std::vector<Move>> moves(beam.size());
    std::atomic<bool> late{false};
    parallel_for(beam.size(), options_.threads, [&](size_t si) {
      const State& s = beam[si];
      std::vector<Move>& out = moves[si];
      if (step > 0 && Clock::now() >= deadline) {
        late = true;
        return;
      }
      std::vector<uint8_t> below = s.covered;  // everything written so far
      for (size_t p = 0; p < positions_; ++p) below[p] |= s.bottom[p];
      // A new unit below: the bottom unit's writes become final.
      if (s.units.size() < static_cast<size_t>(listpy::kMaxLoops)) {
        const int64_t wrong_base = s.wrong_above + s.wrong_bottom;
        int64_t wrong[kGates + 1], nonzero[kGates + 1];
        for (size_t w = 0; w < writers_.size(); ++w) {
          count_new(below, w, wrong, nonzero);
          int64_t cw = 0, cn = 0;
          for (int g = kGates; g >= 1; --g) {
            cw += wrong[g];
            cn += nonzero[g];
            if (cn == 0 && cw == 0) continue;  // writes nothing new
            const double r = rank(wrong_base + cw, s.unexplained - cn, s.writers + 1);
            if (allowed(w, g)) out.push_back({r + 1e-4, s.writers + 1, si, kNewNested, g, static_cast<int>(w)});
            if (g == 1 && raises_below_[w] == 0) out.push_back({r, s.writers + 1, si, kNewPlain, 1, static_cast<int>(w)});
          }
        }
      }
      if (s.units.empty()) return;
      // One more writer in the bottom unit, each scored by rebuilding the unit's writes.
      const Unit& bottom = s.units.back();
      int64_t left_base = s.unexplained;  // unexplained once the bottom unit's writes are taken back
      for (size_t p = 0; p < positions_; ++p) left_base += (s.bottom[p] && target_[p] != 0);
      std::vector<uint8_t> mark;
      std::vector<int8_t> value;
      auto score = [&](Unit u, int kind, int w) {
        if (!fits(u, writers_)) return;
        int64_t nonzero = 0;
        const int64_t wrong = unit_writes(u, s.covered, mark, value, nonzero);
        out.push_back({rank(s.wrong_above + wrong, left_base - nonzero, s.writers + 1), s.writers + 1, si, kind, 0, w});
      };
      auto has = [](const std::vector<int>& ws, int w) { return std::find(ws.begin(), ws.end(), w) != ws.end(); };
      auto add = [&](std::vector<int> Unit::*part, int w, int first_kind) {
        Unit u = bottom;
        (u.*part).insert((u.*part).begin(), w);
        if (u.free) u.range = writers_[static_cast<size_t>(w)].range, u.free = false;
        score(u, first_kind, w);
        if ((bottom.*part).empty()) return;
        u = bottom;
        (u.*part).push_back(w);
        if (u.free) u.range = writers_[static_cast<size_t>(w)].range, u.free = false;
        score(u, first_kind + 1, w);
      };
      if (bottom.nested()) {
        for (size_t w = 0; w < writers_.size(); ++w)
          if (writers_[w].range == bottom.jrange && allowed(w, gate_of(bottom)) && !has(bottom.j, static_cast<int>(w)))
            add(&Unit::j, static_cast<int>(w), kJFirst);
      }
      // i-writers: the unit's range, or (a free nested unit) any range with its gate; a nested unit's
      // candidates are ranked first by a quick score (new positions explained, and at the last outer
      // iteration positions of the nested loop corrected), and only the best few fully scored.
      std::vector<std::pair<int64_t, int>> quick;
      for (size_t w = 0; w < writers_.size(); ++w) {
        const Writer& wr = writers_[w];
        if (raises_below_[w] != 0) continue;
        if (bottom.free ? gate_[static_cast<size_t>(wr.range)] != gate_of(bottom) : wr.range != bottom.range) continue;
        if (has(bottom.pre, static_cast<int>(w)) || has(bottom.post, static_cast<int>(w))) continue;
        if (!bottom.nested()) {
          add(&Unit::pre, static_cast<int>(w), kPreFirst);
          continue;
        }
        const int8_t* last = &last_[w * positions_];
        const int8_t* val = &value_[w * positions_];
        int64_t gain = 0;
        for (size_t p = 0; p < positions_; ++p) {
          if (s.covered[p] || last[p] == kNone) continue;
          if (!s.bottom[p]) gain += (target_[p] != 0) - (val[p] != target_[p]);
          else if (last[p] == end_of(wr.range, length_[p]) - 1) gain += (val[p] == target_[p]) - (s.bottom_value[p] == target_[p]);
        }
        quick.push_back({-gain, static_cast<int>(w)});
      }
      std::sort(quick.begin(), quick.end());
      for (size_t k = 0; k < quick.size() && k < kPrefilter; ++k) {
        add(&Unit::pre, quick[k].second, kPreFirst);
        add(&Unit::post, quick[k].second, kPostFirst);
      }
    });
    if (late) result.budget_spent = true;
    std::vector<Move> all;
    for (auto& m : moves) all.insert(all.end(), m.begin(), m.end());
    scored += static_cast<int64_t>(all.size());
    std::sort(all.begin(), all.end(), [](const Move& a, const Move& b) {
      return std::tie(a.rank, a.writers, a.from, a.kind, a.gate, a.writer) < std::tie(b.rank, b.writers, b.from, b.kind, b.gate, b.writer);
    });
    // The best `width` distinct states, built.
    std::vector<State> next;
    std::set<Signature> seen;
    for (const Move& m : all) {
      if (next.size() >= width) break;
      const State& s = beam[m.from];
      std::vector<Unit> units = s.units;
      const Writer& wr = writers_[static_cast<size_t>(m.writer)];
      if (m.kind == kNewPlain) {
        Unit u;
        u.range = wr.range;
        u.pre = {m.writer};
        units.push_back(std::move(u));
      } else if (m.kind == kNewNested) {
        Unit u;
        u.range = canonical_[static_cast<size_t>(m.gate - 1)];
        u.jrange = wr.range;
        u.j = {m.writer};
        u.free = true;
        units.push_back(std::move(u));
      } else {
        Unit& u = units.back();
        std::vector<int>& part = m.kind <= kPreLast ? u.pre : m.kind <= kJLast ? u.j : u.post;
        if (m.kind % 2 == kPreFirst % 2) part.insert(part.begin(), m.writer);
        else part.push_back(m.writer);
        if (u.free && m.kind != kJFirst && m.kind != kJLast) u.range = wr.range, u.free = false;
      }
      if (!seen.insert(signature(units)).second) continue;
      State t;
      t.units = std::move(units);
      t.writers = m.writers;
      t.covered = s.covered;
      t.wrong_above = s.wrong_above;
      if (m.kind == kNewPlain || m.kind == kNewNested) {
        for (size_t p = 0; p < positions_; ++p) t.covered[p] |= s.bottom[p];
        t.wrong_above += s.wrong_bottom;
      }
      int64_t nonzero = 0;
      t.wrong_bottom = unit_writes(t.units.back(), t.covered, t.bottom, t.bottom_value, nonzero);
      for (size_t p = 0; p < positions_; ++p) t.unexplained += !t.covered[p] && !t.bottom[p] && target_[p] != 0;
      consider(t);
      next.push_back(std::move(t));
    }
    beam = std::move(next);
    if (options_.progress)
      options_.progress("list-Python synthesis: step " + std::to_string(step + 1) + ", best error " +
                        std::to_string(finished.empty() ? -1 : finished.front().error) + " of " + std::to_string(positions_) +
                        " positions");
    if (!finished.empty() && finished.front().error == 0) break;
  }
  result.expressions = scored;
  result.kept = static_cast<int64_t>(writers_.size());

  // The finished programs run on the whole behaviour; the most faithful wins, the smallest among equals.
  int64_t best_wrong = INT64_MAX;
  size_t best_tokens = SIZE_MAX;
  for (const Finished& f : finished) {
    const std::unique_ptr<mm::Program> program = listpy::language().detokenize(listpy::tokenize(realize(f.units)));
    if (options_.listpy_check) check(*program, f.error);
    const int64_t wrong = count_disagreements(*program, behaviour_, best_wrong);
    const std::vector<std::string> tokens = program->tokens();
    if (wrong < best_wrong || (wrong == best_wrong && tokens.size() < best_tokens)) {
      best_wrong = wrong;
      best_tokens = tokens.size();
      result.found = true;
      result.tokens = tokens;
      result.agreeing = result.positions - wrong;
      result.size = static_cast<int>(f.writers);
    }
  }
  result.from = "search";
  result.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return result;
}

}  // namespace

SynthResult synthesize_listpy(const Behaviour& behaviour, const SynthOptions& options) {
  if (options.max_seconds <= 0) throw Error("the synthesis budget must be positive (--search-seconds)");
  Search search(behaviour, options, options.listpy_inputs);
  return search.run();
}

}  // namespace mm
