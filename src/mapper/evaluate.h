// `modelmap eval`: the mapper on a corpus's test split — decode every held-out view, score it (see
// eval/metrics.h) and sum the scores per parameter-count bucket and per program length, beside the same
// figures for the floor (a mapper trained with its weight input zeroed), when one is given. With
// candidates > 1 the same table also for the best of K candidates by fidelity to the subject model (see
// decompile/verify.h), and with repair for that best after repair (decompile/repair.h); the floor gets
// the same search, so each method is compared with what the program prior alone reaches by it.
#pragma once

#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "eval/metrics.h"

namespace mm {

struct EvalOptions {
  std::string corpus;         // corpus.sqlite (its test split is scored)
  std::string mapper;         // mapper checkpoint ("" = only synthesis, the search alone)
  std::string floor;          // the floor's checkpoint ("" = none)
  int beam = 1;               // the first method: 1 = greedy, else beam search's top program
  int candidates = 1;         // K > 1 adds "best of K": candidates proposed, verified, the most faithful kept
  bool repair = false;        // adds "repair": the best few of the K candidates repaired (needs K > 1)
  int repair_from = 3;        // how many of the ranked candidates are repaired
  int64_t repair_edits = 2000;  // edit budget per view (and per mapper)
  double repair_seconds = 10;   // time budget per view (and per mapper)
  int repair_structural = -1;  // repair also tries the language's structural edits: 1 yes, 0 no,
                               // -1 the language's default (structural_repair)
  bool synth = false;         // adds "synthesis": the search of the program space, guided by the mapper's
                              // candidates (and by the floor's), and alone (no mapper); RASP only
  double search_seconds = 8;  // synthesis budget per view and per guide (mapper, floor, alone)
  int64_t search_expressions = 200'000'000;
  int64_t search_memory_mb = 1024;
  bool heads = true;          // synthesis: the selectors the model's attention heads point at join the search
  bool perfect_subjects = false;  // diagnostic, behaviour encoder: the mapper reads each test program's own
                                  // outputs (what a perfectly trained subject would show; what --synthetic
                                  // trains on) instead of its subject's; everything else, fidelity and
                                  // verification included, still reads the subject
  std::string statements;     // the first method's number of statements: "" as the decoder writes it, or
                              // held to the one the mapper's statement head predicts ("head"; the floor's
                              // its own head's), or to "oracle" (diagnostic: the target's own count, for
                              // the mapper and the floor alike — what knowing the program's size gives)
  uint64_t inputs = 10000;    // verification inputs: the domain, or a fixed sample of this many
  uint64_t seed = 1;          // sampling of candidates
  int limit = 0;              // score at most this many test views (0 = all)
  std::string views_file;     // per-view records (JSON lines), appended as views are scored; views already
                              // in it (written with the same options) are read back, not recomputed, so a
                              // killed evaluation resumes where it stopped ("" = none)
  int shard_index = 0, shard_count = 1;  // score only test views k with k % count == index (with views_file)
  std::vector<std::string> merge;  // views files of shards: their records make the report; nothing is run
  std::string device = "cpu";
  int threads = 0;            // torch threads (0 = torch's default)
};

// One way of choosing the program: greedy (or beam) top-1, best of K by fidelity, after repair.
struct MethodReport {
  std::string name;                             // "greedy", "beam 4", "best of 8", "repair"
  std::map<std::string, ScoreSummary> mapper;   // by row
  std::map<std::string, ScoreSummary> floor;    // by row; empty without a floor
  std::map<std::string, ScoreSummary> alone;    // by row: the search with no mapper (synthesis only)
  double seconds_per_view = 0;                  // mapper only: producing the answer (decoding, running the
                                                // model and the candidates, repairing), not scoring it
  double floor_seconds_per_view = 0;
  double alone_seconds_per_view = 0;
  int64_t repair_edits_tried = 0;               // repair only, mapper: edits run, over all views
  // Per view, in the order scored: the answer's fidelity (per position) to the subject model, for the
  // histograms of `eval --report`.
  std::vector<double> mapper_fidelity, floor_fidelity, alone_fidelity;
};

struct EvalReport {
  std::string language, encoder;               // encoder "" when no mapper was given
  std::string order;                            // the order the mapper writes programs in ("" without one)
  std::string split = "program";                // the mapper's split (its test split is scored)
  std::vector<std::string> rows;                // "all", then the buckets present, in order
  std::vector<MethodReport> methods;            // greedy (or beam) first
  int64_t views = 0;
  double seconds = 0;                           // the whole evaluation, wall clock
  bool repair_structural = false;               // repair tried structural edits too
};

EvalReport evaluate_mapper(const EvalOptions& options, std::ostream& log);
std::string format_report(const EvalReport& report);  // a Markdown table
std::string report_json(const EvalReport& report);

}  // namespace mm
