// Scoring one decoded program against its target and its subject model, and summing scores into the
// report's table. No torch.
//   token accuracy (the paper's): positions where the decoded token equals the target's, over the
//     target's length (a missing token counts as wrong); for list-Python also on GPT-2 BPE tokens of
//     both printed programs, for RASP also on both programs spelled output first (the AST read from its
//     root, breadth first: docs/languages.md), the spelling an output-first mapper writes. The target is
//     the program's reduced form (core/reduce.h), the one a model's behaviour identifies; token accuracy
//     and exact match against the sampled form are kept beside it;
//   exact match: the same canonical token sequence;  parses: the tokens detokenize;
//   functional equivalence: on every evaluation input the decoded program's output equals the true
//     program's (raising where it raises counts as equal);
//   fidelity: agreement of the decoded program's outputs with the subject model's own predictions, per
//     position and per whole sequence (an input the decoded program raises on agrees nowhere).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/domain.h"
#include "core/language.h"
#include "core/value.h"

namespace mm {

class Gpt2Bpe;

// Agreement of a program's outputs with reference outputs (e.g. the subject model's predictions) on the
// same inputs: positions and whole sequences that match. An input the program raised on (an empty row)
// agrees nowhere.
struct Agreement {
  int64_t positions = 0, positions_total = 0;
  int64_t sequences = 0, sequences_total = 0;
  double position_rate() const { return positions_total ? static_cast<double>(positions) / positions_total : 0; }
  double sequence_rate() const { return sequences_total ? static_cast<double>(sequences) / sequences_total : 0; }
};
Agreement count_agreement(const Outputs& mine, const Outputs& reference, const std::vector<Input>& inputs);

struct ProgramScore {
  double token_accuracy = 0;
  double bpe_token_accuracy = -1;  // list-Python only
  double output_first_token_accuracy = -1;  // a language with an output-first spelling (RASP) only
  bool exact = false;
  bool has_sampled = false;              // the two below were measured (against the sampled form)
  double sampled_token_accuracy = 0;
  bool sampled_exact = false;
  bool parses = false;
  bool equivalent = false;
  double fidelity_position = 0;
  double fidelity_sequence = 0;
};

// Position-wise token accuracy of `decoded` against `target`, over the target's length.
double token_accuracy(const std::vector<std::string>& decoded, const std::vector<std::string>& target);
template <class T>
double token_accuracy_of(const std::vector<T>& decoded, const std::vector<T>& target) {
  if (target.empty()) return decoded.empty() ? 1.0 : 0.0;
  size_t same = 0;
  for (size_t k = 0; k < target.size() && k < decoded.size(); ++k) same += decoded[k] == target[k];
  return static_cast<double>(same) / static_cast<double>(target.size());
}

// Position-wise token accuracy of two programs, given as canonical tokens, both spelled output first
// (Language::in_order("output-first")); -1 where the language has no such spelling. A decoded sequence
// that does not parse spells nothing (every target token counts as wrong).
double output_first_token_accuracy(const Language& lang, const std::vector<std::string>& decoded,
                                   const std::vector<std::string>& target);

// `truth` = run_on(true program, inputs); `predicted` = the subject model's outputs on the same inputs.
// `bpe` (may be null) adds the GPT-2 token accuracy of the printed programs; `sampled` (may be null), the
// token accuracy and exact match against the program as sampled.
ProgramScore score_program(const Language& lang, const std::vector<std::string>& decoded,
                           const std::vector<std::string>& target, const std::vector<Input>& inputs,
                           const Outputs& truth, const Outputs& predicted, const Gpt2Bpe* bpe,
                           const std::vector<std::string>* sampled = nullptr);

// Running sums of scores: one row of the report.
struct ScoreSummary {
  int64_t n = 0;
  double token_accuracy = 0, bpe_token_accuracy = 0, output_first_token_accuracy = 0, exact = 0, parses = 0,
         equivalent = 0, fidelity_position = 0, fidelity_sequence = 0, sampled_token_accuracy = 0, sampled_exact = 0;
  bool has_bpe = false, has_output_first = false, has_sampled = false;
  void add(const ProgramScore& s);
  ScoreSummary mean() const;  // every field divided by n
};

// Report rows: "all", "params <bucket>" (10K-100K, 100K-1M, 1M-10M, ...), "tokens <bucket>".
std::string params_bucket(int64_t params);
std::string length_bucket(size_t tokens);

}  // namespace mm
