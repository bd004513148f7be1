// Pass 1: a RASP program and its domain -> the graph of quantities the residual stream will carry. The
// program runs (the evaluator's trace) on every input of the domain; each operation's table and each
// s-op's value set are read off those runs, so the model is exact on the domain by construction, and the
// checks tracr's validator makes (a categorical Aggregate must not average differing values, ...) are made
// on every input rather than on one. Does not place anything in layers (graph_to_layers) or write weights.
#include <map>
#include <set>

#include "compile/compile.h"
#include "compile/graph.h"
#include "core/json_io.h"
#include "rasp/rasp.h"

namespace mm::compile {

int Node::index_of_key(const ValueKey& k) const {
  for (size_t i = 0; i < values.size(); ++i)
    if (value_key(values[i]) == k) return static_cast<int>(i);
  return -1;
}

namespace {

std::string name_of(int statement) { return "v" + std::to_string(statement + 1); }

// What the runs showed of one statement.
struct Observed {
  std::map<ValueKey, Value> values;                              // its values (s-ops)
  std::map<std::vector<ValueKey>, std::pair<std::vector<Value>, Value>> table;  // Map/SequenceMap: in -> (in, out)
  std::map<std::pair<ValueKey, ValueKey>, char> relation;        // Select: (query, key) -> selected
};

// Records `inputs -> out` in a statement's table; two runs disagreeing would mean the operation is not a
// function of the values as the stream holds them (e.g. 3 and 3.0 mapped apart): refused.
void record(Observed& o, std::vector<Value> in, const Value& out, int statement) {
  std::vector<ValueKey> key;
  for (const Value& v : in) key.push_back(value_key(v));
  auto [it, fresh] = o.table.emplace(std::move(key), std::make_pair(std::move(in), out));
  if (!fresh && value_key(it->second.second) != value_key(out))
    throw CompileError(name_of(statement) + ": gives different outputs for inputs that compare equal (an int and a "
                       "float of one value); one one-hot dimension cannot tell them apart");
}

std::vector<Value> sorted_values(const std::map<ValueKey, Value>& m) {
  std::vector<Value> out;
  for (const auto& [k, v] : m) out.push_back(v);
  return out;
}

class GraphBuilder {
 public:
  GraphBuilder(const rasp::Program& p, const std::vector<std::vector<int64_t>>& inputs, const InputDomain& domain,
               bool tracr_strict)
      : program_(p), domain_(domain), strict_(tracr_strict), observed_(p.statements.size()) {
    observe(inputs);
  }

  Graph build() {
    const auto& st = program_.statements;
    ref_node_.assign(st.size(), -1);
    std::vector<char> needed;
    rasp::mark_needed(program_, needed);
    for (size_t s = 0; s < st.size(); ++s)
      if (needed[s] && !rasp::is_selector(st[s].op)) ref_node_[s] = add_statement(static_cast<int>(s));
    graph_.output = ref_node_[static_cast<size_t>(program_.output)];
    for (const Node& n : graph_.nodes)
      if (n.numerical && n.index_of(Value::none()) >= 0)
        throw CompileError(n.label + ": a numerical s-op is None on some input, which one dimension cannot hold "
                           "(tracr's numerical s-ops never are)");
    return std::move(graph_);
  }

