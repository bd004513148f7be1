// Verification: run candidate programs against what the subject model does, and rank them by how often
// they agree with it. The model is run once, on a fixed set of inputs (its whole input domain, or a fixed
// sample of 10,000 inputs where the domain is larger); every candidate is scored against that one record
// of its behaviour. Agreement is counted per position (the ranking's key) and per whole sequence.
// No torch: candidates arrive as token sequences from whatever proposed them (decode.h's beam search and
// sampling), and the subject runs through its plain C++ forward pass.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/domain.h"
#include "core/language.h"
#include "eval/metrics.h"
#include "subject/model.h"

namespace mm {

constexpr uint64_t kVerificationInputs = 10'000;
constexpr uint64_t kVerificationSeed = 2024;  // which sample, where the domain is larger

// What a reference (the subject model, or a program in tests) outputs on the verification inputs.
struct Behaviour {
  std::vector<Input> inputs;  // in a fixed shuffled order, so that a count stopped early has seen every length
  Outputs outputs;            // the reference's output on each input
  bool whole_domain = false;  // the inputs are the whole domain (else a fixed sample of it)
  int64_t positions() const;  // total positions over all inputs
};

// The domain when it holds at most `max_inputs`, else the fixed sample (InputDomain::evaluation_set).
std::vector<Input> verification_inputs(const InputDomain& domain, uint64_t max_inputs = kVerificationInputs);
// The subject model's predictions on the verification inputs, run on `threads` threads.
Behaviour model_behaviour(const SubjectModel& model, uint64_t max_inputs = kVerificationInputs, int threads = 1);
// A program's outputs on the verification inputs of `domain` (an input it raises on gives an empty row).
Behaviour program_behaviour(const Program& program, const InputDomain& domain, uint64_t max_inputs = kVerificationInputs);

// Positions where `program` disagrees with the behaviour (every position of an input it raises on). Stops
// counting once the count exceeds `cap` and returns a number above `cap`: a candidate that has already
// lost cannot win.
int64_t count_disagreements(const Program& program, const Behaviour& behaviour, int64_t cap = INT64_MAX);
Agreement program_agreement(const Program& program, const Behaviour& behaviour);

// One single-token edit of a program: the token at `position` replaced.
struct Edit {
  size_t position = 0;
  std::string from, to;
  std::string move;               // a structural edit's description (then position/from/to are unused)
  std::string describe() const;  // "token 12: LT -> GT", or the move: "bypass v3 (its readers read v2)"
};

struct Candidate {
  std::vector<std::string> tokens;  // program tokens (canonical once ranked)
  double logprob = 0;               // the mapper's log-probability of the proposed tokens
  std::string origin;               // how it was proposed: "beam 1", "sample 3", ...
  bool parses = false;
  Agreement agreement;              // with the behaviour (zero where it does not parse)
  std::vector<Edit> edits;          // repairs made since it was proposed, in order

  static Candidate proposed(std::vector<std::string> tokens, double logprob, std::string origin) {
    Candidate c;
    c.tokens = std::move(tokens);
    c.logprob = logprob;
    c.origin = std::move(origin);
    return c;
  }
};

// Runs every candidate against the behaviour (in parallel over `threads`) and returns them best first:
// by agreeing positions, then agreeing sequences, then the mapper's log-probability; candidates that do
// not parse last. Duplicates (the same canonical program) are dropped, keeping the likelier one.
std::vector<Candidate> rank_candidates(const Language& lang, std::vector<Candidate> candidates,
                                       const Behaviour& behaviour, int threads = 1);

// The same order for candidates already ranked against `behaviour` and since changed (repaired: canonical
// tokens, agreement recounted): nothing is run again.
std::vector<Candidate> rerank_candidates(std::vector<Candidate> candidates);

// 3905 -> "3,905": counts as the reports and messages print them.
std::string thousands(int64_t n);

// "97.3% of positions, 91.2% of sequences, on 3,905 inputs (the whole domain)".
std::string describe_fidelity(const Agreement& agreement, const Behaviour& behaviour);

}  // namespace mm
