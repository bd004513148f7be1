// Pass 3: a placed graph -> the weights of a "compiled" subject model.
//
// Residual stream: one labelled dimension per (categorical s-op, value) and per numerical s-op, plus "bos".
// Every input is prefixed with BOS (embed.bos = the "bos" dimension). As in tracr, a query attends to BOS
// with half the score of a selected key, so that BOS takes the attention exactly when nothing is selected
// (its value then writes the Aggregate's default), and a SelectorWidth gives BOS the full score and reads
// 1 / (width + 1) off it. What tracr leaves loose we keep exact: BOS's own stream does not depend on the
// input (BOS attends only to itself, and every MLP is switched off there), so we track it while writing the
// layers and set each head's and hidden unit's weight from "bos" so that at BOS the query, key and value
// are exactly what we want and every hidden unit's input is exactly -1.
//
// Shapes: qkv.weight (d, 3 H dh) with head h's query, key and value in columns h dh, H dh + h dh and
// 2 H dh + h dh; out.weight (H dh, d); fc.weight (d, f); proj.weight (f, d); head.weight (d, classes).
#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "compile/compile.h"
#include "compile/graph.h"

namespace mm::compile {

namespace {

using Sparse = std::map<int, double>;  // residual dimension -> weight

void add_to(Sparse& into, const Sparse& x, double scale) {
  for (const auto& [dim, w] : x) into[dim] += scale * w;
}

struct Neuron {
  Sparse in;        // pre-activation = sum in[dim] * x[dim] + bias
  double bias = 0;
  Sparse out;       // written to the stream, times the activation
};

struct Head {
  std::vector<std::tuple<int, int, double>> wq, wk, wv;  // (residual dim, component, weight)
  std::map<int, double> bq;                              // component -> query bias
  int width = 1;                                         // components used by q/k and by v
  std::vector<double> bos_q, bos_k, bos_v;               // what BOS's query, key and value must be (width)
  std::vector<std::tuple<int, int, double>> wo;          // (component, residual dim, weight)
};

// Where every node lives in the residual stream.
struct Layout {
  std::vector<std::string> labels;
  std::vector<std::vector<int>> value_dim;  // (nodes, values): dimension of each value, -1 for None
  std::vector<int> number_dim;              // (nodes): a numerical node's dimension, else -1
  std::vector<int> hidden_dim;              // (nodes): a SelectorWidth's 1 / (width + 1), else -1
  static constexpr int kBos = 0;

  explicit Layout(const Graph& g) {
    labels.push_back("bos");
    value_dim.resize(g.nodes.size());
    number_dim.assign(g.nodes.size(), -1);
    hidden_dim.assign(g.nodes.size(), -1);
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      const Node& n = g.nodes[i];
      if (n.kind == NodeKind::SelectorWidth) hidden_dim[i] = push(n.label + ".attn");
      if (n.numerical) {
        number_dim[i] = push(n.label);
        continue;
      }
      for (const Value& v : n.values) value_dim[i].push_back(v.is_none() ? -1 : push(n.label + ":" + value_to_json(v)));
    }
  }
  int push(const std::string& label) {
    labels.push_back(label);
    return static_cast<int>(labels.size()) - 1;
  }
  int size() const { return static_cast<int>(labels.size()); }
};

class ModelWriter {
 public:
  ModelWriter(const Graph& g, const CompileOptions& o) : g_(g), o_(o), layout_(g) {
    if (layout_.size() > o.max_residual)
      throw CompileError("the residual stream would need " + std::to_string(layout_.size()) + " dimensions; at most " +
                         std::to_string(o.max_residual));
  }