 private:
  // --- tracing -------------------------------------------------------------------------------------
  void observe(const std::vector<std::vector<int64_t>>& inputs) {
    const auto& st = program_.statements;
    for (const auto& x : inputs) {
      rasp::Trace t;
      try {
        t = rasp::trace(program_, x);
      } catch (const EvalError& e) {
        throw CompileError("the program raises on input " + input_to_json(x) + " (" + e.what() +
                           "); a compiled model must compute it on every input of the domain");
      }
      const size_t n = x.size();
      length_values_.emplace(value_key(Value::of_int(static_cast<int64_t>(n))), Value::of_int(static_cast<int64_t>(n)));
      auto at = [&](rasp::Ref r, size_t q) -> Value {
        if (r == rasp::kTokens) return Value::of_int(x[q]);
        if (r == rasp::kIndices) return Value::of_int(static_cast<int64_t>(q));
        if (r == rasp::kLength) return Value::of_int(static_cast<int64_t>(n));
        return t.sops[static_cast<size_t>(r)][q];
      };
      for (size_t s = 0; s < st.size(); ++s) {
        const rasp::Statement& x_s = st[s];
        Observed& o = observed_[s];
        const int id = static_cast<int>(s);
        if (rasp::is_selector(x_s.op)) {
          if (t.selectors[s].empty()) continue;
          for (size_t q = 0; q < n; ++q)
            for (size_t k = 0; k < n; ++k)
              o.relation[{value_key(at(x_s.b, q)), value_key(at(x_s.a, k))}] = t.selectors[s][q * n + k];
          continue;
        }
        if (t.sops[s].empty()) continue;
        for (size_t q = 0; q < n; ++q) {
          const Value out = t.sops[s][q];
          o.values.emplace(value_key(out), out);
          switch (x_s.op) {
            case rasp::Op::Map:
              record(o, {at(x_s.a, q)}, out, id);
              break;
            case rasp::Op::SequenceMap:
            case rasp::Op::LinearSequenceMap:
              record(o, {at(x_s.a, q), at(x_s.b, q)}, out, id);
              break;
            case rasp::Op::Aggregate:
              if (x_s.encoding == rasp::Encoding::Categorical) check_single_value(t, x_s, q, n, at, id, x);
              break;
            default:
              break;
          }
        }
      }
    }
  }

  // tracr's validator: a categorical Aggregate may select several keys only when they hold one value.
  template <class At>
  void check_single_value(const rasp::Trace& t, const rasp::Statement& agg, size_t q, size_t n, At& at, int id,
                          const std::vector<int64_t>& x) {
    const auto& sel = t.selectors[static_cast<size_t>(agg.a)];
    std::optional<ValueKey> first;
    for (size_t k = 0; k < n; ++k) {
      if (!sel[q * n + k]) continue;
      const ValueKey v = value_key(at(agg.b, k));
      if (first && *first != v)
        throw CompileError(name_of(id) + ": a categorical Aggregate averages differing values at position " +
                           std::to_string(q) + " of input " + input_to_json(x) +
                           " (tracr refuses this too; a numerical Aggregate would average them)");
      first = v;
    }
  }

  // --- nodes -----------------------------------------------------------------------------------------
  int add(Node n) {
    graph_.nodes.push_back(std::move(n));
    return static_cast<int>(graph_.nodes.size()) - 1;
  }

  int node_of(rasp::Ref r) {
    if (r >= 0) return ref_node_[static_cast<size_t>(r)];
    int& memo = r == rasp::kTokens ? tokens_ : r == rasp::kIndices ? indices_ : length_;
    if (memo >= 0) return memo;
    Node n;
    if (r == rasp::kTokens) {
      n.kind = NodeKind::Tokens, n.label = "tokens";
      for (int64_t v = domain_.value_min; v <= domain_.value_max; ++v) n.values.push_back(Value::of_int(v));
    } else if (r == rasp::kIndices) {
      n.kind = NodeKind::Indices, n.label = "indices";
      for (int i = 0; i < domain_.len_max; ++i) n.values.push_back(Value::of_int(i));
    } else {  // tracr's make_length: the width of an all-true selector
      const int tok = node_of(rasp::kTokens);
      n.kind = NodeKind::SelectorWidth, n.label = "length";
      n.values = sorted_values(length_values_);
      n.inputs = {tok, tok};
      const size_t k = graph_.nodes[static_cast<size_t>(tok)].values.size();
      n.selects.assign(k, std::vector<char>(k, 1));
      for (const Value& v : n.values) n.steps.emplace_back(1.0 / (v.as_double() + 1), v);
    }
    return memo = add(std::move(n));
  }

