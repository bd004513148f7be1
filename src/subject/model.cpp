// SubjectModel: file conversion and the reference forward pass (plain loops, float32 like the trainer).
#include "subject/model.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace mm {

namespace {

nlohmann::json value_json(const Value& v) {
  if (v.is_none()) return nullptr;
  if (v.kind == Value::Kind::Int) return v.i;
  return v.f;
}

const Tensor& weight(const SubjectModel& m, const std::string& name) { return m.weights.at(name); }

// y (n, out) = x (n, in) W (in, out) + b
void linear(const std::vector<float>& x, int n, int in, const Tensor& w, const Tensor& b, std::vector<float>& y) {
  const int out = static_cast<int>(w.shape[1]);
  y.assign(static_cast<size_t>(n) * out, 0.f);
  for (int r = 0; r < n; ++r) {
    float* yr = &y[static_cast<size_t>(r) * out];
    for (int o = 0; o < out; ++o) yr[o] = b.data[static_cast<size_t>(o)];
    for (int i = 0; i < in; ++i) {
      const float xi = x[static_cast<size_t>(r) * in + i];
      const float* wi = &w.data[static_cast<size_t>(i) * out];
      for (int o = 0; o < out; ++o) yr[o] += xi * wi[o];
    }
  }
}

void layer_norm(const std::vector<float>& x, int n, int d, const Tensor& g, const Tensor& b, std::vector<float>& y) {
  y.resize(x.size());
  for (int r = 0; r < n; ++r) {
    const float* xr = &x[static_cast<size_t>(r) * d];
    double mean = 0, var = 0;
    for (int i = 0; i < d; ++i) mean += xr[i];
    mean /= d;
    for (int i = 0; i < d; ++i) var += (xr[i] - mean) * (xr[i] - mean);
    var /= d;
    const double inv = 1.0 / std::sqrt(var + 1e-5);
    for (int i = 0; i < d; ++i)
      y[static_cast<size_t>(r) * d + i] = static_cast<float>((xr[i] - mean) * inv) * g.data[static_cast<size_t>(i)] +
                                          b.data[static_cast<size_t>(i)];
  }
}

}  // namespace

std::vector<int64_t> SubjectModel::encode(std::span<const int64_t> input) const {
  if (const std::string why = domain.why_not_contained(input); !why.empty())
    throw Error("input outside the model's domain (" + domain.describe() + "): " + why);
  std::vector<int64_t> ids(input.size());
  for (size_t k = 0; k < input.size(); ++k) ids[k] = 1 + (input[k] - domain.value_min);
  return ids;
}

SafeTensors subject_to_safetensors(const SubjectModel& m) {
  SafeTensors st;
  st.tensors = m.weights;
  st.metadata = m.info;
  nlohmann::json classes = nlohmann::json::array();
  for (const Value& v : m.classes) classes.push_back(value_json(v));
  st.metadata["format"] = kSubjectFormat;
  st.metadata["format_version"] = std::to_string(kSubjectFormatVersion);
  st.metadata["architecture"] = m.arch.to_json();
  st.metadata["classes"] = classes.dump();
  st.metadata["domain"] = nlohmann::json({{"value_min", m.domain.value_min}, {"value_max", m.domain.value_max},
                                          {"len_min", m.domain.len_min}, {"len_max", m.domain.len_max}})
                              .dump();
  st.metadata["language"] = m.language;
  st.metadata["program"] = m.program;
  return st;
}

