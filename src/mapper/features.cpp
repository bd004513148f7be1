// The encoders' inputs from a subject model's weights: the layer graph's node vectors and the invariant
// encoding's circuit tokens (see features.h for the design). Plain loops; the sizes are small.
#include "mapper/features.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace mm {

namespace {

const Tensor& w(const SubjectModel& m, const std::string& name) { return m.weights.at(name); }

// A LayerNorm's parameter; null for a compiled subject, which has none (its reads are of the raw stream).
const Tensor* ln(const SubjectModel& m, const std::string& name) { return m.arch.compiled() ? nullptr : &w(m, name); }

// The embedding-time residual of every (token id, position) pair of the spec's grid, through the
// LayerNorm (gain, bias) where there is one: (pairs, d); `valid[r]` says whether the subject has that pair.
std::vector<float> residual_grid(const SubjectModel& m, const FeatureSpec& spec, const Tensor* gain, const Tensor* bias,
                                 std::vector<bool>& valid) {
  const int d = m.arch.d_model;
  const Tensor& tok = w(m, "embed.tokens");      // (vocab, d)
  const Tensor& pos = w(m, "embed.positions");   // (max_len, d)
  std::vector<float> r(static_cast<size_t>(spec.pairs()) * d, 0.f);
  valid.assign(static_cast<size_t>(spec.pairs()), false);
  std::vector<double> e(static_cast<size_t>(d));
  for (int v = 0; v < m.arch.vocab; ++v)
    for (int p = 0; p < m.arch.max_len; ++p) {
      const size_t row = static_cast<size_t>(v) * spec.max_len + p;
      valid[row] = true;
      double mean = 0, var = 0;
      for (int i = 0; i < d; ++i) {
        e[static_cast<size_t>(i)] = tok.data[static_cast<size_t>(v) * d + i] + pos.data[static_cast<size_t>(p) * d + i];
        mean += e[static_cast<size_t>(i)];
      }
      mean /= d;
      for (int i = 0; i < d; ++i) var += (e[static_cast<size_t>(i)] - mean) * (e[static_cast<size_t>(i)] - mean);
      const double inv = 1.0 / std::sqrt(var / d + 1e-5);
      for (int i = 0; i < d; ++i)
        r[row * d + i] = gain ? static_cast<float>((e[static_cast<size_t>(i)] - mean) * inv * gain->data[static_cast<size_t>(i)] +
                                                   bias->data[static_cast<size_t>(i)])
                              : static_cast<float>(e[static_cast<size_t>(i)]);
    }
  return r;
}

// Rows of x (n, in) times columns [c0, c0 + k) of W (in, out), plus b[c0..): (n, k).
std::vector<float> project(const std::vector<float>& x, int n, int in, const Tensor& W, const Tensor* b, int c0, int k) {
  const int out = static_cast<int>(W.shape[1]);
  std::vector<float> y(static_cast<size_t>(n) * k, 0.f);
  for (int r = 0; r < n; ++r)
    for (int j = 0; j < k; ++j) {
      double s = b ? b->data[static_cast<size_t>(c0 + j)] : 0.0;
      for (int i = 0; i < in; ++i) s += static_cast<double>(x[static_cast<size_t>(r) * in + i]) * W.data[static_cast<size_t>(i) * out + c0 + j];
      y[static_cast<size_t>(r) * k + j] = static_cast<float>(s);
    }
  return y;
}

// The unembedding seen from the residual stream: diag(final LN gain) * head.weight, (d, classes).
std::vector<float> unembedding(const SubjectModel& m) {
  const int d = m.arch.d_model, c = m.arch.n_classes;
  const Tensor* g = ln(m, "ln_f.weight");
  const Tensor& head = w(m, "head.weight");
  std::vector<float> u(static_cast<size_t>(d) * c);
  for (int i = 0; i < d; ++i)
    for (int k = 0; k < c; ++k)
      u[static_cast<size_t>(i) * c + k] = (g ? g->data[static_cast<size_t>(i)] : 1.0f) * head.data[static_cast<size_t>(i) * c + k];
  return u;
}

// x (n, d) times U (d, classes) into out[r * spec.classes + k] (zero-padded classes).
void to_classes(const std::vector<float>& x, int n, int d, const std::vector<float>& u, int classes, int classes_max,
                float* out) {
  for (int r = 0; r < n; ++r)
    for (int k = 0; k < classes; ++k) {
      double s = 0;
      for (int i = 0; i < d; ++i) s += static_cast<double>(x[static_cast<size_t>(r) * d + i]) * u[static_cast<size_t>(i) * classes + k];
      out[static_cast<size_t>(r) * classes_max + k] = static_cast<float>(s);
    }
}

}  // namespace

