// The RASP evaluator: tracr's DefaultRASPEvaluator on integer lists, statement by statement.
// Not a transformer: this is the reference that trained and compiled models are checked against.
#include <string>

#include "core/error.h"
#include "rasp/functions.h"
#include "rasp/rasp.h"

namespace mm::rasp {

namespace {

// tracr's _mean: the mean of the selected values when the first is an int (true division, so a float),
// the value itself when only one is selected, and a ValueError otherwise.
Value aggregate_mean(const std::vector<Value>& selected, const std::optional<int64_t>& default_value,
                     int statement) {
  if (selected.empty()) return default_value ? Value::of_int(*default_value) : Value::none();
  const Value& exemplar = selected[0];
  if (exemplar.kind == Value::Kind::Int) {
    Value sum = Value::of_int(0);  // Python's sum() starts from int 0 and adds left to right
    for (const Value& v : selected) {
      if (v.is_none())
        throw EvalError("v" + std::to_string(statement + 1) + ": Aggregate adds None to a number");
      sum = py_add(sum, v);
    }
    return Value::of_float(sum.as_double() / static_cast<double>(selected.size()));
  }
  if (selected.size() == 1) return exemplar;
  throw EvalError("v" + std::to_string(statement + 1) +
                  ": Aggregate of several values that are not integers (tracr raises here)");
}

bool compare(Comparison c, Value key, Value query) {
  switch (c) {
    case Comparison::EQ: return key == query;
    case Comparison::LT: return py_lt(key, query);
    case Comparison::LEQ: return !py_lt(query, key);
    case Comparison::GT: return py_lt(query, key);
    case Comparison::GEQ: return !py_lt(key, query);
    case Comparison::NEQ: return !(key == query);
    case Comparison::TRUE: return true;
    case Comparison::FALSE: return false;
  }
  return false;
}

}  // namespace

namespace {

// Buffers reused across calls (one set per thread): the sampler's filters evaluate every candidate on
// thousands of inputs, and allocating per statement per call cost more than the arithmetic.
struct Workspace {
  std::vector<char> needed;                         // (statements)
  std::vector<Value> tokens, indices, length;       // (n)
  std::vector<std::vector<Value>> sops;             // (statements, n) s-op values
  std::vector<std::vector<unsigned char>> sels;     // (statements, n * n) selectors, [query][key]
  std::vector<Value> selected;                      // one Aggregate row
};

// Runs every statement the output needs into ws (sops and sels; needed[s] says which were run).
void run_statements(const Program& program, std::span<const int64_t> input, Workspace& ws) {
  const size_t n = input.size();
  const auto& fns = map_functions();
  const auto& st = program.statements;

  // Only what the output depends on runs (tracr evaluates lazily from the output).
  std::vector<char>& needed = ws.needed;
  mark_needed(program, needed);

  std::vector<Value>& tokens = ws.tokens;
  std::vector<Value>& indices = ws.indices;
  std::vector<Value>& length = ws.length;
  tokens.resize(n);
  indices.resize(n);
  length.assign(n, Value::of_int(static_cast<int64_t>(n)));
  for (size_t q = 0; q < n; ++q) {
    tokens[q] = Value::of_int(input[q]);
    indices[q] = Value::of_int(static_cast<int64_t>(q));
  }
  auto& sops = ws.sops;
  auto& sels = ws.sels;
  if (sops.size() < st.size()) {
    sops.resize(st.size());
    sels.resize(st.size());
  }
  auto sop = [&](Ref r) -> const std::vector<Value>& {
    if (r == kTokens) return tokens;
    if (r == kIndices) return indices;
    if (r == kLength) return length;
    return sops[static_cast<size_t>(r)];
  };

  for (size_t s = 0; s < st.size(); ++s) {
    if (!needed[s]) continue;
    const Statement& x = st[s];
    const int id = static_cast<int>(s);
    std::vector<Value>& out = sops[s];
    switch (x.op) {
      case Op::Map: {
        const auto& a = sop(x.a);
        out.resize(n);
        for (size_t q = 0; q < n; ++q)
          out[q] = a[q].is_none() ? Value::none() : apply_unary(fns[static_cast<size_t>(x.fn)], a[q]);
        break;
      }
      case Op::SequenceMap:
      case Op::LinearSequenceMap: {
        const auto& a = sop(x.a);
        const auto& b = sop(x.b);
        out.resize(n);
        for (size_t q = 0; q < n; ++q) {
          if (a[q].is_none() || b[q].is_none()) {
            out[q] = Value::none();
          } else if (x.op == Op::SequenceMap) {
            out[q] = apply_binary(fns[static_cast<size_t>(x.fn)], a[q], b[q]);
          } else {
            out[q] = py_add(py_mul(Value::of_int(x.coef_a), a[q]), py_mul(Value::of_int(x.coef_b), b[q]));
          }
        }
        break;
      }
      case Op::Select: {
        const auto& keys = sop(x.a);
        const auto& queries = sop(x.b);
        auto& m = sels[s];
        m.assign(n * n, 0);
        for (size_t q = 0; q < n; ++q) {
          if (queries[q].is_none())
            throw EvalError("v" + std::to_string(id + 1) + ": Select compares a None query (tracr raises here)");
          for (size_t k = 0; k < n; ++k) {
            if (keys[k].is_none())
              throw EvalError("v" + std::to_string(id + 1) + ": Select compares a None key (tracr raises here)");
            m[q * n + k] = compare(x.cmp, keys[k], queries[q]);
          }
        }
        break;
      }
      case Op::Aggregate: {
        const auto& m = sels[static_cast<size_t>(x.a)];
        const auto& v = sop(x.b);
        out.resize(n);
        std::vector<Value>& selected = ws.selected;
        for (size_t q = 0; q < n; ++q) {
          selected.clear();
          for (size_t k = 0; k < n; ++k)
            if (m[q * n + k]) selected.push_back(v[k]);
          out[q] = aggregate_mean(selected, x.default_value, id);
        }
        break;
      }
      case Op::SelectorWidth: {
        const auto& m = sels[static_cast<size_t>(x.a)];
        out.resize(n);
        for (size_t q = 0; q < n; ++q) {
          int64_t w = 0;
          for (size_t k = 0; k < n; ++k) w += m[q * n + k];
          out[q] = Value::of_int(w);
        }
        break;
      }
    }
  }
}

}  // namespace

std::vector<Value> evaluate(const Program& program, std::span<const int64_t> input) {
  thread_local Workspace ws;
  run_statements(program, input, ws);
  return ws.sops[static_cast<size_t>(program.output)];
}

Trace trace(const Program& program, std::span<const int64_t> input) {
  thread_local Workspace ws;
  run_statements(program, input, ws);
  Trace t;
  t.sops.resize(program.statements.size());
  t.selectors.resize(program.statements.size());
  for (size_t s = 0; s < program.statements.size(); ++s) {
    if (!ws.needed[s]) continue;
    if (is_selector(program.statements[s].op)) t.selectors[s] = ws.sels[s];
    else t.sops[s] = ws.sops[s];
  }
  return t;
}

}  // namespace mm::rasp
