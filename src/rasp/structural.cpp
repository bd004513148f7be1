// Structural neighbours of a RASP program: the moves that single-token edits cannot make, for repair
// (src/decompile/repair.h). Each returns a valid program in canonical form with a one-line description.
// Not a search: which neighbour helps is decided by running them against a model.
#include "core/error.h"
#include "rasp/functions.h"
#include "rasp/rasp.h"

namespace mm::rasp {

namespace {

std::string var(int s) { return "v" + std::to_string(s + 1); }

// Replaces every s-op reference to `from` (not a Select's, which holds a selector) by `to`, and the output.
void redirect(Program& p, int from, Ref to) {
  for (Statement& x : p.statements) {
    if (x.op == Op::Aggregate || x.op == Op::SelectorWidth) {
      if (x.op == Op::Aggregate && x.b == from) x.b = to;
      continue;
    }
    if (x.a == from) x.a = to;
    if (arity(x.op) == 2 && x.b == from) x.b = to;
  }
  if (p.output == from) p.output = to;
}

}  // namespace

std::vector<std::pair<Program, std::string>> structural_neighbours(const Program& program) {
  std::vector<std::pair<Program, std::string>> out;
  auto keep = [&](Program p, std::string what) {
    if (p.output < 0) return;
    try {
      validate(p);
    } catch (const Error&) {
      return;
    }
    out.emplace_back(canonicalize(p), std::move(what));
  };
  const auto& st = program.statements;
  const int n = static_cast<int>(st.size());
  for (int k = 0; k < n; ++k) {
    if (is_selector(st[static_cast<size_t>(k)].op)) continue;
    // Return an earlier s-op instead.
    if (k != program.output) {
      Program p = program;
      p.output = k;
      keep(std::move(p), "output " + var(k));
    }
    // Bypass: drop the operation, its readers read what it read.
    const Statement& x = st[static_cast<size_t>(k)];
    std::vector<Ref> inputs;
    if (x.op == Op::Map) inputs = {x.a};
    else if (x.op == Op::SequenceMap || x.op == Op::LinearSequenceMap) inputs = {x.a, x.b};
    else if (x.op == Op::Aggregate) inputs = {x.b};
    for (Ref in : inputs) {
      if (in < 0 && k == program.output) continue;  // a primitive cannot be the output
      Program p = program;
      redirect(p, k, in);
      keep(std::move(p), "bypass " + var(k) + " (its readers read " + (in >= 0 ? var(in) : std::string(primitive_name(in))) + ")");
    }
    // Insert a Map right after it: its readers read f(it).
    const auto& fns = map_functions();
    for (size_t f = 0; f < fns.size(); ++f) {
      if (fns[f].arity != 1) continue;
      Program p;
      auto shift = [&](Ref r) { return r > k ? r + 1 : r; };
      for (int i = 0; i < n; ++i) {
        Statement y = st[static_cast<size_t>(i)];
        if (i > k) {
          const bool reads_selector = y.op == Op::Aggregate || y.op == Op::SelectorWidth;
          y.a = !reads_selector && y.a == k ? k + 1 : shift(y.a);
          if (arity(y.op) == 2) y.b = y.b == k ? k + 1 : shift(y.b);
        }
        p.statements.push_back(y);
        if (i == k) {
          Statement m;
          m.op = Op::Map;
          m.encoding = x.encoding;
          m.fn = static_cast<int>(f);
          m.a = k;
          p.statements.push_back(m);
        }
      }
      p.output = program.output == k ? k + 1 : shift(program.output);
      keep(std::move(p), "insert " + fns[f].token + " after " + var(k));
    }
  }
  return out;
}

std::vector<std::pair<Program, std::string>> replacement_neighbours(const Program& program) {
  std::vector<std::pair<Program, std::string>> out;
  const auto& st = program.statements;
  const int n = static_cast<int>(st.size());
  for (int k = 0; k < n; ++k) {
    if (is_selector(st[static_cast<size_t>(k)].op)) continue;
    std::vector<Ref> others = {kTokens, kIndices, kLength};
    for (int j = 0; j < k; ++j)
      if (!is_selector(st[static_cast<size_t>(j)].op)) others.push_back(j);
    for (Ref to : others) {
      if (to < 0 && k == program.output) continue;  // a primitive cannot be the output
      Program p = program;
      redirect(p, k, to);
      try {
        validate(p);
      } catch (const Error&) {
        continue;
      }
      out.emplace_back(canonicalize(p), "replace " + var(k) + " by " + (to >= 0 ? var(to) : std::string(primitive_name(to))));
    }
    // A SequenceMap or LinearSequenceMap as a Map of one of its operands: where the other is constant
    // (SequenceMap(x + y, c, y) is y + c), or the pair's function ignores it.
    const Statement& x = st[static_cast<size_t>(k)];
    if (x.op != Op::SequenceMap && x.op != Op::LinearSequenceMap) continue;
    const auto& fns = map_functions();
    for (Ref operand : {x.a, x.b}) {
      if (operand == x.b && x.a == x.b) break;
      for (size_t f = 0; f < fns.size(); ++f) {
        if (fns[f].arity != 1) continue;
        Program p = program;
        Statement m;
        m.op = Op::Map;
        m.encoding = x.encoding;
        m.fn = static_cast<int>(f);
        m.a = operand;
        p.statements[static_cast<size_t>(k)] = m;
        try {
          validate(p);
        } catch (const Error&) {
          continue;
        }
        out.emplace_back(canonicalize(p), "fold " + var(k) + " into " + fns[f].token + " of " +
                                              (operand >= 0 ? var(operand) : std::string(primitive_name(operand))));
      }
    }
  }
  return out;
}

}  // namespace mm::rasp
