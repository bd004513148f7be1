// The canonical text form: tracr's Python, one statement per line, variables v1, v2, ... in definition
// order, `rasp.numerical(...)` around numerical s-ops, `default=` only when given.
#include <string>

#include "rasp/functions.h"
#include "rasp/rasp.h"

namespace mm::rasp {

static std::string ref_text(Ref r) {
  if (r < 0) return "rasp." + std::string(primitive_name(r));
  return "v" + std::to_string(r + 1);
}

static std::string call_text(const Statement& s) {
  const auto& fns = map_functions();
  std::string args;
  switch (s.op) {
    case Op::Map:
      args = fns[static_cast<size_t>(s.fn)].lambda + ", " + ref_text(s.a);
      break;
    case Op::SequenceMap:
      args = fns[static_cast<size_t>(s.fn)].lambda + ", " + ref_text(s.a) + ", " + ref_text(s.b);
      break;
    case Op::LinearSequenceMap:
      args = ref_text(s.a) + ", " + ref_text(s.b) + ", " + std::to_string(s.coef_a) + ", " +
             std::to_string(s.coef_b);
      break;
    case Op::Select:
      args = ref_text(s.a) + ", " + ref_text(s.b) + ", rasp.Comparison." + std::string(comparison_name(s.cmp));
      break;
    case Op::Aggregate:
      args = ref_text(s.a) + ", " + ref_text(s.b);
      if (s.default_value) args += ", default=" + std::to_string(*s.default_value);
      break;
    case Op::SelectorWidth:
      args = ref_text(s.a);
      break;
  }
  std::string call = "rasp." + std::string(op_name(s.op)) + "(" + args + ")";
  if (!is_selector(s.op) && s.encoding == Encoding::Numerical) call = "rasp.numerical(" + call + ")";
  return call;
}

std::string print(const Program& program) {
  std::string out = "from tracr.rasp import rasp\n";
  for (size_t i = 0; i < program.statements.size(); ++i)
    out += ref_text(static_cast<Ref>(i)) + " = " + call_text(program.statements[i]) + "\n";
  out += "program = " + ref_text(program.output) + "\n";
  return out;
}

}  // namespace mm::rasp
