// The decompile pipeline (see pipeline.h). Data flow: proposals -> rank_candidates (verify) -> search_ranked: repair_best
// or synthesize_rasp (guided by the best proposals) -> the synthesized program joins the ranked list ->
// re-ranked, best first.
#include "decompile/pipeline.h"

#include <chrono>

#include "core/error.h"

namespace mm {

SearchKind parse_search(const std::string& name) {
  if (name == "none") return SearchKind::None;
  if (name == "repair") return SearchKind::Repair;
  if (name == "synth") return SearchKind::Synth;
  throw Error("unknown search '" + name + "' (expected synth, repair or none)");
}

SearchKind default_search(const Language&) { return SearchKind::Synth; }

DecompileResult decompile_behaviour(const Language& lang, const Behaviour& behaviour, const InputDomain& domain,
                                    std::vector<Candidate> proposals, const DecompileConfig& c) {
  // Verify: every proposal run against the model's recorded behaviour; then the search.
  const auto t = std::chrono::steady_clock::now();
  std::vector<Candidate> ranked = rank_candidates(lang, std::move(proposals), behaviour, c.threads);
  const double verify_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  DecompileResult r = search_ranked(lang, behaviour, domain, std::move(ranked), c);
  r.verify_seconds = verify_seconds;
  return r;
}

DecompileResult search_ranked(const Language& lang, const Behaviour& behaviour, const InputDomain& domain,
                              std::vector<Candidate> ranked, const DecompileConfig& c) {
  const auto t = std::chrono::steady_clock::now();
  DecompileResult r;
  r.verified = std::move(ranked);
  r.ranked = r.verified;
  switch (c.search) {
    case SearchKind::None:
      if (r.ranked.empty()) throw Error("nothing to decompile with: no mapper's candidates and no search");
      break;
    case SearchKind::Repair: {
      if (r.ranked.empty())
        throw Error("repair starts from a mapper's candidates: give --mapper, or search by synthesis (--search synth)");
      r.ranked = repair_best(lang, r.ranked, c.repair_from, behaviour, c.repair, c.threads, &r.repair);
      r.repaired = true;
      break;
    }
    case SearchKind::Synth: {
      if (lang.name() == "rasp") {
        SynthOptions o = c.synth;
        for (size_t k = 0; k < r.ranked.size() && static_cast<int>(o.guides.size()) < c.guides; ++k)
          if (r.ranked[k].parses) o.guides.push_back(r.ranked[k].tokens);
        r.synth = synthesize_rasp(behaviour, domain, o);
      } else if (lang.name() == "python") {
        r.synth = synthesize_listpy(behaviour, c.synth);
      } else {
        throw Error("no synthesizer for " + std::string(lang.name()) + "; use --search repair");
      }
      r.synthesized = true;
      if (r.synth.found) {
        Candidate s = Candidate::proposed(r.synth.tokens, 0, r.synth.from == "guide" ? "synthesis (a candidate's own program)" : "synthesis");
        s.parses = true;
        s.agreement = program_agreement(*lang.detokenize(s.tokens), behaviour);
        // The synthesized program first among equals: it is the smallest of the most faithful it found.
        r.ranked.insert(r.ranked.begin(), std::move(s));
        r.ranked = rerank_candidates(std::move(r.ranked));
      }
      // list-Python: the search builds no statement after a nested loop, and ranks its programs on a
      // sample; structural repair from the best programs (the synthesized one among them) finishes it.
      if (lang.name() == "python" && c.synth_repair && !r.ranked.empty() && r.ranked[0].agreement.position_rate() < 1) {
        r.ranked = repair_best(lang, r.ranked, c.repair_from, behaviour, c.repair, c.threads, &r.repair);
        r.repaired = true;
      }
      break;
    }
  }
  r.search_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  return r;
}

}  // namespace mm
