// Structural neighbours of a list-Python program (see listpy.h): the moves that single-token edits cannot
// make, for repair. Data flow: every block of the program (the outer loops, each loop's body, each `if`'s
// body) with where it starts in the printed text -> per block, the moves its kind allows within the
// family's bounds -> each result checked by printing it as tokens and reading them back.
// Not a search: which neighbour helps is decided by running them against a model.
#include <string>
#include <utility>

#include "core/error.h"
#include "listpy/listpy.h"

namespace mm::listpy {

namespace {

enum class BlockKind { Loops, LoopBody, IfBody };

// A block: the statements at `path` (indices from the outer loops down; empty = the outer loops).
struct Block {
  std::vector<size_t> path;
  BlockKind kind;
  char var;        // the loop variable its statements index with
  int first_line;  // the printed line of its first statement (1-based)
};

int line_count(const Stmt& s) {
  int n = 1;
  for (const Stmt& b : s.body) n += line_count(b);
  return n;
}

std::string first_line(const Stmt& s) {
  const std::string text = print_statement(s);
  return "`" + text.substr(0, text.find('\n')) + "`";
}

template <class P>  // Program or const Program
auto& statements_at(P& p, const std::vector<size_t>& path) {
  auto* block = &p.loops;
  for (size_t k : path) block = &(*block)[k].body;
  return *block;
}

void collect_blocks(const std::vector<Stmt>& statements, Block block, std::vector<Block>& out) {
  out.push_back(block);
  int line = block.first_line;
  for (size_t k = 0; k < statements.size(); ++k) {
    const Stmt& s = statements[k];
    if (s.kind != StmtKind::Assign) {
      Block inner{block.path, s.kind == StmtKind::For ? BlockKind::LoopBody : BlockKind::IfBody, s.var, line + 1};
      inner.path.push_back(k);
      collect_blocks(s.body, inner, out);
    }
    line += line_count(s);
  }
}

Stmt assignment(char var, int out_offset, int arr_offset, bool negate) {
  Stmt s;
  s.kind = StmtKind::Assign;
  s.var = var;
  s.out_offset = out_offset;
  s.arr_offset = arr_offset;
  s.negate = negate;
  return s;
}

// Every assignment the family allows with loop variable `var`: 3 out offsets x 3 arr offsets x sign.
std::vector<Stmt> all_assignments(char var) {
  std::vector<Stmt> out;
  for (int o = -1; o <= 1; ++o)
    for (int a = -1; a <= 1; ++a)
      for (bool negate : {false, true}) out.push_back(assignment(var, o, a, negate));
  return out;
}

size_t capacity(BlockKind kind) {
  switch (kind) {
    case BlockKind::Loops: return kMaxLoops;
    case BlockKind::LoopBody: return kMaxBody;
    case BlockKind::IfBody: return kMaxIfBody;
  }
  return 0;
}

}  // namespace

std::vector<std::pair<Program, std::string>> structural_neighbours(const Program& program) {
  std::vector<std::pair<Program, std::string>> out;
  auto keep = [&](Program p, std::string what) {
    try {
      detokenize(tokenize(p));  // within the family's bounds
    } catch (const ParseError&) {
      return;
    }
    out.emplace_back(std::move(p), std::move(what));
  };
  std::vector<Block> blocks;
  collect_blocks(program.loops, {{}, BlockKind::Loops, 'i', 4}, blocks);  // lines 1-3: def, n, out
  for (const Block& block : blocks) {
    const std::vector<Stmt>& statements = statements_at(program, block.path);
    int line = block.first_line;
    for (size_t k = 0; k < statements.size(); ++k) {
      const Stmt& s = statements[k];
      const std::string at = "line " + std::to_string(line);
      // Drop a statement (a block keeps at least one).
      if (statements.size() > 1) {
        Program p = program;
        auto& st = statements_at(p, block.path);
        st.erase(st.begin() + static_cast<std::ptrdiff_t>(k));
        keep(std::move(p), "drop " + at + ": " + first_line(s));
      }
      // Wrap an assignment in a loop body in each `if` the family has.
      if (block.kind == BlockKind::LoopBody && s.kind == StmtKind::Assign) {
        for (int modulus : {2, 3})
          for (bool equal : {true, false}) {
            Stmt wrapped;
            wrapped.kind = StmtKind::If;
            wrapped.var = s.var;
            wrapped.modulus = modulus;
            wrapped.equal = equal;
            wrapped.body = {s};
            Program p = program;
            statements_at(p, block.path)[k] = wrapped;
            keep(std::move(p), "wrap " + at + " in " + first_line(wrapped));
          }
      }
      // Unwrap an `if`: its assignments run unconditionally, where it stood.
      if (s.kind == StmtKind::If && statements.size() - 1 + s.body.size() <= capacity(block.kind)) {
        Program p = program;
        auto& st = statements_at(p, block.path);
        const std::vector<Stmt> body = s.body;
        st.erase(st.begin() + static_cast<std::ptrdiff_t>(k));
        st.insert(st.begin() + static_cast<std::ptrdiff_t>(k), body.begin(), body.end());
        keep(std::move(p), "unwrap " + at + ": " + first_line(s));
      }
      line += line_count(s);
    }
    if (statements.size() >= capacity(block.kind)) continue;
    if (block.kind == BlockKind::Loops) {
      // Append a loop over each range from 0..2 to n or n - 1, with one assignment.
      for (int start = 0; start <= kStartMax; ++start)
        for (EndKind end : {EndKind::N, EndKind::NMinus1})
          for (const Stmt& a : all_assignments('i')) {
            Stmt loop;
            loop.kind = StmtKind::For;
            loop.var = 'i';
            loop.start = start;
            loop.end = end;
            loop.body = {a};
            Program p = program;
            p.loops.push_back(loop);
            keep(std::move(p), "append " + first_line(loop) + " " + first_line(a));
          }
      continue;
    }
    // Insert an assignment at each place in a loop's or an `if`'s body.
    int place_line = block.first_line;
    for (size_t k = 0; k <= statements.size(); ++k) {
      for (const Stmt& a : all_assignments(block.var)) {
        Program p = program;
        auto& st = statements_at(p, block.path);
        st.insert(st.begin() + static_cast<std::ptrdiff_t>(k), a);
        keep(std::move(p), "insert at line " + std::to_string(place_line) + ": " + first_line(a));
      }
      if (k < statements.size()) place_line += line_count(statements[k]);
    }
  }
  return out;
}

}  // namespace mm::listpy