SubjectModel subject_from_safetensors(const SafeTensors& st, const std::string& what) {
  auto meta = [&](const char* key) -> const std::string& {
    auto it = st.metadata.find(key);
    if (it == st.metadata.end()) throw Error(what + ": not a modelmap subject model (no '" + key + "' in its metadata)");
    return it->second;
  };
  if (meta("format") != kSubjectFormat)
    throw Error(what + ": not a modelmap subject model (format '" + meta("format") + "')");
  if (meta("format_version") != std::to_string(kSubjectFormatVersion))
    throw Error(what + ": subject model format version " + meta("format_version") + ", but this modelmap reads " +
                std::to_string(kSubjectFormatVersion) + "; rebuild the model or use a matching modelmap");
  SubjectModel m;
  m.arch = SubjectArch::from_json(meta("architecture"), what);
  const auto classes = nlohmann::json::parse(meta("classes"), nullptr, false);
  if (classes.is_discarded() || !classes.is_array()) throw Error(what + ": 'classes' is not a JSON array");
  for (const auto& c : classes) {
    if (c.is_null()) m.classes.push_back(Value::none());
    else if (c.is_number_integer()) m.classes.push_back(Value::of_int(c.get<int64_t>()));
    else if (c.is_number_float()) m.classes.push_back(Value::of_float(c.get<double>()));
    else throw Error(what + ": a class value is not a number or null");
  }
  if (static_cast<int>(m.classes.size()) != m.arch.n_classes)
    throw Error(what + ": " + std::to_string(m.classes.size()) + " classes listed for a head of " +
                std::to_string(m.arch.n_classes));
  const auto dom = nlohmann::json::parse(meta("domain"), nullptr, false);
  try {
    if (dom.is_discarded()) throw Error("not JSON");
    m.domain.value_min = dom.at("value_min").get<int64_t>();
    m.domain.value_max = dom.at("value_max").get<int64_t>();
    m.domain.len_min = dom.at("len_min").get<int>();
    m.domain.len_max = dom.at("len_max").get<int>();
    m.domain.validate();
  } catch (const std::exception& e) {
    throw Error(what + ": invalid 'domain' metadata: " + e.what());
  }
  if (m.arch.vocab != m.domain.value_max - m.domain.value_min + 2 || m.arch.max_len < m.domain.len_max)
    throw Error(what + ": the architecture's vocabulary or length does not fit its domain");
  m.language = meta("language");
  m.program = meta("program");
  for (const auto& p : param_specs(m.arch)) {
    auto it = st.tensors.find(p.name);
    if (it == st.tensors.end()) throw Error(what + ": missing parameter '" + p.name + "'");
    if (it->second.shape != p.shape) throw Error(what + ": parameter '" + p.name + "' has the wrong shape");
    m.weights[p.name] = it->second;
  }
  for (const auto& [k, v] : st.metadata)
    if (k != "format" && k != "format_version" && k != "architecture" && k != "classes" && k != "domain" &&
        k != "language" && k != "program")
      m.info[k] = v;
  return m;
}

