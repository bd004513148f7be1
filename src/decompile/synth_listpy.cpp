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
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <unordered_set>

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
constexpr int kMaxBlocks = 5;      // blocks in a state (realized in at most 3 outer loops)
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

struct Block {
  int gate = 1;
  int range = 0;
  std::vector<int> writers;  // body order
  bool operator==(const Block&) const = default;
};

struct State {
  std::vector<Block> blocks;     // the last executed first; back() is the open bottom block
  std::vector<uint8_t> covered;  // written by the blocks above the bottom one
  std::vector<uint8_t> bottom;   // written by the bottom block (and not above)
  int64_t wrong_above = 0, wrong_bottom = 0;
  int64_t unexplained = 0;       // positions nothing writes whose target is not 0
  int64_t writers = 0;
  double rank = 0;
  int64_t error() const { return wrong_above + wrong_bottom + unexplained; }
};

// Statements a block's body takes once adjacent writers under one guard share an `if` (at most 2 each).
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
    target_.resize(positions_);
    for (size_t k = 0; k < input_.size(); ++k) {
      const Input& x = b.inputs[input_[k]];
      const Outputs::value_type& y = b.outputs[input_[k]];
      for (size_t p = 0; p < x.size(); ++p) {
        length_[base_[k] + p] = static_cast<uint8_t>(std::min<size_t>(x.size(), kGates));
        int8_t t = kNoValue;
        if (p < y.size() && y[p].kind == Value::Kind::Int && y[p].i > -127 && y[p].i < 127) t = static_cast<int8_t>(y[p].i);
        target_[base_[k] + p] = t;
      }
    }
    run_writers();
  }

  SynthResult run();

 private:
  void run_writers();
  // Per gate bucket (length min(n, 4)): positions `w` writes among those not in `covered`, and how many
  // of them it gets wrong / whose target is not 0.
  void count_new(const std::vector<uint8_t>& covered, size_t w, int64_t wrong[kGates + 1], int64_t nonzero[kGates + 1]) const;
  // The bottom block's writes: fills `mark` (1 where it writes, outside `covered`) and returns wrong count,
  // and the count of marked positions whose target is not 0 through `nonzero`.
  int64_t block_writes(const Block& b, const std::vector<uint8_t>& covered, std::vector<uint8_t>& mark, int64_t& nonzero) const;
  bool allowed(size_t w, int gate) const { return raises_below_[w] < gate; }
  double rank(int64_t wrong, int64_t unexplained, int64_t writers) const {
    return static_cast<double>(wrong) + alpha_ * static_cast<double>(unexplained) + 1e-3 * static_cast<double>(writers);
  }
  // The block list as a program of the family (nullopt when it needs more than 3 outer loops).
  std::optional<listpy::Program> realize(const std::vector<Block>& blocks) const;
  Stmt writer_statement(const Writer& w, char var) const;

  const Behaviour& behaviour_;
  const SynthOptions& options_;
  std::vector<Range> ranges_;
  std::vector<Writer> writers_;
  std::vector<size_t> input_, base_;
  size_t positions_ = 0;
  std::vector<uint8_t> length_;  // per position: min(length, kGates), the gate bucket
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
      const int64_t end = r.end == EndKind::N ? n : r.end == EndKind::NMinus1 ? n - 1 : r.end_const;
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
    wrong[length_[p]] += value[p] != target_[p];
    nonzero[length_[p]] += target_[p] != 0;
  }
}

int64_t Search::block_writes(const Block& b, const std::vector<uint8_t>& covered, std::vector<uint8_t>& mark,
                             int64_t& nonzero) const {
  mark.assign(positions_, 0);
  int64_t wrong = 0;
  nonzero = 0;
  for (size_t p = 0; p < positions_; ++p) {
    if (covered[p] || length_[p] < b.gate) continue;
    int best_v = kNone;
    int8_t v = 0;
    for (int w : b.writers) {  // the latest iteration wins; within one, the later statement
      const size_t at = static_cast<size_t>(w) * positions_ + p;
      if (last_[at] != kNone && last_[at] >= best_v) {
        best_v = last_[at];
        v = value_[at];
      }
    }
    if (best_v == kNone) continue;
    mark[p] = 1;
    wrong += v != target_[p];
    nonzero += target_[p] != 0;
  }
  return wrong;
}

Stmt Search::writer_statement(const Writer& w, char var) const {
  Stmt s;
  s.kind = StmtKind::Assign;
  s.var = var;
  s.out_offset = w.out_offset;
  s.arr_offset = w.arr_offset;
  s.negate = w.negate;
  return s;
}

