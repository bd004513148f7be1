// The RASP synthesizer: a systematic search of the program space against the subject model's own
// predictions. Bottom-up by cost, with observational equivalence: every s-op and selector is represented
// by its value table on the verification inputs, and two expressions with the same table are one (the
// cheaper kept). Every s-op built is scored by per-position agreement with the model; the result is the
// program with the best agreement, the smallest among equals (then the likelier under the mapper, where
// a mapper's candidates guided the search). No torch: the behaviour is the model's recorded output.
//
// Two representations keep the tables small and the scoring cheap. An s-op whose value at a position is
// a function of (token, position, length) there — everything built from the primitives by Map,
// SequenceMap and LinearSequenceMap, and whatever else happens to be — is "local": its table has one
// entry per (token, position, length) triple (75 on RASP's default domain) and is scored against a
// precomputed count of the model's outputs per triple. Every other s-op (what an Aggregate or a
// SelectorWidth computes) holds one entry per position of the verification inputs. A selector is kept as
// its definition and hashed by its matrix (per triple pair where both sides are local).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "decompile/heads.h"
#include "decompile/verify.h"

namespace mm {

struct SynthOptions {
  double max_seconds = 8;                // wall-clock budget
  // 0: max_seconds (and the phases' shares of it) are wall-clock seconds. Above 0: a search's clock counts
  // the expressions it built, at this many a second, so that the same search stops at the same point on
  // any machine and under any load (tests; single-threaded searches are then deterministic).
  double expressions_per_second = 0;
  int64_t max_expressions = 200'000'000;  // expressions built and scored, duplicates included
  int64_t memory_mb = 1024;              // tables kept for reuse, per search; past it, expressions are scored but not kept
  // Searches run side by side (at most 3): the first builds its tables on `search_per_length` inputs of
  // each length, each further one on a sixteenth of the previous one's (at least 16), so it reaches larger
  // programs in the same time; their best programs are pooled and re-scored on every verification input.
  // When one search's best agrees with every verification input, the others stop.
  int threads = 1;
  size_t search_per_length = 512;
  // What one more operation must buy, as a share of the positions: a larger program wins only where it
  // agrees with the model on that many more positions per extra operation. 0 (the default): the most
  // faithful program wins, the smallest among equals. A price on size keeps the search from copying a
  // model's errors with extra operations, but also prefers a smaller near miss to a larger true program:
  // 0.002 lowered functional equivalence from 63% to 43% on 30 trained test views (docs/decompile.md).
  double size_penalty = 0;
  // Programs (token sequences, best first) whose statements join the search as cost-1 building blocks:
  // a mapper's candidates. Those that do not parse are skipped.
  std::vector<std::vector<std::string>> guides;
  // The mapper's log-probability of a program's tokens, to break ties between programs of equal agreement
  // and size (may be empty: then the first found wins).
  std::function<double(const std::vector<std::string>&)> logprob;
  // The subject's attention heads (read_heads; may be null): the selectors they point at join the search
  // as cost-1 building blocks, up to `head_selectors` per head.
  const HeadPatterns* heads = nullptr;
  int head_selectors = 3;
  std::function<void(const std::string&)> progress;  // a line now and then on long searches (may be empty)
  // list-Python (synthesize_listpy): the beam's width, the most writers (assignments) a program gets, the
  // search inputs (the first of the verification inputs), and the weight of what is still unexplained
  // against what is already wrong in ranking partial programs.
  int listpy_beam = 16;
  int listpy_max_writers = 12;
  size_t listpy_inputs = 1500;
  double listpy_alpha = 0.5;
  // list-Python, for tests: run every finished program on the search inputs and throw std::logic_error
  // where the interpreter disagrees with the count the search made without running it.
  bool listpy_check = false;
};

struct SynthResult {
  bool found = false;               // false only when nothing at all could be built
  std::vector<std::string> tokens;  // canonical tokens of the program found
  int64_t agreeing = 0;             // positions where it agrees with the behaviour
  int64_t positions = 0;            // all positions
  int size = 0;                     // operations (statements) of the program found
  int64_t expressions = 0;          // expressions built and scored
  int64_t kept = 0;                 // distinct s-ops and selectors kept
  int complete_cost = 0;            // every expression up to this cost was tried (by one of the searches)
  int searches = 1;                 // searches run side by side
  bool budget_spent = false;        // stopped by the budget (seconds or expressions), not by a perfect match
  bool memory_full = false;         // the table memory ran out: later expressions were scored, not kept
  double seconds = 0;               // wall clock
  std::string from;                 // "search", or "guide" when the program is a guide's own output
};

// Searches for the program that best reproduces `behaviour` (a model's, or a program's, outputs on the
// verification inputs of `domain`). Throws mm::Error when the budget is 0 or an input lies outside
// `domain`. An exhausted budget returns the best program so far.
SynthResult synthesize_rasp(const Behaviour& behaviour, const InputDomain& domain, const SynthOptions& options);

// The list-Python synthesizer (synth_listpy.cpp): a beam search over programs built last loop first, each
// loop final on the positions it writes that no later loop writes. Uses max_seconds, threads, progress
// and the listpy_* options. Throws mm::Error when the budget is 0.
SynthResult synthesize_listpy(const Behaviour& behaviour, const SynthOptions& options);

}  // namespace mm