  Compiled write(const InputDomain& domain) {
    const int d = layout_.size(), L = g_.n_layers;
    std::vector<std::vector<Head>> heads(static_cast<size_t>(L));
    std::vector<std::vector<Neuron>> mlps(static_cast<size_t>(L));
    for (size_t i = 0; i < g_.nodes.size(); ++i) {
      const Node& n = g_.nodes[i];
      if (n.slot < 0) continue;
      if (n.is_attention()) heads[static_cast<size_t>(n.slot / 2)].push_back(head_of(static_cast<int>(i)));
      const int mlp_slot = n.kind == NodeKind::SelectorWidth ? n.slot + 1 : n.is_attention() ? -1 : n.slot;
      if (mlp_slot >= 0) {
        auto& layer = mlps[static_cast<size_t>(mlp_slot / 2)];
        for (Neuron& u : neurons_of(static_cast<int>(i))) layer.push_back(std::move(u));
      }
    }

    Compiled c;
    SubjectArch& a = c.model.arch;
    a.block = "compiled";
    a.d_model = d;
    a.n_layers = L;
    a.vocab = static_cast<int>(domain.value_max - domain.value_min + 2);
    a.max_len = domain.len_max;
    a.n_heads = 1, a.head_width = 1, a.mlp_width = 1;
    for (int l = 0; l < L; ++l) {
      a.n_heads = std::max<int>(a.n_heads, static_cast<int>(heads[static_cast<size_t>(l)].size()));
      a.mlp_width = std::max<int>(a.mlp_width, static_cast<int>(mlps[static_cast<size_t>(l)].size()));
      for (const Head& h : heads[static_cast<size_t>(l)]) a.head_width = std::max(a.head_width, h.width);
      c.attention_heads += static_cast<int>(heads[static_cast<size_t>(l)].size());
      c.mlp_units += static_cast<int>(mlps[static_cast<size_t>(l)].size());
    }
    if (a.mlp_width > o_.max_mlp)
      throw CompileError("an MLP layer would need " + std::to_string(a.mlp_width) + " hidden units; at most " +
                         std::to_string(o_.max_mlp));
    const Node& out = g_.nodes[static_cast<size_t>(g_.output)];
    c.model.classes = out.values;
    a.n_classes = static_cast<int>(out.values.size());
    for (const auto& p : param_specs(a)) {
      Tensor t;
      t.shape = p.shape;
      t.data.assign(static_cast<size_t>(t.numel()), 0.f);
      c.model.weights[p.name] = std::move(t);
    }
    write_embeddings(c.model, domain);
    std::vector<double> bos(static_cast<size_t>(d), 0.0);  // BOS's stream entering the current sublayer
    bos[Layout::kBos] = 1;
    for (int l = 0; l < L; ++l) {
      write_attention(c.model, l, heads[static_cast<size_t>(l)], bos);
      write_mlp(c.model, l, mlps[static_cast<size_t>(l)], bos);
    }
    write_head(c.model, out);
    c.residual = layout_.labels;
    c.output_label = out.label;
    c.output_numerical = out.numerical;
    return c;
  }

 private:
  // --- what a node reads and writes ------------------------------------------------------------------
  // The node as a number: its dimension, or sum value * one-hot.
  Sparse number(int node) const {
    const Node& n = g_.nodes[static_cast<size_t>(node)];
    if (n.numerical) return {{layout_.number_dim[static_cast<size_t>(node)], 1.0}};
    Sparse r;
    for (size_t i = 0; i < n.values.size(); ++i)
      if (const int dim = layout_.value_dim[static_cast<size_t>(node)][i]; dim >= 0) r[dim] += n.values[i].as_double();
    return r;
  }
  // What writing value v of `node` adds to the stream (None: nothing).
  Sparse encode(int node, const Value& v) const {
    const Node& n = g_.nodes[static_cast<size_t>(node)];
    if (v.is_none()) return {};
    if (n.numerical) return {{layout_.number_dim[static_cast<size_t>(node)], v.as_double()}};
    const int i = n.index_of(v);
    if (i < 0) throw std::logic_error("compile: " + n.label + " never takes the value " + value_to_json(v));
    return {{one_hot_dim(node, i), 1.0}};
  }
  int one_hot_dim(int node, int value_index) const {
    return layout_.value_dim[static_cast<size_t>(node)][static_cast<size_t>(value_index)];
  }