std::string FeatureSpec::to_json() const {
  return nlohmann::json{{"vocab", vocab}, {"max_len", max_len}, {"classes", classes}, {"node_width", node_width}}.dump();
}

FeatureSpec FeatureSpec::from_json(const std::string& text) {
  try {
    const auto j = nlohmann::json::parse(text);
    FeatureSpec s;
    s.vocab = j.at("vocab").get<int>();
    s.max_len = j.at("max_len").get<int>();
    s.classes = j.at("classes").get<int>();
    s.node_width = j.at("node_width").get<int>();
    if (s.vocab < 1 || s.max_len < 1 || s.classes < 1 || s.node_width < 1 || s.pairs() > 4096)
      throw Error("a size out of range");
    return s;
  } catch (const nlohmann::json::exception& e) {
    throw Error("malformed feature spec: " + std::string(e.what()));
  }
}

void FeatureSpec::check_fits(const SubjectModel& m) const {
  auto refuse = [&](const std::string& what, int got, int limit) {
    throw Error("the subject has " + std::to_string(got) + " " + what + "; this mapper reads at most " +
                std::to_string(limit) + " (train a mapper on a corpus that includes such subjects)");
  };
  if (m.arch.vocab > vocab) refuse("input ids", m.arch.vocab, vocab);
  if (m.arch.max_len > max_len) refuse("positions", m.arch.max_len, max_len);
  if (m.arch.n_classes > classes) refuse("output classes", m.arch.n_classes, classes);
}

FeatureSpec feature_spec_for(const std::vector<const SubjectModel*>& models, int node_width_cap) {
  FeatureSpec s{1, 1, 1, 1};
  for (const SubjectModel* m : models) {
    s.vocab = std::max(s.vocab, m->arch.vocab);
    s.max_len = std::max(s.max_len, m->arch.max_len);
    s.classes = std::max(s.classes, m->arch.n_classes);
    for (int node = 0; node < m->arch.n_layers + 2; ++node)
      s.node_width = std::max(s.node_width, static_cast<int>(std::min<size_t>(layergraph_node(*m, node).size(),
                                                                              static_cast<size_t>(node_width_cap))));
  }
  return s;
}

std::vector<float> layergraph_node(const SubjectModel& m, int node) {
  const int L = m.arch.n_layers;
  if (node < 0 || node > L + 1) throw Error("layer graph node " + std::to_string(node) + " out of range");
  const std::string prefix = node == 0 ? "embed." : node <= L ? "blocks." + std::to_string(node - 1) + "." : "";
  std::vector<float> v;
  for (const ParamSpec& p : param_specs(m.arch)) {
    const bool mine = node == L + 1 ? (p.name.rfind("ln_f.", 0) == 0 || p.name.rfind("head.", 0) == 0)
                                    : p.name.rfind(prefix, 0) == 0;
    if (mine) {
      const auto& data = w(m, p.name).data;
      v.insert(v.end(), data.begin(), data.end());
    }
  }
  return v;
}

std::vector<float> resize_to_width(const std::vector<float>& v, int width) {
  const size_t n = v.size(), wd = static_cast<size_t>(width);
  std::vector<float> out(wd, 0.f);
  if (n <= wd) {
    std::copy(v.begin(), v.end(), out.begin());
    return out;
  }
  for (size_t k = 0; k < wd; ++k) {
    const size_t a = k * n / wd, b = (k + 1) * n / wd;
    double s = 0;
    for (size_t i = a; i < b; ++i) s += v[i];
    out[k] = static_cast<float>(s / static_cast<double>(b - a));
  }
  return out;
}

LayerGraphInput layergraph_input(const SubjectModel& m, const FeatureSpec& spec) {
  spec.check_fits(m);
  LayerGraphInput g;
  g.nodes = m.arch.n_layers + 2;
  g.x.reserve(static_cast<size_t>(g.nodes) * spec.node_width);
  for (int node = 0; node < g.nodes; ++node) {
    const std::vector<float> v = resize_to_width(layergraph_node(m, node), spec.node_width);
    g.x.insert(g.x.end(), v.begin(), v.end());
  }
  return g;
}