  // The node as one-hot: itself, or a helper that discretizes the number (tracr needs categorical
  // inputs here and refuses; we convert).
  int categorical(int node) {
    if (!graph_.nodes[static_cast<size_t>(node)].numerical) return node;
    if (auto it = categorical_of_.find(node); it != categorical_of_.end()) return it->second;
    const Node& src = graph_.nodes[static_cast<size_t>(node)];
    Node n;
    n.kind = NodeKind::Discretize, n.label = src.label + ".cat", n.values = src.values;
    n.inputs = {node}, n.coefs = {1.0};
    for (const Value& v : src.values) n.steps.emplace_back(v.as_double(), v);
    return categorical_of_[node] = add(std::move(n));
  }

  // A node read as a number: a numerical one directly, a categorical one as sum value * one-hot, which
  // cannot show None (it would read as 0).
  int number(int node, int statement) {
    const Node& n = graph_.nodes[static_cast<size_t>(node)];
    if (!n.numerical && n.index_of(Value::none()) >= 0)
      throw CompileError(name_of(statement) + ": reads " + n.label + " as a number, but " + n.label +
                         " is None on some input");
    return node;
  }

  int add_statement(int s) {
    const rasp::Statement& x = program_.statements[static_cast<size_t>(s)];
    const Observed& o = observed_[static_cast<size_t>(s)];
    Node n;
    n.label = name_of(s);
    n.statement = s;
    n.numerical = x.encoding == rasp::Encoding::Numerical;
    n.values = sorted_values(o.values);
    auto index_in = [&](int node, const ValueKey& k) {
      const Node& in = graph_.nodes[static_cast<size_t>(node)];
      const int i = in.index_of_key(k);
      if (i < 0) throw std::logic_error("compile: a traced value is missing from " + in.label);
      return i;
    };
    switch (x.op) {
      case rasp::Op::Map: {
        const int a = node_of(x.a);
        if (!graph_.nodes[static_cast<size_t>(a)].numerical) {
          n.kind = NodeKind::Lookup, n.inputs = {a};
          for (const auto& [key, io] : o.table)
            if (!key[0].none) n.lookup[{index_in(a, key[0])}] = io.second;
        } else {
          n.kind = NodeKind::Discretize, n.inputs = {a}, n.coefs = {1.0};
          for (const auto& [key, io] : o.table) n.steps.emplace_back(io.first[0].as_double(), io.second);
        }
        break;
      }
      case rasp::Op::SequenceMap:
      case rasp::Op::LinearSequenceMap: {
        if (x.op == rasp::Op::SequenceMap)
          strict_check(s, !numerical(x.a) && !numerical(x.b), "a SequenceMap of a numerical s-op");
        int a = node_of(x.a), b = node_of(x.b);
        const bool both_categorical =
            !graph_.nodes[static_cast<size_t>(a)].numerical && !graph_.nodes[static_cast<size_t>(b)].numerical;
        if (x.op == rasp::Op::SequenceMap || both_categorical) {
          a = categorical(a), b = categorical(b);
          n.kind = NodeKind::Lookup, n.inputs = {a, b};
          for (const auto& [key, io] : o.table)
            if (!key[0].none && !key[1].none) n.lookup[{index_in(a, key[0]), index_in(b, key[1])}] = io.second;
        } else {
          n.inputs = {number(a, s), number(b, s)};
          n.coefs = {static_cast<double>(x.coef_a), static_cast<double>(x.coef_b)};
          if (n.numerical) {
            n.kind = NodeKind::Linear;
          } else {  // the read is the output's value: discretize it into the one-hot
            n.kind = NodeKind::Discretize;
            for (const Value& v : n.values) n.steps.emplace_back(v.as_double(), v);
          }
        }
        break;
      }
      case rasp::Op::Aggregate: {
        const rasp::Statement& sel = program_.statements[static_cast<size_t>(x.a)];
        strict_check(s, !numerical(sel.a) && !numerical(sel.b), "a Select on a numerical s-op");
        strict_check(s, numerical(x.b) == n.numerical, "an Aggregate whose encoding differs from its input's");
        if (n.numerical) {
          strict_check(s, !x.default_value || *x.default_value == 0, "a numerical Aggregate with a default other than 0");
          bool binary = true;
          for (const Value& v : graph_.nodes[static_cast<size_t>(node_of(x.b))].values)
            binary &= !v.is_none() && (v.as_double() == 0 || v.as_double() == 1);
          strict_check(s, binary, "a numerical Aggregate of an s-op that is not always 0 or 1");
        } else {
          strict_check(s, !x.default_value, "a categorical Aggregate with a default");
        }
        const int keys = categorical(node_of(sel.a)), queries = categorical(node_of(sel.b));
        const int value = n.numerical ? number(node_of(x.b), s) : categorical(node_of(x.b));
        n.kind = NodeKind::Aggregate, n.inputs = {keys, queries, value};
        n.selects = relation(x.a, keys, queries);
        if (x.default_value) n.default_value = Value::of_int(*x.default_value);
        break;
      }
      case rasp::Op::SelectorWidth: {
        const rasp::Statement& sel = program_.statements[static_cast<size_t>(x.a)];
        strict_check(s, !numerical(sel.a) && !numerical(sel.b), "a Select on a numerical s-op");
        const int keys = categorical(node_of(sel.a)), queries = categorical(node_of(sel.b));
        n.kind = NodeKind::SelectorWidth, n.inputs = {keys, queries};
        n.selects = relation(x.a, keys, queries);
        for (const Value& v : n.values) n.steps.emplace_back(1.0 / (v.as_double() + 1), v);
        break;
      }
      case rasp::Op::Select:
        throw std::logic_error("compile: a selector is not a node");
    }
    return add(std::move(n));
  }

