// Reduction: the simplest program equivalent to a given one. Sampled programs carry operations that change
// nothing (a Map of a boolean that is constant, an assignment every later write overrides); a model
// trained on the input/output behaviour cannot tell them from their simpler equivalents, so as a mapper's
// target they are noise. `reduce_program` applies the language's shrinking moves (Language::reductions:
// repair's structural edits that give fewer tokens — for RASP bypassing an operation so its readers read
// its input, or returning an earlier value; for list-Python dropping a statement or unwrapping an `if` —
// and for RASP replacing an s-op by an earlier equal one or a primitive, and folding a SequenceMap into a
// Map of one operand where the other is constant) as long as one keeps the outputs
// on `inputs` unchanged, taking the shortest such program at each step.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/domain.h"
#include "core/language.h"

namespace mm {

struct Reduction {
  std::unique_ptr<Program> program;  // the reduced program (the given one, re-read, when nothing applies)
  std::vector<std::string> steps;    // what each step did ("bypass v3 (its readers read v2)")
  size_t tokens_before = 0, tokens_after = 0;
};

// Equivalence is judged on `inputs` (the whole domain where it is small; raising where the original
// raises counts as equal). Never returns a program with more tokens.
Reduction reduce_program(const Language& lang, const Program& program, const std::vector<Input>& inputs);

// The inputs a reduction is judged on for a domain: the whole domain where it holds at most 100,000 inputs
// (RASP's default: 3,905), else a fixed sample of 100,000 (seed 7). What `sample --reduce` and the corpus use.
constexpr uint64_t kReduceInputs = 100'000;
constexpr uint64_t kReduceSeed = 7;
std::vector<Input> reduction_inputs(const InputDomain& domain);

}  // namespace mm
