// Repair by single-token edits (see repair.h). Data flow per round: the current program's tokens -> every
// grammar-allowed substitution that parses and changes the program -> each run against the behaviour,
// counting disagreements only up to the best count found so far (a losing edit stops early) -> the best
// edit kept if it disagrees less than the current program.
#include "decompile/repair.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>

#include "core/error.h"
#include "core/parallel.h"

namespace mm {

std::vector<EditedProgram> single_edits(const Language& lang, const std::vector<std::string>& tokens) {
  const auto& vocab = lang.vocabulary();
  std::vector<EditedProgram> out;
  std::set<std::vector<std::string>> seen = {tokens};
  for (size_t pos = 0; pos < tokens.size(); ++pos) {
    const std::span<const std::string> prefix(tokens.data(), pos);
    for (int id : lang.next_token_ids(prefix)) {
      const std::string& to = vocab[static_cast<size_t>(id)];
      if (id <= 2 || to == tokens[pos]) continue;  // <pad>, <bos>, <eos>
      std::vector<std::string> edited = tokens;
      edited[pos] = to;
      std::unique_ptr<Program> p;
      try {
        p = lang.detokenize(edited);
      } catch (const ParseError&) {
        continue;
      }
      std::vector<std::string> canonical = p->tokens();
      if (!seen.insert(canonical).second) continue;
      out.push_back({{pos, tokens[pos], to, ""}, std::move(canonical), std::move(p)});
    }
  }
  return out;
}

bool structural_repair(const Language& lang, int choice) { return choice < 0 ? lang.name() == "python" : choice == 1; }

std::vector<EditedProgram> structural_edits(const Language& lang, const std::vector<std::string>& tokens,
                                            std::set<std::vector<std::string>>& seen) {
  std::vector<EditedProgram> out;
  for (Language::StructuralEdit& e : lang.structural_edits(tokens)) {
    std::unique_ptr<Program> p;
    try {
      p = lang.detokenize(e.tokens);
    } catch (const ParseError&) {
      continue;
    }
    std::vector<std::string> canonical = p->tokens();
    if (!seen.insert(canonical).second) continue;
    Edit edit;
    edit.move = std::move(e.what);
    out.push_back({std::move(edit), std::move(canonical), std::move(p)});
  }
  return out;
}

Candidate repair_candidate(const Language& lang, const Candidate& start, const Behaviour& b, const RepairOptions& o,
                           RepairStats* stats) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  const auto deadline = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.max_seconds));
  RepairStats s;
  Candidate current = start;
  std::unique_ptr<Program> program;
  try {
    program = lang.detokenize(current.tokens);
  } catch (const ParseError&) {
    if (stats) *stats = s;
    return current;
  }
  current.tokens = program->tokens();
  int64_t current_wrong = count_disagreements(*program, b);
  while (current_wrong > 0) {
    if (s.tried >= o.max_edits || Clock::now() >= deadline) {
      s.budget_spent = true;
      break;
    }
    std::vector<EditedProgram> around = single_edits(lang, current.tokens);
    if (o.structural) {
      std::set<std::vector<std::string>> seen = {current.tokens};
      for (const EditedProgram& e : around) seen.insert(e.tokens);
      for (EditedProgram& e : structural_edits(lang, current.tokens, seen)) around.push_back(std::move(e));
    }
    const size_t n = std::min(around.size(), static_cast<size_t>(o.max_edits - s.tried));
    // Best edit so far as (disagreements, index); an edit counts only up to the best count (ties are
    // counted out in full, so the earliest of equal edits wins whatever the threads' timing).
    std::mutex best_mutex;
    int64_t best_wrong = current_wrong - 1;  // an edit must strictly improve
    size_t best_index = SIZE_MAX;
    std::atomic<int64_t> cap{best_wrong};
    std::atomic<int64_t> tried{0};
    std::atomic<bool> out_of_time{false};
    parallel_for(n, o.threads, [&](size_t i) {
      if (out_of_time) return;
      if (Clock::now() >= deadline) {
        out_of_time = true;
        return;
      }
      ++tried;
      const int64_t wrong = count_disagreements(*around[i].program, b, cap.load());
      std::lock_guard<std::mutex> lock(best_mutex);
      if (wrong < best_wrong || (wrong == best_wrong && i < best_index)) {
        best_wrong = wrong;
        best_index = i;
        cap = wrong;
      }
    });
    s.tried += tried;
    if (best_index == SIZE_MAX) {
      s.budget_spent = out_of_time || n < around.size();
      break;
    }
    EditedProgram& chosen = around[best_index];
    current.tokens = std::move(chosen.tokens);
    current.edits.push_back(chosen.edit);
    program = std::move(chosen.program);
    current_wrong = best_wrong;
    ++s.rounds;
  }
  current.parses = true;
  current.agreement = program_agreement(*program, b);
  s.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  if (stats) *stats = s;
  return current;
}

std::vector<Candidate> repair_best(const Language& lang, const std::vector<Candidate>& ranked, int count,
                                   const Behaviour& b, const RepairOptions& o, int threads, RepairStats* stats) {
  RepairStats total;
  std::vector<Candidate> out = ranked;
  const size_t k = std::min(ranked.size(), static_cast<size_t>(std::max(count, 0)));
  RepairOptions each = o;
  each.threads = threads;
  if (k > 0) {
    each.max_edits = std::max<int64_t>(1, o.max_edits / static_cast<int64_t>(k));
    each.max_seconds = o.max_seconds / static_cast<double>(k);
  }
  for (size_t i = 0; i < k; ++i) {
    RepairStats s;
    out[i] = repair_candidate(lang, ranked[i], b, each, &s);
    total.tried += s.tried;
    total.rounds += s.rounds;
    total.seconds += s.seconds;
    total.budget_spent = total.budget_spent || s.budget_spent;
  }
  if (stats) *stats = total;
  return rerank_candidates(std::move(out));  // the repaired ones recounted, the others as ranked
}

}  // namespace mm
