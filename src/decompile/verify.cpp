// Verification against the subject's behaviour (see verify.h).
#include "decompile/verify.h"

#include <algorithm>
#include <cstdio>
#include <set>

#include "core/error.h"
#include "core/parallel.h"
#include "core/rng.h"

namespace mm {

namespace {

// Shuffles inputs with a fixed seed: counts do not depend on the order, and a count stopped early (see
// count_disagreements) has then seen inputs of every length instead of only the shortest.
std::vector<Input> shuffled(std::vector<Input> inputs) {
  Rng rng(kVerificationSeed);
  for (size_t i = inputs.size(); i > 1; --i) std::swap(inputs[i - 1], inputs[rng.index(i)]);
  return inputs;
}

// A behaviour with its inputs chosen and no outputs yet.
Behaviour behaviour_inputs(const InputDomain& domain, uint64_t max_inputs) {
  Behaviour b;
  b.inputs = shuffled(verification_inputs(domain, max_inputs));
  b.whole_domain = domain.size() <= max_inputs;
  return b;
}

// One candidate per program (they must be canonical): in likelihood order, the likelier of two kept.
std::vector<Candidate> drop_duplicates(std::vector<Candidate> candidates) {
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const Candidate& x, const Candidate& y) { return x.logprob > y.logprob; });
  std::vector<Candidate> distinct;
  std::set<std::vector<std::string>> seen;
  for (Candidate& c : candidates)
    if (seen.insert(c.tokens).second) distinct.push_back(std::move(c));
  return distinct;
}

// Best first by counted agreement (see rank_candidates).
void sort_best_first(std::vector<Candidate>& candidates) {
  std::stable_sort(candidates.begin(), candidates.end(), [](const Candidate& x, const Candidate& y) {
    if (x.parses != y.parses) return x.parses;
    if (x.agreement.positions != y.agreement.positions) return x.agreement.positions > y.agreement.positions;
    if (x.agreement.sequences != y.agreement.sequences) return x.agreement.sequences > y.agreement.sequences;
    return x.logprob > y.logprob;
  });
}

}  // namespace

std::string thousands(int64_t n) {
  std::string s = std::to_string(n);
  const int first = n < 0 ? 1 : 0;  // after the sign
  for (int at = static_cast<int>(s.size()) - 3; at > first; at -= 3) s.insert(static_cast<size_t>(at), ",");
  return s;
}

int64_t Behaviour::positions() const {
  int64_t n = 0;
  for (const Input& x : inputs) n += static_cast<int64_t>(x.size());
  return n;
}

std::vector<Input> verification_inputs(const InputDomain& domain, uint64_t max_inputs) {
  if (max_inputs == 0) throw Error("the number of verification inputs must be at least 1");
  return domain.evaluation_set(max_inputs, kVerificationSeed);
}

Behaviour model_behaviour(const SubjectModel& model, uint64_t max_inputs, int threads) {
  Behaviour b = behaviour_inputs(model.domain, max_inputs);
  b.outputs.resize(b.inputs.size());
  parallel_for(b.inputs.size(), threads, [&](size_t i) { b.outputs[i] = subject_predict(model, b.inputs[i]); });
  return b;
}

Behaviour program_behaviour(const Program& program, const InputDomain& domain, uint64_t max_inputs) {
  Behaviour b = behaviour_inputs(domain, max_inputs);
  b.outputs = run_on(program, b.inputs);
  return b;
}

int64_t count_disagreements(const Program& program, const Behaviour& b, int64_t cap) {
  int64_t wrong = 0;
  for (size_t i = 0; i < b.inputs.size() && wrong <= cap; ++i) {
    const Input& x = b.inputs[i];
    try {
      const std::vector<Value> out = program.evaluate(x);
      for (size_t k = 0; k < x.size(); ++k) wrong += out[k] != b.outputs[i][k];
    } catch (const EvalError&) {
      wrong += static_cast<int64_t>(x.size());
    }
  }
  return wrong;
}

Agreement program_agreement(const Program& program, const Behaviour& b) {
  return count_agreement(run_on(program, b.inputs), b.outputs, b.inputs);
}

std::string Edit::describe() const {
  if (!move.empty()) return move;
  return "token " + std::to_string(position) + ": " + from + " -> " + to;
}

std::vector<Candidate> rank_candidates(const Language& lang, std::vector<Candidate> candidates, const Behaviour& b,
                                       int threads) {
  // Canonical form first, so that two spellings of one program count once.
  for (Candidate& c : candidates) {
    try {
      c.tokens = lang.detokenize(c.tokens)->tokens();
      c.parses = true;
    } catch (const ParseError&) {
      c.parses = false;
    }
  }
  std::vector<Candidate> distinct = drop_duplicates(std::move(candidates));
  parallel_for(distinct.size(), threads, [&](size_t i) {
    Candidate& c = distinct[i];
    c.agreement = c.parses ? program_agreement(*lang.detokenize(c.tokens), b) : Agreement{};
  });
  sort_best_first(distinct);
  return distinct;
}

std::vector<Candidate> rerank_candidates(std::vector<Candidate> candidates) {
  std::vector<Candidate> distinct = drop_duplicates(std::move(candidates));
  sort_best_first(distinct);
  return distinct;
}

std::string describe_fidelity(const Agreement& a, const Behaviour& b) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%.1f%% of positions, %.1f%% of sequences, on %s inputs (%s)", 100 * a.position_rate(),
                100 * a.sequence_rate(), thousands(static_cast<int64_t>(b.inputs.size())).c_str(),
                b.whole_domain ? "the whole domain" : "a fixed sample of the domain");
  return buf;
}

}  // namespace mm