InvariantInput invariant_input(const SubjectModel& m, const FeatureSpec& spec) {
  spec.check_fits(m);
  const int d = m.arch.d_model, H = m.arch.n_heads, dh = m.arch.d_head(), f = m.arch.d_mlp();
  const int P = spec.pairs(), C = m.arch.n_classes, Cmax = spec.classes;
  const std::vector<float> u = unembedding(m);  // (d, C)
  const int wa = m.arch.d_attn();  // all heads' width: d for a trained subject
  const float scale = m.arch.compiled() ? 1.0f : 1.0f / std::sqrt(static_cast<float>(dh));
  InvariantInput in;
  in.n_layers = m.arch.n_layers;
  std::vector<bool> valid;
  for (int l = 0; l < m.arch.n_layers; ++l) {
    const std::string p = "blocks." + std::to_string(l) + ".";
    // Attention: one token per head.
    const std::vector<float> r1 = residual_grid(m, spec, ln(m, p + "ln1.weight"), ln(m, p + "ln1.bias"), valid);  // (P, d)
    const Tensor& qkv = w(m, p + "attn.qkv.weight");  // (d, 3 wa)
    const Tensor& qkv_b = w(m, p + "attn.qkv.bias");  // (3 wa)
    const Tensor& wo = w(m, p + "attn.out.weight");   // (wa, d): rows are the heads' outputs, concatenated
    for (int h = 0; h < H; ++h) {
      const std::vector<float> q = project(r1, P, d, qkv, &qkv_b, h * dh, dh);          // (P, dh)
      const std::vector<float> k = project(r1, P, d, qkv, &qkv_b, wa + h * dh, dh);      // (P, dh)
      const std::vector<float> v = project(r1, P, d, qkv, &qkv_b, 2 * wa + h * dh, dh);  // (P, dh)
      std::vector<float> tok(static_cast<size_t>(spec.head_features()), 0.f);
      for (int a = 0; a < P; ++a)
        for (int b = 0; b < P; ++b) {
          if (!valid[static_cast<size_t>(a)] || !valid[static_cast<size_t>(b)]) continue;
          double s = 0;
          for (int i = 0; i < dh; ++i) s += static_cast<double>(q[static_cast<size_t>(a) * dh + i]) * k[static_cast<size_t>(b) * dh + i];
          tok[static_cast<size_t>(a) * P + b] = static_cast<float>(s) * scale;
        }
      // OV: v (P, dh) times the head's rows of Wo -> (P, d), then through the unembedding.
      std::vector<float> ov(static_cast<size_t>(P) * d, 0.f);
      for (int a = 0; a < P; ++a)
        for (int i = 0; i < dh; ++i) {
          const float x = v[static_cast<size_t>(a) * dh + i];
          const float* row = &wo.data[static_cast<size_t>(h * dh + i) * d];
          for (int j = 0; j < d; ++j) ov[static_cast<size_t>(a) * d + j] += x * row[j];
        }
      for (int a = 0; a < P; ++a)
        if (!valid[static_cast<size_t>(a)]) std::fill_n(&ov[static_cast<size_t>(a) * d], d, 0.f);
      to_classes(ov, P, d, u, C, Cmax, &tok[static_cast<size_t>(P) * P]);
      in.heads.insert(in.heads.end(), tok.begin(), tok.end());
      in.head_layer.push_back(l);
    }
    // MLP: one feature vector per hidden unit (read through R, its bias, write through Wu).
    const std::vector<float> r2 = residual_grid(m, spec, ln(m, p + "ln2.weight"), ln(m, p + "ln2.bias"), valid);
    const Tensor& fc = w(m, p + "mlp.fc.weight");      // (d, f)
    const Tensor& fc_b = w(m, p + "mlp.fc.bias");      // (f)
    const Tensor& proj = w(m, p + "mlp.proj.weight");  // (f, d)
    const std::vector<float> read = project(r2, P, d, fc, &fc_b, 0, f);  // (P, f)
    std::vector<float> write(static_cast<size_t>(f) * Cmax, 0.f);     // (f, Cmax)
    to_classes(proj.data, f, d, u, C, Cmax, write.data());
    for (int j = 0; j < f; ++j) {
      std::vector<float> tok(static_cast<size_t>(spec.neuron_features()), 0.f);
      for (int a = 0; a < P; ++a)
        if (valid[static_cast<size_t>(a)]) tok[static_cast<size_t>(a)] = read[static_cast<size_t>(a) * f + j];
      tok[static_cast<size_t>(P)] = fc_b.data[static_cast<size_t>(j)];
      std::copy_n(&write[static_cast<size_t>(j) * Cmax], Cmax, &tok[static_cast<size_t>(P) + 1]);
      in.neurons.insert(in.neurons.end(), tok.begin(), tok.end());
      in.neuron_layer.push_back(l);
    }
  }
  in.class_values.assign(static_cast<size_t>(Cmax), 0);
  for (int k = 0; k < C; ++k) in.class_values[static_cast<size_t>(k)] = static_cast<int16_t>(value_id(m.classes[static_cast<size_t>(k)]));
  // The direct path: embeddings through the final LayerNorm straight into the head.
  const std::vector<float> rf = residual_grid(m, spec, ln(m, "ln_f.weight"), ln(m, "ln_f.bias"), valid);
  in.direct.assign(static_cast<size_t>(spec.direct_features()), 0.f);
  const Tensor& head = w(m, "head.weight");
  const Tensor& head_b = w(m, "head.bias");
  const std::vector<float> logits = project(rf, P, d, head, &head_b, 0, C);  // (P, C)
  for (int a = 0; a < P; ++a)
    if (valid[static_cast<size_t>(a)])
      std::copy_n(&logits[static_cast<size_t>(a) * C], C, &in.direct[static_cast<size_t>(a) * Cmax]);
  return in;
}

