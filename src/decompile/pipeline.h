// One decompile pipeline for `decompile` and `eval`: propose -> verify -> search -> result. The proposals
// come from whatever reads the model (the mapper's decoding, in modelmap-torch; none for search alone);
// verification ranks them by agreement with the model's own predictions; the search is repair (a
// hill-climb from the best proposals) or synthesis (a systematic search of the program space: for RASP
// guided by the proposals; for list-Python followed by repair from the best programs), or none. No torch.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "decompile/repair.h"
#include "decompile/synth.h"

namespace mm {

enum class SearchKind { None, Repair, Synth };

// "none", "repair", "synth"; throws mm::Error naming the value otherwise.
SearchKind parse_search(const std::string& name);
// The search a language gets when none is named: synthesis (both languages have a synthesizer).
SearchKind default_search(const Language& lang);

struct DecompileConfig {
  SearchKind search = SearchKind::Synth;
  int repair_from = 3;      // repair: how many of the ranked proposals are repaired
  RepairOptions repair;     // repair's budget and edits
  SynthOptions synth;       // synthesis's budget (its guides are filled from the proposals)
  int guides = 8;           // synthesis: how many of the best proposals guide it
  bool synth_repair = true;  // list-Python synthesis: repair (structural) from the best programs after it
  int threads = 1;
};

struct DecompileResult {
  std::vector<Candidate> verified;  // the proposals alone, ranked (best of K: verified[0])
  std::vector<Candidate> ranked;  // after the search, best first: ranked[0] is the answer
  RepairStats repair;             // what repair cost (when it ran)
  SynthResult synth;              // what synthesis cost and found (when it ran)
  bool repaired = false, synthesized = false;
  double verify_seconds = 0, search_seconds = 0;  // ranking the proposals; the search after it
};

// Ranks `proposals` against `behaviour` (the model's predictions on the verification inputs of `domain`),
// then runs the configured search (search_ranked). Throws mm::Error when the search needs proposals and
// has none (repair).
DecompileResult decompile_behaviour(const Language& lang, const Behaviour& behaviour, const InputDomain& domain,
                                    std::vector<Candidate> proposals, const DecompileConfig& config);
// The search alone, on proposals already ranked against the same behaviour (rank_candidates, or a
// DecompileResult's `verified`): several searches from one verification. verify_seconds is 0.
DecompileResult search_ranked(const Language& lang, const Behaviour& behaviour, const InputDomain& domain,
                              std::vector<Candidate> ranked, const DecompileConfig& config);

}  // namespace mm
