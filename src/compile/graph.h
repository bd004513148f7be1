// The compiler's intermediate form: one node per quantity the residual stream carries (the primitives,
// each s-op the output needs, and the helpers the compiler adds), each with the values it takes over the
// domain and the table its operation computes, read off the evaluator. Internal to src/compile.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/domain.h"
#include "core/value.h"
#include "rasp/ast.h"

namespace mm::compile {

enum class NodeKind {
  Tokens,         // embedding: one-hot of the token
  Indices,        // embedding: one-hot of the position
  Lookup,         // MLP: a categorical input (or two) to any output, one hidden unit per input value (pair)
  Discretize,     // MLP: a number read off the stream (a linear read) to any output, by steps between values
  Linear,         // MLP: coef_a * a + coef_b * b, numerical in and out, exact with two ReLUs
  Aggregate,      // attention: the mean of the selected values, or the default where none is selected
  SelectorWidth,  // attention (1 / (width + 1) into a hidden dimension), then a Discretize MLP
};

struct Node {
  NodeKind kind = NodeKind::Tokens;
  std::string label;                  // "tokens", "indices", "v3", "v3.cat" (a helper), ...
  bool numerical = false;             // one dimension holding the number, else one-hot over `values`
  std::vector<Value> values;          // distinct values over the domain (by value_key), sorted; None too
  std::vector<int> inputs;            // nodes read: Lookup 1-2; Discretize and Linear the numbers read;
                                      // Aggregate {keys, queries, value}; SelectorWidth {keys, queries}
  std::vector<double> coefs;          // Discretize / Linear: the read is sum coefs[i] * number(inputs[i])
  // Lookup: the output value per input value index (per pair of indices with two inputs). Discretize:
  // the output per read value (the read values sorted). SelectorWidth: output per width.
  std::map<std::vector<int>, Value> lookup;
  std::vector<std::pair<double, Value>> steps;
  std::vector<std::vector<char>> selects;  // attention: [query value index][key value index]
  std::optional<Value> default_value;      // Aggregate: where nothing is selected (None: absent)
  int statement = -1;                      // the program statement it computes, or -1 for a helper
  int slot = -1;  // sublayer: even = attention of layer slot/2, odd = MLP; SelectorWidth: its attention
  int ready() const { return kind == NodeKind::SelectorWidth ? slot + 1 : slot; }
  bool is_attention() const { return kind == NodeKind::Aggregate || kind == NodeKind::SelectorWidth; }
  // Index of `v` in values (by value_key), or -1.
  int index_of(const Value& v) const { return index_of_key(value_key(v)); }
  int index_of_key(const ValueKey& k) const;
};

struct Graph {
  std::vector<Node> nodes;  // in an order where every node's inputs come first
  int output = -1;          // the node the program returns
  int n_layers = 0;         // after graph_to_layers
};

// The passes, in order (compiling.cpp runs them).
Graph rasp_to_graph(const rasp::Program& program, const std::vector<std::vector<int64_t>>& inputs,
                    const InputDomain& domain, bool tracr_strict);
void graph_to_layers(Graph& graph);
struct CompileOptions;
struct Compiled;
Compiled layers_to_model(const Graph& graph, const InputDomain& domain, const CompileOptions& options);

}  // namespace mm::compile