int value_id(const Value& v) {
  if (v.is_none()) return 1;
  const double x = v.as_double();
  if (std::isnan(x)) return 1;
  if (x == std::floor(x)) {
    if (x < -64) return 260;
    if (x > 64) return 261;
    return 2 + static_cast<int>(x) + 64;
  }
  const double q = std::clamp(std::round(4 * x), -64.0, 64.0);
  return 131 + static_cast<int>(q) + 64;
}

std::vector<Input> probe_inputs(const InputDomain& domain) { return domain.evaluation_set(kProbeInputs, kProbeSeed); }

FunctionalInput functional_input(const SubjectModel& m, const FeatureSpec& spec, bool internals) {
  spec.check_fits(m);
  const std::vector<Input> inputs = probe_inputs(m.domain);
  const int L = m.arch.n_layers, H = m.arch.n_heads, F = m.arch.d_mlp(), C = m.arch.n_classes, Cmax = spec.classes;
  const int P = spec.pairs(), W = spec.max_len;
  FunctionalInput out;
  BehaviourInput& b = out.behaviour;
  b.n = static_cast<int>(inputs.size());
  b.io.assign(static_cast<size_t>(b.n) * 2 * W, 0);
  // Running sums: attention by (layer, head, query pair, key pair); activations by (layer, unit, pair) and
  // by (layer, unit, class).
  std::vector<double> a_sum, a_sq, a_n, u_sum, u_sq, u_n, c_sum, c_n;
  if (internals) {
    a_sum.assign(static_cast<size_t>(L) * H * P * P, 0.0), a_sq = a_sum, a_n.assign(static_cast<size_t>(P) * P, 0.0);
    u_sum.assign(static_cast<size_t>(L) * F * P, 0.0), u_sq = u_sum, u_n.assign(static_cast<size_t>(P), 0.0);
    c_sum.assign(static_cast<size_t>(L) * F * Cmax, 0.0), c_n.assign(static_cast<size_t>(Cmax), 0.0);
  }
  for (size_t x = 0; x < inputs.size(); ++x) {
    const std::vector<int64_t> ids = m.encode(inputs[x]);
    const int n = static_cast<int>(ids.size());
    const SubjectTrace t = internals ? subject_trace(m, inputs[x]) : SubjectTrace{subject_logits(m, inputs[x]), {}, {}};
    std::vector<int> cls(static_cast<size_t>(n)), pair(static_cast<size_t>(n));
    for (int r = 0; r < n; ++r) {
      const float* row = &t.logits[static_cast<size_t>(r) * C];
      cls[static_cast<size_t>(r)] = static_cast<int>(std::max_element(row, row + C) - row);
      pair[static_cast<size_t>(r)] = static_cast<int>(ids[static_cast<size_t>(r)]) * W + r;
      b.io[x * 2 * W + static_cast<size_t>(r)] = static_cast<int16_t>(ids[static_cast<size_t>(r)]);
      b.io[x * 2 * W + static_cast<size_t>(W + r)] = static_cast<int16_t>(value_id(m.classes[static_cast<size_t>(cls[static_cast<size_t>(r)])]));
    }
    if (!internals) continue;
    for (int q = 0; q < n; ++q) {
      const size_t pq = static_cast<size_t>(pair[static_cast<size_t>(q)]);
      u_n[pq] += 1;
      c_n[static_cast<size_t>(cls[static_cast<size_t>(q)])] += 1;
      for (int k = 0; k < n; ++k) a_n[pq * P + static_cast<size_t>(pair[static_cast<size_t>(k)])] += 1;
    }
    for (int l = 0; l < L; ++l) {
      for (int h = 0; h < H; ++h) {
        const float* att = &t.attention[(static_cast<size_t>(l) * H + h) * n * n];
        double* s = &a_sum[(static_cast<size_t>(l) * H + h) * P * P];
        double* s2 = &a_sq[(static_cast<size_t>(l) * H + h) * P * P];
        for (int q = 0; q < n; ++q)
          for (int k = 0; k < n; ++k) {
            const double v = att[static_cast<size_t>(q) * n + k];
            const size_t cell = static_cast<size_t>(pair[static_cast<size_t>(q)]) * P + static_cast<size_t>(pair[static_cast<size_t>(k)]);
            s[cell] += v;
            s2[cell] += v * v;
          }
      }
      const float* act = &t.mlp[static_cast<size_t>(l) * n * F];
      for (int q = 0; q < n; ++q)
        for (int j = 0; j < F; ++j) {
          const double v = act[static_cast<size_t>(q) * F + j];
          const size_t unit = static_cast<size_t>(l) * F + static_cast<size_t>(j);
          u_sum[unit * P + static_cast<size_t>(pair[static_cast<size_t>(q)])] += v;
          u_sq[unit * P + static_cast<size_t>(pair[static_cast<size_t>(q)])] += v * v;
          c_sum[unit * Cmax + static_cast<size_t>(cls[static_cast<size_t>(q)])] += v;
        }
    }
  }
  if (!internals) return out;
  auto mean_sd = [](double s, double s2, double n, float& mean, float& sd) {
    if (n <= 0) {
      mean = sd = 0;
      return;
    }
    const double m = s / n;
    mean = static_cast<float>(m);
    sd = static_cast<float>(std::sqrt(std::max(0.0, s2 / n - m * m)));
  };
  InvariantInput& in = out.internals;
  in.n_layers = L;
  const size_t hf = static_cast<size_t>(spec.probe_head_features()), nf = static_cast<size_t>(spec.probe_neuron_features());
  for (int l = 0; l < L; ++l) {
    for (int h = 0; h < H; ++h) {
      std::vector<float> tok(hf, 0.f);
      const size_t base = (static_cast<size_t>(l) * H + h) * P * P;
      for (size_t cell = 0; cell < static_cast<size_t>(P) * P; ++cell)
        mean_sd(a_sum[base + cell], a_sq[base + cell], a_n[cell], tok[cell], tok[static_cast<size_t>(P) * P + cell]);
      in.heads.insert(in.heads.end(), tok.begin(), tok.end());
      in.head_layer.push_back(l);
    }
    for (int j = 0; j < F; ++j) {
      std::vector<float> tok(nf, 0.f);
      const size_t unit = static_cast<size_t>(l) * F + static_cast<size_t>(j);
      for (size_t a = 0; a < static_cast<size_t>(P); ++a)
        mean_sd(u_sum[unit * P + a], u_sq[unit * P + a], u_n[a], tok[a], tok[static_cast<size_t>(P) + a]);
      for (size_t c = 0; c < static_cast<size_t>(Cmax); ++c)
        tok[2 * static_cast<size_t>(P) + c] = c_n[c] > 0 ? static_cast<float>(c_sum[unit * Cmax + c] / c_n[c]) : 0.f;
      in.neurons.insert(in.neurons.end(), tok.begin(), tok.end());
      in.neuron_layer.push_back(l);
    }
  }
  return out;
}