  // [query value index][key value index] of a Select, from the runs; pairs never seen select nothing.
  std::vector<std::vector<char>> relation(int select, int keys, int queries) {
    const Node& k = graph_.nodes[static_cast<size_t>(keys)];
    const Node& q = graph_.nodes[static_cast<size_t>(queries)];
    std::vector<std::vector<char>> r(q.values.size(), std::vector<char>(k.values.size(), 0));
    for (const auto& [pair, bit] : observed_[static_cast<size_t>(select)].relation) {
      const int qi = q.index_of_key(pair.first);
      const int ki = k.index_of_key(pair.second);
      if (qi >= 0 && ki >= 0) r[static_cast<size_t>(qi)][static_cast<size_t>(ki)] = bit;
    }
    return r;
  }

  // --strict: refuse what tracr's compiler refuses though we could compile it (docs/compiler.md).
  void strict_check(int s, bool ok, const std::string& why) const {
    if (strict_ && !ok) throw CompileError(name_of(s) + ": " + why + " (tracr refuses this; without --strict it compiles)");
  }
  bool numerical(rasp::Ref r) { return graph_.nodes[static_cast<size_t>(node_of(r))].numerical; }

  const rasp::Program& program_;
  const InputDomain& domain_;
  bool strict_;
  std::vector<Observed> observed_;          // (statements)
  std::map<ValueKey, Value> length_values_;
  Graph graph_;
  std::vector<int> ref_node_;               // (statements) node of each s-op statement
  int tokens_ = -1, indices_ = -1, length_ = -1;
  std::map<int, int> categorical_of_;       // numerical node -> its one-hot helper
};

}  // namespace

Graph rasp_to_graph(const rasp::Program& program, const std::vector<std::vector<int64_t>>& inputs,
                    const InputDomain& domain, bool tracr_strict) {
  return GraphBuilder(program, inputs, domain, tracr_strict).build();
}

}  // namespace mm::compile
