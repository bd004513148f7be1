// The canonical text form, formatted as the paper's Figure 3: 4-space indent, `(i)`, `(i + 1)`, `(i - 1)`.
#include <string>

#include "listpy/listpy.h"

namespace mm::listpy {

namespace {

std::string index_text(char var, int offset) {
  std::string v(1, var);
  if (offset == 0) return "(" + v + ")";
  return "(" + v + (offset > 0 ? " + " : " - ") + std::to_string(offset > 0 ? offset : -offset) + ")";
}

void print_stmt(const Stmt& s, int depth, std::string& out) {
  const std::string pad(static_cast<size_t>(4 * depth), ' ');
  const std::string v(1, s.var);
  switch (s.kind) {
    case StmtKind::Assign:
      out += pad + "out[" + index_text(s.var, s.out_offset) + " % len(out)] = " + (s.negate ? "-" : "") + "arr[" +
             index_text(s.var, s.arr_offset) + " % len(arr)]\n";
      return;
    case StmtKind::If:
      out += pad + "if arr[(" + v + ")] % " + std::to_string(s.modulus) + (s.equal ? " == 0:\n" : " != 0:\n");
      break;
    case StmtKind::For: {
      const std::string end = s.end == EndKind::N         ? "n"
                              : s.end == EndKind::NMinus1 ? "n - 1"
                                                          : std::to_string(s.end_const);
      out += pad + "for " + v + " in range(" + std::to_string(s.start) + ", " + end + "):\n";
      break;
    }
  }
  for (const Stmt& b : s.body) print_stmt(b, depth + 1, out);
}

}  // namespace

std::string print_statement(const Stmt& statement) {
  std::string out;
  print_stmt(statement, 0, out);
  return out;
}

std::string print(const Program& program) {
  std::string out = "def random_function(arr):\n    n = len(arr)\n    out = [0] * n\n";
  for (const Stmt& loop : program.loops) print_stmt(loop, 1, out);
  return out + "    return out\n";
}

}  // namespace mm::listpy