  // --- attention -------------------------------------------------------------------------------------
  Head head_of(int node) const {
    const Node& n = g_.nodes[static_cast<size_t>(node)];
    const int keys = n.inputs[0], queries = n.inputs[1];
    const Node& kn = g_.nodes[static_cast<size_t>(keys)];
    const Node& qn = g_.nodes[static_cast<size_t>(queries)];
    const double S = o_.softmax_sharpness;
    Head h;
    const int nk = static_cast<int>(kn.values.size()), bos_c = nk;  // components: one per key value, then BOS
    for (int ki = 0; ki < nk; ++ki)
      if (const int dim = one_hot_dim(keys, ki); dim >= 0) h.wk.emplace_back(dim, ki, 1.0);
    for (size_t qi = 0; qi < qn.values.size(); ++qi) {
      const int dim = one_hot_dim(queries, static_cast<int>(qi));
      if (dim < 0) continue;
      for (int ki = 0; ki < nk; ++ki)
        if (n.selects[qi][static_cast<size_t>(ki)]) h.wq.emplace_back(dim, ki, S);
    }
    const bool width = n.kind == NodeKind::SelectorWidth;
    h.bq[bos_c] = width ? S : S / 2;
    int value_width = 1;
    if (width) {  // BOS's value 1, read back as 1 / (width + 1)
      h.wo.emplace_back(0, layout_.hidden_dim[static_cast<size_t>(node)], 1.0);
    } else if (n.numerical) {
      for (const auto& [dim, w] : number(n.inputs[2])) h.wv.emplace_back(dim, 0, w);
      h.wo.emplace_back(0, layout_.number_dim[static_cast<size_t>(node)], 1.0);
    } else {  // copy the one-hot; one more component carries the default from BOS
      const int value = n.inputs[2];
      const Node& vn = g_.nodes[static_cast<size_t>(value)];
      value_width = static_cast<int>(vn.values.size()) + 1;
      for (size_t j = 0; j < vn.values.size(); ++j) {
        const int from = one_hot_dim(value, static_cast<int>(j));
        const int to = n.index_of(vn.values[j]);
        if (from < 0 || to < 0) continue;  // None, or a value never selected
        h.wv.emplace_back(from, static_cast<int>(j), 1.0);
        if (const int dim = one_hot_dim(node, to); dim >= 0) h.wo.emplace_back(static_cast<int>(j), dim, 1.0);
      }
      if (n.default_value && n.index_of(*n.default_value) >= 0)
        h.wo.emplace_back(value_width - 1, one_hot_dim(node, n.index_of(*n.default_value)), 1.0);
    }
    h.width = std::max(nk + 1, value_width);
    h.bos_q.assign(static_cast<size_t>(h.width), 0.0);
    h.bos_k.assign(static_cast<size_t>(h.width), 0.0);
    h.bos_v.assign(static_cast<size_t>(h.width), 0.0);
    h.bos_q[static_cast<size_t>(bos_c)] = o_.bos_self_score;
    h.bos_k[static_cast<size_t>(bos_c)] = 1;
    if (width) h.bos_v[0] = 1;
    else if (n.numerical) h.bos_v[0] = n.default_value ? n.default_value->as_double() : 0.0;
    else if (n.default_value) h.bos_v[static_cast<size_t>(value_width - 1)] = 1;
    return h;
  }

  void write_attention(SubjectModel& m, int l, const std::vector<Head>& heads, std::vector<double>& bos) {
    const std::string p = "blocks." + std::to_string(l) + ".";
    const int d = layout_.size(), dh = m.arch.d_head(), w = m.arch.d_attn();
    Tensor& W = m.weights.at(p + "attn.qkv.weight");  // (d, 3 w)
    Tensor& b = m.weights.at(p + "attn.qkv.bias");    // (3 w)
    Tensor& Wo = m.weights.at(p + "attn.out.weight");  // (w, d)
    auto at = [&](int row, int col) -> float& { return W.data[static_cast<size_t>(row) * 3 * w + col]; };
    std::vector<double> gained(bos.size(), 0.0);  // every head reads BOS's stream as it was before the layer
    for (size_t h = 0; h < heads.size(); ++h) {
      const Head& x = heads[h];
      const int q0 = static_cast<int>(h) * dh, k0 = w + q0, v0 = 2 * w + q0;
      for (const auto& [dim, c, v] : x.wq) at(dim, q0 + c) += static_cast<float>(v);
      for (const auto& [dim, c, v] : x.wk) at(dim, k0 + c) += static_cast<float>(v);
      for (const auto& [dim, c, v] : x.wv) at(dim, v0 + c) += static_cast<float>(v);
      for (const auto& [c, v] : x.bq) b.data[static_cast<size_t>(q0 + c)] += static_cast<float>(v);
      // From "bos": whatever BOS's stream holds, its query, key and value come out as wanted.
      auto fix = [&](int col0, const std::vector<double>& want) {
        for (int c = 0; c < x.width; ++c) {
          double got = b.data[static_cast<size_t>(col0 + c)];
          for (int i = 0; i < d; ++i)
            if (i != Layout::kBos) got += bos[static_cast<size_t>(i)] * at(i, col0 + c);
          at(Layout::kBos, col0 + c) = static_cast<float>(want[static_cast<size_t>(c)] - got);
        }
      };
      fix(q0, x.bos_q);
      fix(k0, x.bos_k);
      fix(v0, x.bos_v);
      for (const auto& [c, dim, v] : x.wo) Wo.data[static_cast<size_t>(q0 + c) * d + dim] += static_cast<float>(v);
      // BOS attends only to itself, so its stream gains its own value through W_O.
      for (const auto& [c, dim, v] : x.wo) gained[static_cast<size_t>(dim)] += x.bos_v[static_cast<size_t>(c)] * v;
    }
    for (size_t i = 0; i < bos.size(); ++i) bos[i] += gained[i];
  }

