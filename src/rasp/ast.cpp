// Names and shapes of RASP operations, and which statements an output needs.
#include "rasp/ast.h"

#include <stdexcept>

namespace mm::rasp {

int arity(Op op) {
  switch (op) {
    case Op::Map:
    case Op::SelectorWidth: return 1;
    default: return 2;
  }
}

bool is_selector(Op op) { return op == Op::Select; }

std::string_view op_name(Op op) {
  switch (op) {
    case Op::Map: return "Map";
    case Op::SequenceMap: return "SequenceMap";
    case Op::LinearSequenceMap: return "LinearSequenceMap";
    case Op::Select: return "Select";
    case Op::Aggregate: return "Aggregate";
    case Op::SelectorWidth: return "SelectorWidth";
  }
  throw std::logic_error("op_name: bad op");
}

std::string_view comparison_name(Comparison c) {
  static constexpr std::string_view names[] = {"EQ", "LT", "LEQ", "GT", "GEQ", "NEQ", "TRUE", "FALSE"};
  return names[static_cast<int>(c)];
}

std::string_view encoding_name(Encoding e) {
  return e == Encoding::Categorical ? "categorical" : "numerical";
}

std::string_view primitive_name(Ref r) {
  switch (r) {
    case kTokens: return "tokens";
    case kIndices: return "indices";
    case kLength: return "length";
  }
  throw std::logic_error("primitive_name: not a primitive");
}

void mark_needed(const Program& program, std::vector<char>& needed) {
  const auto& st = program.statements;
  needed.assign(st.size(), 0);
  if (program.output >= 0) needed[static_cast<size_t>(program.output)] = 1;
  for (size_t s = st.size(); s-- > 0;) {
    if (!needed[s]) continue;
    if (st[s].a >= 0) needed[static_cast<size_t>(st[s].a)] = 1;
    if (arity(st[s].op) == 2 && st[s].b >= 0) needed[static_cast<size_t>(st[s].b)] = 1;
  }
}

}  // namespace mm::rasp
