// What language.h declares outside the interface: running a program on many inputs.
#include "core/language.h"

#include "core/error.h"

namespace mm {

Outputs run_on(const Program& program, const std::vector<Input>& inputs) {
  Outputs out;
  out.reserve(inputs.size());
  for (const Input& x : inputs) {
    try {
      out.push_back(program.evaluate(x));
    } catch (const EvalError&) {
      out.emplace_back();
    }
  }
  return out;
}

}  // namespace mm