  // --- MLPs ------------------------------------------------------------------------------------------
  std::vector<Neuron> neurons_of(int node) const {
    const Node& n = g_.nodes[static_cast<size_t>(node)];
    std::vector<Neuron> units;
    switch (n.kind) {
      case NodeKind::Lookup:
        for (const auto& [in, out] : n.lookup) {
          Neuron u;
          for (size_t k = 0; k < in.size(); ++k) u.in[one_hot_dim(n.inputs[k], in[k])] += 1;
          u.bias = 1.0 - static_cast<double>(in.size());  // on only when every input holds its value
          u.out = encode(node, out);
          if (!u.out.empty()) units.push_back(std::move(u));
        }
        break;
      case NodeKind::Linear: {
        Sparse r;
        for (size_t k = 0; k < n.inputs.size(); ++k) add_to(r, number(n.inputs[k]), n.coefs[k]);
        const int dim = layout_.number_dim[static_cast<size_t>(node)];
        Neuron pos, neg;  // x = relu(x) - relu(-x)
        pos.in = r, pos.out = {{dim, 1.0}};
        add_to(neg.in, r, -1.0), neg.out = {{dim, -1.0}};
        units.push_back(std::move(pos));
        units.push_back(std::move(neg));
        break;
      }
      case NodeKind::Discretize:
      case NodeKind::SelectorWidth: {
        Sparse r;
        if (n.kind == NodeKind::SelectorWidth) r[layout_.hidden_dim[static_cast<size_t>(node)]] = 1;
        else
          for (size_t k = 0; k < n.inputs.size(); ++k) add_to(r, number(n.inputs[k]), n.coefs[k]);
        steps(node, r, units);
        break;
      }
      default:
        throw std::logic_error("compile: no MLP for " + n.label);
    }
    return units;
  }

