// The report's metrics (see metrics.h).
#include "eval/metrics.h"

#include <algorithm>

#include "core/error.h"
#include "eval/gpt2_bpe.h"

namespace mm {

double token_accuracy(const std::vector<std::string>& decoded, const std::vector<std::string>& target) {
  return token_accuracy_of(decoded, target);
}

namespace {

// output_first_token_accuracy of a decoded program already read (null: it did not parse).
double output_first_accuracy_of(const Language& lang, const Program* decoded, const std::vector<std::string>& target) {
  const std::vector<std::string> orders = lang.orders();
  if (std::find(orders.begin(), orders.end(), "output-first") == orders.end()) return -1;
  const Language& spelled = lang.in_order("output-first");
  return token_accuracy_of(decoded ? spelled.spell(*decoded) : std::vector<std::string>{},
                           spelled.spell(*lang.detokenize(target)));
}

}  // namespace

double output_first_token_accuracy(const Language& lang, const std::vector<std::string>& decoded,
                                   const std::vector<std::string>& target) {
  std::unique_ptr<Program> program;
  try {
    program = lang.detokenize(decoded);
  } catch (const ParseError&) {
  }
  return output_first_accuracy_of(lang, program.get(), target);
}

Agreement count_agreement(const Outputs& mine, const Outputs& reference, const std::vector<Input>& inputs) {
  Agreement a;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const size_t n = inputs[i].size();
    a.positions_total += static_cast<int64_t>(n);
    ++a.sequences_total;
    if (mine[i].empty()) continue;
    int64_t same = 0;
    for (size_t k = 0; k < n; ++k) same += mine[i][k] == reference[i][k];
    a.positions += same;
    a.sequences += same == static_cast<int64_t>(n);
  }
  return a;
}

ProgramScore score_program(const Language& lang, const std::vector<std::string>& decoded,
                           const std::vector<std::string>& target, const std::vector<Input>& inputs,
                           const Outputs& truth, const Outputs& predicted, const Gpt2Bpe* bpe,
                           const std::vector<std::string>* sampled) {
  ProgramScore s;
  s.token_accuracy = token_accuracy(decoded, target);
  s.exact = decoded == target;
  if (sampled) {
    s.has_sampled = true;
    s.sampled_token_accuracy = token_accuracy(decoded, *sampled);
    s.sampled_exact = decoded == *sampled;
  }
  std::unique_ptr<Program> program;
  try {
    program = lang.detokenize(decoded);
    s.parses = true;
  } catch (const ParseError&) {
  }
  s.output_first_token_accuracy = output_first_accuracy_of(lang, program.get(), target);
  if (bpe) {
    const std::string target_text = lang.detokenize(target)->text();
    s.bpe_token_accuracy = token_accuracy_of(program ? bpe->encode(program->text()) : std::vector<int>{}, bpe->encode(target_text));
  }
  if (!program) return s;
  const Outputs mine = run_on(*program, inputs);
  s.equivalent = mine == truth;
  const Agreement a = count_agreement(mine, predicted, inputs);
  s.fidelity_position = a.position_rate();
  s.fidelity_sequence = a.sequence_rate();
  return s;
}

void ScoreSummary::add(const ProgramScore& s) {
  ++n;
  token_accuracy += s.token_accuracy;
  if (s.bpe_token_accuracy >= 0) bpe_token_accuracy += s.bpe_token_accuracy, has_bpe = true;
  if (s.output_first_token_accuracy >= 0)
    output_first_token_accuracy += s.output_first_token_accuracy, has_output_first = true;
  exact += s.exact;
  if (s.has_sampled) sampled_token_accuracy += s.sampled_token_accuracy, sampled_exact += s.sampled_exact, has_sampled = true;
  parses += s.parses;
  equivalent += s.equivalent;
  fidelity_position += s.fidelity_position;
  fidelity_sequence += s.fidelity_sequence;
}

ScoreSummary ScoreSummary::mean() const {
  ScoreSummary m = *this;
  const double d = n ? static_cast<double>(n) : 1.0;
  for (double* f : {&m.token_accuracy, &m.bpe_token_accuracy, &m.output_first_token_accuracy, &m.exact, &m.parses,
                    &m.equivalent, &m.fidelity_position, &m.fidelity_sequence, &m.sampled_token_accuracy, &m.sampled_exact})
    *f /= d;
  return m;
}

std::string params_bucket(int64_t params) {
  if (params < 10'000) return "<10K";
  if (params < 100'000) return "10K-100K";
  if (params < 1'000'000) return "100K-1M";
  if (params <= 10'000'000) return "1M-10M";
  return ">10M";
}

std::string length_bucket(size_t tokens) {
  if (tokens <= 16) return "1-16";
  if (tokens <= 32) return "17-32";
  if (tokens <= 64) return "33-64";
  if (tokens <= 128) return "65-128";
  return "129+";
}

}  // namespace mm