BehaviourInput program_behaviour(const Program& program, const InputDomain& domain, const FeatureSpec& spec) {
  const int vocab = static_cast<int>(domain.value_max - domain.value_min + 2);  // as the subject's (PAD first)
  if (vocab > spec.vocab || domain.len_max > spec.max_len)
    throw Error("the domain " + domain.describe() + " does not fit this mapper (" + std::to_string(spec.vocab) +
                " input ids, " + std::to_string(spec.max_len) + " positions)");
  const std::vector<Input> inputs = probe_inputs(domain);
  const size_t W = static_cast<size_t>(spec.max_len);
  BehaviourInput b;
  b.n = static_cast<int>(inputs.size());
  b.io.assign(inputs.size() * 2 * W, 0);
  for (size_t x = 0; x < inputs.size(); ++x) {
    std::vector<Value> out;
    try {
      out = program.evaluate(inputs[x]);
    } catch (const EvalError&) {
      out.assign(inputs[x].size(), Value{});  // None where it raises
    }
    for (size_t r = 0; r < inputs[x].size(); ++r) {
      b.io[x * 2 * W + r] = static_cast<int16_t>(1 + (inputs[x][r] - domain.value_min));  // SubjectModel::encode
      b.io[x * 2 * W + W + r] = static_cast<int16_t>(value_id(out[r]));
    }
  }
  return b;
}

}  // namespace mm
