// The list-Python interpreter, with Python's semantics: `%` floors (so (i - 1) % n is n - 1 at i = 0),
// range(S, E) is empty when E <= S, arr[(i)] with i >= len(arr) raises IndexError, and an empty input
// raises ZeroDivisionError at the first assignment.
#include <string>

#include "core/error.h"
#include "listpy/listpy.h"

namespace mm::listpy {

namespace {

int64_t floor_mod(int64_t a, int64_t n) {
  int64_t r = a % n;
  return r < 0 ? r + n : r;
}

struct Machine {
  std::span<const int64_t> arr;
  std::vector<int64_t> out;
  int64_t i = 0, j = 0;

  int64_t var(char v) const { return v == 'i' ? i : j; }

  void run(const Stmt& s) {
    const auto n = static_cast<int64_t>(arr.size());
    switch (s.kind) {
      case StmtKind::Assign: {
        if (n == 0) throw EvalError("ZeroDivisionError: integer modulo by zero (the input is empty)");
        const int64_t x = arr[static_cast<size_t>(floor_mod(var(s.var) + s.arr_offset, n))];
        out[static_cast<size_t>(floor_mod(var(s.var) + s.out_offset, n))] = s.negate ? -x : x;
        break;
      }
      case StmtKind::If: {
        const int64_t at = var(s.var);
        if (at >= n) throw EvalError("IndexError: list index out of range (arr[(" + std::string(1, s.var) + ")])");
        if ((floor_mod(arr[static_cast<size_t>(at)], s.modulus) == 0) == s.equal)
          for (const Stmt& b : s.body) run(b);
        break;
      }
      case StmtKind::For: {
        const int64_t end = s.end == EndKind::N ? n : s.end == EndKind::NMinus1 ? n - 1 : s.end_const;
        for (int64_t v = s.start; v < end; ++v) {
          (s.var == 'i' ? i : j) = v;
          for (const Stmt& b : s.body) run(b);
        }
        break;
      }
    }
  }
};

}  // namespace

std::vector<int64_t> evaluate(const Program& program, std::span<const int64_t> arr) {
  Machine m{arr, std::vector<int64_t>(arr.size(), 0)};
  for (const Stmt& loop : program.loops) m.run(loop);
  return m.out;
}

}  // namespace mm::listpy