  // A step function of the read r: the output of the lowest read value, plus at each midpoint between
  // neighbouring values the change of output, switched on by relu(L (x - t) + 1/2) - relu(L (x - t) - 1/2),
  // which is 0 at the lower value and 1 at the upper when L = 2 / gap.
  void steps(int node, const Sparse& r, std::vector<Neuron>& units) const {
    const Node& n = g_.nodes[static_cast<size_t>(node)];
    std::vector<std::pair<double, Value>> s = n.steps;
    std::sort(s.begin(), s.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
    std::vector<std::pair<double, Value>> distinct;
    for (const auto& step : s) {
      if (!distinct.empty() && std::abs(step.first - distinct.back().first) <= 1e-9 * std::max(1.0, std::abs(step.first))) {
        if (value_key(step.second) != value_key(distinct.back().second))
          throw CompileError(n.label + ": two inputs that read as the same number give different outputs");
        continue;
      }
      distinct.push_back(step);
    }
    if (distinct.empty()) return;
    Neuron on;
    on.bias = 1;
    on.out = encode(node, distinct[0].second);
    if (!on.out.empty()) units.push_back(std::move(on));
    for (size_t i = 0; i + 1 < distinct.size(); ++i) {
      const double lo = distinct[i].first, hi = distinct[i + 1].first, gap = hi - lo;
      if (gap < 1e-4 * std::max(1.0, std::abs(hi)))
        throw CompileError(n.label + ": reads numbers too close to tell apart in float32 (" + std::to_string(lo) + " and " +
                           std::to_string(hi) + ")");
      Sparse change = encode(node, distinct[i + 1].second);
      add_to(change, encode(node, distinct[i].second), -1.0);
      std::erase_if(change, [](const auto& kv) { return kv.second == 0; });
      if (change.empty()) continue;
      const double slope = 2.0 / gap, t = (lo + hi) / 2;
      for (const double half : {0.5, -0.5}) {
        Neuron u;
        add_to(u.in, r, slope);
        u.bias = -slope * t + half;
        add_to(u.out, change, half > 0 ? 1.0 : -1.0);
        units.push_back(std::move(u));
      }
    }
  }

  void write_mlp(SubjectModel& m, int l, const std::vector<Neuron>& units, const std::vector<double>& bos) {
    const std::string p = "blocks." + std::to_string(l) + ".";
    const int d = layout_.size(), f = m.arch.d_mlp();
    Tensor& W1 = m.weights.at(p + "mlp.fc.weight");    // (d, f)
    Tensor& b1 = m.weights.at(p + "mlp.fc.bias");      // (f)
    Tensor& W2 = m.weights.at(p + "mlp.proj.weight");  // (f, d)
    for (size_t u = 0; u < units.size(); ++u) {
      const Neuron& x = units[u];
      double at_bos = x.bias;
      for (const auto& [dim, w] : x.in) {
        W1.data[static_cast<size_t>(dim) * f + u] += static_cast<float>(w);
        at_bos += bos[static_cast<size_t>(dim)] * w;
      }
      b1.data[u] = static_cast<float>(x.bias);
      // Off at BOS: its input there is exactly -1 (the "bos" row cancels whatever BOS's stream holds).
      W1.data[static_cast<size_t>(Layout::kBos) * f + u] = static_cast<float>(-1.0 - at_bos);
      for (const auto& [dim, w] : x.out) W2.data[u * static_cast<size_t>(d) + dim] += static_cast<float>(w);
    }
  }

  // --- embeddings and the output head -----------------------------------------------------------------
  void write_embeddings(SubjectModel& m, const InputDomain& domain) const {
    const int d = layout_.size();
    m.weights.at("embed.bos").data[Layout::kBos] = 1;
    for (size_t i = 0; i < g_.nodes.size(); ++i) {
      const Node& n = g_.nodes[i];
      if (n.kind == NodeKind::Tokens)
        for (int64_t v = domain.value_min; v <= domain.value_max; ++v)
          m.weights.at("embed.tokens").data[static_cast<size_t>(1 + v - domain.value_min) * d +
                                            one_hot_dim(static_cast<int>(i), n.index_of(Value::of_int(v)))] = 1;
      if (n.kind == NodeKind::Indices)
        for (int p = 0; p < domain.len_max; ++p)
          m.weights.at("embed.positions").data[static_cast<size_t>(p) * d + one_hot_dim(static_cast<int>(i), p)] = 1;
    }
  }

  // Categorical: a class's logit is its dimension (None: a constant 1/2, beaten by any value present).
  // Numerical: 2 c x - c^2 = x^2 - (x - c)^2, largest for the class c nearest to x.
  void write_head(SubjectModel& m, const Node& out) const {
    const int C = static_cast<int>(out.values.size()), node = g_.output;
    Tensor& W = m.weights.at("head.weight");  // (d, C)
    Tensor& b = m.weights.at("head.bias");    // (C)
    for (int k = 0; k < C; ++k) {
      const Value& c = out.values[static_cast<size_t>(k)];
      if (out.numerical) {
        W.data[static_cast<size_t>(layout_.number_dim[static_cast<size_t>(node)]) * C + k] = static_cast<float>(2 * c.as_double());
        b.data[static_cast<size_t>(k)] = static_cast<float>(-c.as_double() * c.as_double());
      } else if (c.is_none()) {
        b.data[static_cast<size_t>(k)] = 0.5f;
      } else {
        W.data[static_cast<size_t>(one_hot_dim(node, k)) * C + k] = 1;
      }
    }
  }

  const Graph& g_;
  const CompileOptions& o_;
  Layout layout_;
};

}  // namespace

Compiled layers_to_model(const Graph& graph, const InputDomain& domain, const CompileOptions& options) {
  return ModelWriter(graph, options).write(domain);
}

}  // namespace mm::compile
