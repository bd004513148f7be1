// Repair: a bounded hill-climb over edits of a candidate program, keeping each edit that
// raises its agreement with the subject model. The edits are the language's own: at every position, the
// tokens its grammar allows there given the tokens before (Language::next_token_ids) — which is exactly a
// map function for a map function, a comparison for a comparison, a constant, an argument, a loop bound,
// an operator or a sign — kept when the whole edited sequence still parses. Each round runs every such
// edit against the behaviour and takes the one that agrees best (ties: the earliest), until no edit helps
// or the budget (edits run, seconds) is spent. With `structural`, each round also tries the
// language's structural edits (Language::structural_edits: for RASP, drop an operation, insert a Map,
// return an earlier value; for list-Python, drop or insert a statement, wrap or unwrap an `if`, append a
// loop), which single tokens cannot make.
#pragma once

#include <cstdint>
#include <memory>
#include <set>

#include "decompile/verify.h"

namespace mm {

// One program a single edit away.
struct EditedProgram {
  Edit edit;
  std::vector<std::string> tokens;  // canonical tokens of the edited program
  std::unique_ptr<Program> program;
};
// Every single-token substitution of `tokens` that the grammar allows at its position and that parses to a
// program other than `tokens`' own, each distinct program once, in position then vocabulary order.
std::vector<EditedProgram> single_edits(const Language& lang, const std::vector<std::string>& tokens);
// The language's structural edits of `tokens` that parse to a program not in `seen` (which they join).
std::vector<EditedProgram> structural_edits(const Language& lang, const std::vector<std::string>& tokens,
                                            std::set<std::vector<std::string>>& seen);

struct RepairOptions {
  int64_t max_edits = 2000;  // single edits run against the behaviour, over all rounds
  double max_seconds = 10;   // wall-clock budget
  int threads = 1;           // edits run side by side
  bool structural = false;   // also try the language's structural edits
};

// Whether repair tries the language's structural edits: `choice` 1 yes, 0 no, -1 (not told either way)
// the language's default, the better choice as measured at the default search (docs/results.md) —
// list-Python yes (functional equivalence and fidelity up by a wide margin), RASP no (no gain at a
// 1,000-edit budget: its insertions crowd out token edits).
bool structural_repair(const Language& lang, int choice);

struct RepairStats {
  int64_t tried = 0;          // edits run against the behaviour
  int rounds = 0;             // rounds that kept an edit
  double seconds = 0;
  bool budget_spent = false;  // stopped by the budget rather than by no edit helping
};

// The repaired candidate (its edits appended to start.edits, its agreement recounted); `start` itself
// when it does not parse or no edit helps. `stats` (may be null) receives what the search cost.
Candidate repair_candidate(const Language& lang, const Candidate& start, const Behaviour& behaviour,
                           const RepairOptions& options, RepairStats* stats = nullptr);

// Repairs each of the first `count` candidates of a ranked list, the budget split evenly between them, and
// returns the list re-ranked (rerank_candidates: no candidate runs again). `stats` sums over the repairs.
std::vector<Candidate> repair_best(const Language& lang, const std::vector<Candidate>& ranked, int count,
                                   const Behaviour& behaviour, const RepairOptions& options, int threads,
                                   RepairStats* stats = nullptr);

}  // namespace mm
