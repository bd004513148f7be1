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

const Language& Language::in_order(std::string_view order) const {
  if (order == "canonical") return *this;
  std::string choices;
  for (const std::string& o : orders()) choices += (choices.empty() ? "" : ", ") + o;
  throw Error("the " + std::string(name()) + " language has no token order '" + std::string(order) + "' (choose " +
              choices + ")");
}

}  // namespace mm