std::optional<listpy::Program> Search::realize(const std::vector<Block>& blocks) const {
  if (blocks.empty()) return std::nullopt;  // the family has at least one loop
  // Each block as a loop over `var`, its adjacent writers under one guard sharing an `if`.
  auto loop_of = [&](const Block& b, char var) {
    const Range& r = ranges_[static_cast<size_t>(b.range)];
    Stmt f;
    f.kind = StmtKind::For;
    f.var = var;
    f.start = r.start;
    f.end = r.end;
    f.end_const = r.end_const;
    for (size_t k = 0; k < b.writers.size();) {
      const Writer& w = writers_[static_cast<size_t>(b.writers[k])];
      if (w.guard == 0) {
        f.body.push_back(writer_statement(w, var));
        ++k;
        continue;
      }
      Stmt s;
      s.kind = StmtKind::If;
      s.var = var;
      s.modulus = w.modulus();
      s.equal = w.equal();
      while (k < b.writers.size() && s.body.size() < static_cast<size_t>(listpy::kMaxIfBody) &&
             writers_[static_cast<size_t>(b.writers[k])].guard == w.guard) {
        s.body.push_back(writer_statement(writers_[static_cast<size_t>(b.writers[k])], var));
        ++k;
      }
      f.body.push_back(std::move(s));
    }
    return f;
  };
  // Executed order: the last block of the list first. A gated block becomes `for i in range(S, E): for j`
  // with S, E giving its gate; where the block executed just before it is an ungated-in-effect `for i`
  // block whose range has that gate and room for one more statement, the `for j` joins it as its last
  // statement (the inner loop then overrides it, as a later block does).
  std::vector<Stmt> loops;
  std::vector<int> loop_block;  // which block each loop came from (-1: merged)
  for (size_t k = blocks.size(); k-- > 0;) {
    const Block& b = blocks[k];
    if (b.gate == 1) {
      loops.push_back(loop_of(b, 'i'));
      continue;
    }
    Stmt inner = loop_of(b, 'j');
    // Merge into the loop just before, if it is a plain i loop (no nested loop yet) whose range gives this gate.
    if (!loops.empty()) {
      Stmt& prev = loops.back();
      const bool plain = std::none_of(prev.body.begin(), prev.body.end(), [](const Stmt& s) { return s.kind == StmtKind::For; });
      const int gate = prev.end == EndKind::N ? prev.start + 1 : prev.end == EndKind::NMinus1 ? prev.start + 2 : -1;
      const Block& below = blocks[k + 1];
      if (plain && gate == b.gate && below.gate == 1 && prev.body.size() < static_cast<size_t>(listpy::kMaxBody)) {
        prev.body.push_back(std::move(inner));
        continue;
      }
    }
    Stmt outer;
    outer.kind = StmtKind::For;
    outer.var = 'i';
    outer.start = b.gate == 4 ? 2 : b.gate - 1;
    outer.end = b.gate == 4 ? EndKind::NMinus1 : EndKind::N;
    outer.body.push_back(std::move(inner));
    loops.push_back(std::move(outer));
  }
  if (loops.size() > static_cast<size_t>(listpy::kMaxLoops)) return std::nullopt;
  listpy::Program p;
  p.loops = std::move(loops);
  return p;
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
    std::vector<Block> blocks;
  };
  std::vector<Finished> finished;
  std::set<std::vector<std::pair<int, std::pair<int, std::vector<int>>>>> finished_seen;
  auto signature = [](const std::vector<Block>& bs) {
    std::vector<std::pair<int, std::pair<int, std::vector<int>>>> s;
    for (const Block& b : bs) s.push_back({b.gate, {b.range, b.writers}});
    return s;
  };
  constexpr size_t kKeepFinished = 24;
  auto consider = [&](const State& s) {
    if (!realize(s.blocks)) return;
    auto sig = signature(s.blocks);
    if (finished_seen.count(sig)) return;
    finished.push_back({s.error(), s.writers, s.blocks});
    finished_seen.insert(std::move(sig));
    std::sort(finished.begin(), finished.end(),
              [](const Finished& a, const Finished& b) { return std::tie(a.error, a.writers) < std::tie(b.error, b.writers); });
    if (finished.size() > kKeepFinished) {
      finished_seen.erase(signature(finished.back().blocks));
      finished.pop_back();
    }
  };

  // The empty program: every position 0.
  State root;
  root.covered.assign(positions_, 0);
  root.bottom.assign(positions_, 0);
  for (size_t p = 0; p < positions_; ++p) root.unexplained += target_[p] != 0;
  root.rank = rank(0, root.unexplained, 0);
  std::vector<State> beam = {root};

  const size_t width = static_cast<size_t>(std::max<int64_t>(1, beam_width_));
  int64_t scored = 0;
  for (int step = 0; step < max_writers_ && !beam.empty(); ++step) {
    // The first step always runs (a few hundredths of a second): an exhausted budget still returns a program.
    if (step > 0 && Clock::now() >= deadline) {
      result.budget_spent = true;
      break;
    }
    // Every move of every beam state, scored without building its state.
    struct Move {
      double rank;
      int64_t writers;
      size_t from;
      int kind;  // 0: new block (gate, writer); 1: writer first in the bottom block; 2: writer last
      int gate;
      int writer;
    };
    std::vector<std::vector<Move>> moves(beam.size());
    std::atomic<bool> late{false};
    parallel_for(beam.size(), options_.threads, [&](size_t si) {
      const State& s = beam[si];
      std::vector<Move>& out = moves[si];
      if (step > 0 && Clock::now() >= deadline) {
        late = true;
        return;
      }
      // A new block below: the bottom block's writes become final.
      if (s.blocks.size() < static_cast<size_t>(kMaxBlocks) && (s.blocks.empty() || !s.blocks.back().writers.empty())) {
        std::vector<uint8_t> covered = s.covered;
        for (size_t p = 0; p < positions_; ++p) covered[p] |= s.bottom[p];
        const int64_t wrong_base = s.wrong_above + s.wrong_bottom;
        int64_t wrong[kGates + 1], nonzero[kGates + 1];
        for (size_t w = 0; w < writers_.size(); ++w) {
          count_new(covered, w, wrong, nonzero);
          int64_t cw = 0, cn = 0;
          for (int g = kGates; g >= 1; --g) {
            cw += wrong[g];
            cn += nonzero[g];
            if (!allowed(w, g)) continue;
            if (cn == 0 && cw == 0) continue;  // writes nothing new
            out.push_back({rank(wrong_base + cw, s.unexplained - cn, s.writers + 1), s.writers + 1, si, 0, g, static_cast<int>(w)});
          }
        }
      }
      // One more writer in the bottom block.
      if (!s.blocks.empty()) {
        const Block& bottom = s.blocks.back();
        std::vector<uint8_t> mark;
        int64_t left_base = s.unexplained;  // unexplained once the bottom block's writes are taken back
        for (size_t p = 0; p < positions_; ++p) left_base += (s.bottom[p] && target_[p] != 0);
        for (size_t w = 0; w < writers_.size(); ++w) {
          if (writers_[w].range != bottom.range || !allowed(w, bottom.gate)) continue;
          if (std::find(bottom.writers.begin(), bottom.writers.end(), static_cast<int>(w)) != bottom.writers.end()) continue;
          for (int kind = 1; kind <= 2; ++kind) {
            Block b = bottom;
            if (kind == 1) b.writers.insert(b.writers.begin(), static_cast<int>(w));
            else b.writers.push_back(static_cast<int>(w));
            if (body_statements(b.writers, writers_) > listpy::kMaxBody) continue;
            int64_t nonzero = 0;
            const int64_t wrong = block_writes(b, s.covered, mark, nonzero);
            // Unexplained: what the blocks above leave, less what this block now writes.
            const int64_t left = left_base - nonzero;
            out.push_back({rank(s.wrong_above + wrong, left, s.writers + 1), s.writers + 1, si, kind, bottom.gate, static_cast<int>(w)});
          }
        }
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
    std::set<std::vector<std::pair<int, std::pair<int, std::vector<int>>>>> seen;
    for (const Move& m : all) {
      if (next.size() >= width) break;
      const State& s = beam[m.from];
      std::vector<Block> blocks = s.blocks;
      if (m.kind == 0) blocks.push_back({m.gate, writers_[static_cast<size_t>(m.writer)].range, {m.writer}});
      else if (m.kind == 1) blocks.back().writers.insert(blocks.back().writers.begin(), m.writer);
      else blocks.back().writers.push_back(m.writer);
      if (!seen.insert(signature(blocks)).second) continue;
      State t;
      t.blocks = std::move(blocks);
      t.writers = m.writers;
      if (m.kind == 0) {
        t.covered = s.covered;
        for (size_t p = 0; p < positions_; ++p) t.covered[p] |= s.bottom[p];
        t.wrong_above = s.wrong_above + s.wrong_bottom;
      } else {
        t.covered = s.covered;
        t.wrong_above = s.wrong_above;
      }
      int64_t nonzero = 0;
      t.wrong_bottom = block_writes(t.blocks.back(), t.covered, t.bottom, nonzero);
      t.unexplained = 0;
      for (size_t p = 0; p < positions_; ++p) t.unexplained += !t.covered[p] && !t.bottom[p] && target_[p] != 0;
      t.rank = m.rank;
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
    const std::optional<listpy::Program> p = realize(f.blocks);
    if (!p) continue;
    const std::unique_ptr<mm::Program> program = listpy::language().detokenize(listpy::tokenize(*p));
    const int64_t wrong = count_disagreements(*program, behaviour_, best_wrong);
    const std::vector<std::string> tokens = program->tokens();
    if (wrong < best_wrong || (wrong == best_wrong && tokens.size() < best_tokens)) {
      best_wrong = wrong;
      best_tokens = tokens.size();
      result.found = true;
      result.tokens = tokens;
      result.agreeing = result.positions - wrong;
      int size = 0;
      for (const Block& b : f.blocks) size += static_cast<int>(b.writers.size());
      result.size = size;
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