namespace {

// One head's unmasked softmax attention for every query row of qkv (rows, 3 * width-of-all-heads): the
// output columns [head * dh, (head + 1) * dh) of att (rows, H * dh); the probabilities (rows, rows) into
// `probs` where it is not null.
void attend(const std::vector<float>& qkv, int rows, int H, int dh, int head, float scale, std::vector<float>& att,
            float* probs = nullptr) {
  const int w = H * dh;
  std::vector<float> s(static_cast<size_t>(rows));
  for (int q = 0; q < rows; ++q) {
    float mx = -INFINITY;
    for (int k = 0; k < rows; ++k) {
      float dot = 0;
      for (int i = 0; i < dh; ++i)
        dot += qkv[static_cast<size_t>(q) * 3 * w + head * dh + i] * qkv[static_cast<size_t>(k) * 3 * w + w + head * dh + i];
      s[static_cast<size_t>(k)] = dot * scale;
      mx = std::max(mx, s[static_cast<size_t>(k)]);
    }
    float z = 0;
    for (int k = 0; k < rows; ++k) z += (s[static_cast<size_t>(k)] = std::exp(s[static_cast<size_t>(k)] - mx));
    if (probs)
      for (int k = 0; k < rows; ++k) probs[static_cast<size_t>(q) * rows + k] = s[static_cast<size_t>(k)] / z;
    for (int i = 0; i < dh; ++i) {
      float acc = 0;
      for (int k = 0; k < rows; ++k) acc += s[static_cast<size_t>(k)] * qkv[static_cast<size_t>(k) * 3 * w + 2 * w + head * dh + i];
      att[static_cast<size_t>(q) * w + head * dh + i] = acc / z;
    }
  }
}

// A compiled model's residual stream (BOS dropped); each head's attention (rows with BOS) into `attn`
// where it is not null: (layers, heads, n + 1, n + 1); each MLP's hidden activations (BOS dropped) into
// `mlp` where it is not null: (layers, n, d_mlp).
std::vector<float> compiled_forward(const SubjectModel& m, std::span<const int64_t> input, std::vector<float>* attn,
                                    std::vector<float>* mlp = nullptr) {
  const SubjectArch& a = m.arch;
  const std::vector<int64_t> ids = m.encode(input);
  const int n = static_cast<int>(ids.size()), rows = n + 1, d = a.d_model, H = a.n_heads, dh = a.d_head();
  if (n > a.max_len) throw Error("input longer than the model's " + std::to_string(a.max_len) + " positions");
  const Tensor& tok = weight(m, "embed.tokens");
  const Tensor& pos = weight(m, "embed.positions");
  const Tensor& bos = weight(m, "embed.bos");
  std::vector<float> x(static_cast<size_t>(rows) * d), qkv, att(static_cast<size_t>(rows) * H * dh), y, f;  // row 0: BOS
  if (attn) attn->assign(static_cast<size_t>(a.n_layers) * H * rows * rows, 0.0f);
  if (mlp) mlp->clear();
  for (int i = 0; i < d; ++i) x[static_cast<size_t>(i)] = bos.data[static_cast<size_t>(i)];
  for (int r = 0; r < n; ++r)
    for (int i = 0; i < d; ++i)
      x[static_cast<size_t>(r + 1) * d + i] = tok.data[static_cast<size_t>(ids[static_cast<size_t>(r)]) * d + i] +
                                              pos.data[static_cast<size_t>(r) * d + i];
  for (int l = 0; l < a.n_layers; ++l) {
    const std::string p = "blocks." + std::to_string(l) + ".";
    linear(x, rows, d, weight(m, p + "attn.qkv.weight"), weight(m, p + "attn.qkv.bias"), qkv);  // (rows, 3 H dh)
    for (int head = 0; head < H; ++head)
      attend(qkv, rows, H, dh, head, 1.0f, att,
             attn ? attn->data() + (static_cast<size_t>(l) * H + head) * rows * rows : nullptr);
    linear(att, rows, H * dh, weight(m, p + "attn.out.weight"), weight(m, p + "attn.out.bias"), y);
    for (size_t i = 0; i < x.size(); ++i) x[i] += y[i];
    linear(x, rows, d, weight(m, p + "mlp.fc.weight"), weight(m, p + "mlp.fc.bias"), f);  // (rows, f)
    for (float& v : f) v = std::max(v, 0.0f);
    if (mlp) mlp->insert(mlp->end(), f.begin() + a.d_mlp(), f.end());
    linear(f, rows, a.d_mlp(), weight(m, p + "mlp.proj.weight"), weight(m, p + "mlp.proj.bias"), y);
    for (size_t i = 0; i < x.size(); ++i) x[i] += y[i];
  }
  x.erase(x.begin(), x.begin() + d);  // drop BOS
  return x;
}

// A trained model's logits; each head's attention into `attn` where it is not null: (layers, heads, n, n);
// each MLP's hidden activations (after GELU) into `mlp` where it is not null: (layers, n, d_mlp).
std::vector<float> trained_forward(const SubjectModel& m, std::span<const int64_t> input, std::vector<float>* attn,
                                   std::vector<float>* mlp = nullptr) {
  const SubjectArch& a = m.arch;
  const std::vector<int64_t> ids = m.encode(input);
  const int n = static_cast<int>(ids.size()), d = a.d_model, h = a.n_heads, dh = a.d_head();
  if (n > a.max_len) throw Error("input longer than the model's " + std::to_string(a.max_len) + " positions");
  const Tensor& tok = weight(m, "embed.tokens");
  const Tensor& pos = weight(m, "embed.positions");
  std::vector<float> x(static_cast<size_t>(n) * d), t, qkv, att(static_cast<size_t>(n) * d), y, f;
  if (attn) attn->assign(static_cast<size_t>(a.n_layers) * h * n * n, 0.0f);
  if (mlp) mlp->clear();
  for (int r = 0; r < n; ++r)
    for (int i = 0; i < d; ++i)
      x[static_cast<size_t>(r) * d + i] = tok.data[static_cast<size_t>(ids[static_cast<size_t>(r)]) * d + i] +
                                          pos.data[static_cast<size_t>(r) * d + i];
  const float scale = 1.0f / std::sqrt(static_cast<float>(dh));
  for (int l = 0; l < a.n_layers; ++l) {
    const std::string p = "blocks." + std::to_string(l) + ".";
    layer_norm(x, n, d, weight(m, p + "ln1.weight"), weight(m, p + "ln1.bias"), t);
    linear(t, n, d, weight(m, p + "attn.qkv.weight"), weight(m, p + "attn.qkv.bias"), qkv);  // (n, 3d)
    for (int head = 0; head < h; ++head)
      attend(qkv, n, h, dh, head, scale, att, attn ? attn->data() + (static_cast<size_t>(l) * h + head) * n * n : nullptr);
    linear(att, n, d, weight(m, p + "attn.out.weight"), weight(m, p + "attn.out.bias"), y);
    for (size_t i = 0; i < x.size(); ++i) x[i] += y[i];
    layer_norm(x, n, d, weight(m, p + "ln2.weight"), weight(m, p + "ln2.bias"), t);
    linear(t, n, d, weight(m, p + "mlp.fc.weight"), weight(m, p + "mlp.fc.bias"), f);
    for (float& v : f) v = 0.5f * v * (1.0f + std::erf(v / std::sqrt(2.0f)));  // exact GELU
    if (mlp) mlp->insert(mlp->end(), f.begin(), f.end());
    linear(f, n, a.d_mlp(), weight(m, p + "mlp.proj.weight"), weight(m, p + "mlp.proj.bias"), y);
    for (size_t i = 0; i < x.size(); ++i) x[i] += y[i];
  }
  layer_norm(x, n, d, weight(m, "ln_f.weight"), weight(m, "ln_f.bias"), t);
  std::vector<float> logits;
  linear(t, n, d, weight(m, "head.weight"), weight(m, "head.bias"), logits);
  return logits;
}

// A compiled model's attention (layers, heads, n + 1, n + 1) with BOS dropped from both sides: what each
// position gives the real positions (the rest went to BOS).
std::vector<float> drop_bos(const SubjectArch& a, const std::vector<float>& attn, size_t n) {
  const size_t rows = n + 1, heads = static_cast<size_t>(a.n_layers) * a.n_heads;
  std::vector<float> out(heads * n * n);
  for (size_t h = 0; h < heads; ++h)
    for (size_t q = 0; q < n; ++q)
      for (size_t k = 0; k < n; ++k) out[(h * n + q) * n + k] = attn[(h * rows + q + 1) * rows + k + 1];
  return out;
}

}  // namespace

