// A list-Python program: the family of the paper's Appendix B.2 — `out = [0] * n`, then 1 to 3 loops
// `for i in range(S, E):` whose bodies assign `out[(i + a) % len(out)] = [-]arr[(i + b) % len(arr)]`,
// test `if arr[(i)] % k == 0:` / `!= 0`, and hold at most one nested `for j` loop; then `return out`.
// Plain data; the interpreter, printer, parser, tokenizer and generator are separate files.
#pragma once

#include <cstdint>
#include <vector>

namespace mm::listpy {

enum class StmtKind : uint8_t { Assign, If, For };
enum class EndKind : uint8_t { N, NMinus1, Const };  // range(S, n), range(S, n - 1), range(S, c)

// The family's bounds; the parser refuses anything outside them.
constexpr int kMaxLoops = 3;        // outer loops
constexpr int kMaxBody = 3;         // statements in a loop body
constexpr int kMaxIfBody = 2;       // assignments under an `if`
constexpr int kStartMax = 2;        // S in 0..2
constexpr int kEndConstMin = 2, kEndConstMax = 5;

struct Stmt {
  StmtKind kind = StmtKind::Assign;
  char var = 'i';          // Assign, If: the loop variable indexed with; For: the variable bound
  int out_offset = 0;      // Assign: out[(var + out_offset) % len(out)], offset in -1..1
  int arr_offset = 0;      // Assign: arr[(var + arr_offset) % len(arr)], offset in -1..1
  bool negate = false;     // Assign: -arr[...]
  int modulus = 2;         // If: arr[(var)] % modulus, 2 or 3
  bool equal = true;       // If: `== 0` (true) or `!= 0`
  int start = 0;           // For: range(start, ...)
  EndKind end = EndKind::N;
  int end_const = 0;       // For with EndKind::Const
  std::vector<Stmt> body;  // If: assignments; For: statements

  bool operator==(const Stmt&) const = default;
};

struct Program {
  std::vector<Stmt> loops;  // the outer `for i` loops

  bool operator==(const Program&) const = default;
};

}  // namespace mm::listpy
