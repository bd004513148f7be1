// Reduction (see reduce.h). Data flow per step: the program's tokens -> the language's reductions ->
// those with fewer tokens, shortest first -> the first whose outputs equal the original's on every input
// (each compared until its first difference) becomes the program; until none does.
#include "core/reduce.h"

#include <algorithm>

#include "core/error.h"

namespace mm {

namespace {

// Whether p's outputs equal `reference` (run_on's) on every input, stopping at the first that differs.
bool same_outputs(const Program& p, const std::vector<Input>& inputs, const Outputs& reference) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::vector<Value> y;
    try {
      y = p.evaluate(inputs[i]);
    } catch (const EvalError&) {
      if (!reference[i].empty()) return false;
      continue;
    }
    if (y.size() != reference[i].size()) return false;
    for (size_t k = 0; k < y.size(); ++k)
      if (!(y[k] == reference[i][k])) return false;
  }
  return true;
}

}  // namespace

Reduction reduce_program(const Language& lang, const Program& program, const std::vector<Input>& inputs) {
  Reduction r;
  std::vector<std::string> tokens = program.tokens();
  r.tokens_before = tokens.size();
  r.program = lang.detokenize(tokens);
  const Outputs reference = run_on(*r.program, inputs);
  for (;;) {
    std::vector<Language::StructuralEdit> edits = lang.reductions(tokens);
    std::erase_if(edits, [&](const Language::StructuralEdit& e) { return e.tokens.size() >= tokens.size(); });
    std::stable_sort(edits.begin(), edits.end(), [](const auto& a, const auto& b) { return a.tokens.size() < b.tokens.size(); });
    bool applied = false;
    for (Language::StructuralEdit& e : edits) {
      std::unique_ptr<Program> p;
      try {
        p = lang.detokenize(e.tokens);
      } catch (const ParseError&) {
        continue;
      }
      if (!same_outputs(*p, inputs, reference)) continue;
      tokens = p->tokens();
      r.program = std::move(p);
      r.steps.push_back(std::move(e.what));
      applied = true;
      break;
    }
    if (!applied) break;
  }
  r.tokens_after = tokens.size();
  return r;
}

std::vector<Input> reduction_inputs(const InputDomain& domain) { return domain.evaluation_set(kReduceInputs, kReduceSeed); }

}  // namespace mm