std::vector<float> subject_residual(const SubjectModel& m, std::span<const int64_t> input) {
  if (!m.arch.compiled()) throw Error("subject_residual reads compiled models only");
  return compiled_forward(m, input, nullptr);
}

std::vector<float> subject_logits(const SubjectModel& m, std::span<const int64_t> input) {
  const SubjectArch& a = m.arch;
  if (!a.compiled()) return trained_forward(m, input, nullptr);
  const std::vector<float> x = compiled_forward(m, input, nullptr);
  std::vector<float> logits;
  linear(x, static_cast<int>(input.size()), a.d_model, weight(m, "head.weight"), weight(m, "head.bias"), logits);
  return logits;
}

std::vector<float> subject_attention(const SubjectModel& m, std::span<const int64_t> input) {
  std::vector<float> attn;
  if (!m.arch.compiled()) {
    trained_forward(m, input, &attn);
    return attn;
  }
  compiled_forward(m, input, &attn);
  return drop_bos(m.arch, attn, input.size());
}

SubjectTrace subject_trace(const SubjectModel& m, std::span<const int64_t> input) {
  const SubjectArch& a = m.arch;
  SubjectTrace t;
  if (!a.compiled()) {
    t.logits = trained_forward(m, input, &t.attention, &t.mlp);
    return t;
  }
  const std::vector<float> x = compiled_forward(m, input, &t.attention, &t.mlp);
  linear(x, static_cast<int>(input.size()), a.d_model, weight(m, "head.weight"), weight(m, "head.bias"), t.logits);
  t.attention = drop_bos(a, t.attention, input.size());
  return t;
}

std::vector<Value> subject_predict(const SubjectModel& m, std::span<const int64_t> input) {
  return predict_from_logits(m, subject_logits(m, input));
}

std::vector<Value> predict_from_logits(const SubjectModel& m, const std::vector<float>& logits) {
  const int c = m.arch.n_classes;
  std::vector<Value> out(logits.size() / static_cast<size_t>(c));
  for (size_t r = 0; r < out.size(); ++r) {
    const float* row = &logits[r * static_cast<size_t>(c)];
    out[r] = m.classes[static_cast<size_t>(std::max_element(row, row + c) - row)];
  }
  return out;
}

Accuracy subject_accuracy(const SubjectModel& m, const std::vector<Input>& inputs,
                          const std::vector<std::vector<Value>>& expected) {
  int64_t positions = 0, right = 0, sequences_right = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto y = subject_predict(m, inputs[i]);
    bool all = true;
    for (size_t k = 0; k < y.size(); ++k) {
      const bool ok = value_key(y[k]) == value_key(expected[i][k]);
      right += ok;
      all &= ok;
      ++positions;
    }
    sequences_right += all;
  }
  return {positions ? static_cast<double>(right) / static_cast<double>(positions) : 0,
          inputs.empty() ? 0 : static_cast<double>(sequences_right) / static_cast<double>(inputs.size())};
}

}  // namespace mm
