// The fast CPU trainer: layout, the packed forward and backward pass, AdamW, and the slot bookkeeping
// that train_loop.h drives. Shapes: N packed rows, d width, H heads of dh, F MLP width, C classes (Cp
// padded).
#include "subject/fast_trainer.h"

#include <algorithm>
#include <cmath>
#include <thread>

#include "core/error.h"
#include "core/parallel.h"
#include "subject/kernels.h"

namespace mm {

namespace {

using Clock = std::chrono::steady_clock;


int64_t numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

}  // namespace

FastLayout::FastLayout(const SubjectArch& a) : arch(a) {
  if (a.compiled()) throw std::logic_error("FastLayout: compiled blocks are not trained");
  cp = (a.n_classes + 7) / 8 * 8;
  specs = param_specs(a);
  layers.resize(static_cast<size_t>(a.n_layers));
  for (const ParamSpec& p : specs) {
    offsets.push_back(total);
    const bool head = p.name.rfind("head.", 0) == 0;
    size_t n = static_cast<size_t>(numel(p.shape));
    if (head) n = n / static_cast<size_t>(a.n_classes) * static_cast<size_t>(cp);
    decay.insert(decay.end(), n, p.shape.size() >= 2 ? 1.0f : 0.0f);
    const std::string& s = p.name;
    if (s == "embed.tokens") tok = total;
    else if (s == "embed.positions") pos = total;
    else if (s == "ln_f.weight") lnfg = total;
    else if (s == "ln_f.bias") lnfb = total;
    else if (s == "head.weight") whead = total;
    else if (s == "head.bias") bhead = total;
    else {
      const size_t dot = s.find('.', 7);  // "blocks.<l>.<rest>"
      Layer& L = layers[static_cast<size_t>(std::stoi(s.substr(7, dot - 7)))];
      const std::string rest = s.substr(dot + 1);
      size_t* slot = rest == "ln1.weight"        ? &L.ln1g
                     : rest == "ln1.bias"        ? &L.ln1b
                     : rest == "attn.qkv.weight" ? &L.wqkv
                     : rest == "attn.qkv.bias"   ? &L.bqkv
                     : rest == "attn.out.weight" ? &L.wout
                     : rest == "attn.out.bias"   ? &L.bout
                     : rest == "ln2.weight"      ? &L.ln2g
                     : rest == "ln2.bias"        ? &L.ln2b
                     : rest == "mlp.fc.weight"   ? &L.wfc
                     : rest == "mlp.fc.bias"     ? &L.bfc
                     : rest == "mlp.proj.weight" ? &L.wproj
                     : rest == "mlp.proj.bias"   ? &L.bproj
                                                 : nullptr;
      if (!slot) throw std::logic_error("FastLayout: unknown parameter " + s);
      *slot = total;
    }
    total += n;
  }
}

std::vector<float> pack_weights(const FastLayout& lay, const std::map<std::string, Tensor>& weights) {
  std::vector<float> w(lay.total, 0.0f);
  const int c = lay.arch.n_classes;
  for (size_t i = 0; i < lay.specs.size(); ++i) {
    const std::vector<float>& src = weights.at(lay.specs[i].name).data;
    float* dst = &w[lay.offsets[i]];
    if (lay.specs[i].name.rfind("head.", 0) == 0) {
      const size_t rows = src.size() / static_cast<size_t>(c);
      for (size_t r = 0; r < rows; ++r)
        std::copy_n(&src[r * static_cast<size_t>(c)], c, dst + r * static_cast<size_t>(lay.cp));
    } else {
      std::copy(src.begin(), src.end(), dst);
    }
  }
  return w;
}

std::map<std::string, Tensor> unpack_weights(const FastLayout& lay, const std::vector<float>& w) {
  std::map<std::string, Tensor> out;
  const int c = lay.arch.n_classes;
  for (size_t i = 0; i < lay.specs.size(); ++i) {
    Tensor& t = out[lay.specs[i].name];
    t.shape = lay.specs[i].shape;
    const size_t n = static_cast<size_t>(numel(t.shape));
    const float* src = &w[lay.offsets[i]];
    if (lay.specs[i].name.rfind("head.", 0) == 0) {
      const size_t rows = n / static_cast<size_t>(c);
      for (size_t r = 0; r < rows; ++r)
        t.data.insert(t.data.end(), src + r * static_cast<size_t>(lay.cp), src + r * static_cast<size_t>(lay.cp) + c);
    } else {
      t.data.assign(src, src + n);
    }
  }
  return out;
}

void PackedBatch::add(const InputDomain& domain, const Input& x, const int32_t* targets) {
  start.push_back(rows());
  len.push_back(static_cast<int>(x.size()));
  for (size_t k = 0; k < x.size(); ++k) {
    id.push_back(static_cast<int32_t>(1 + x[k] - domain.value_min));
    pos.push_back(static_cast<int32_t>(k));
    target.push_back(targets ? targets[k] : -1);
  }
}

// ---------------------------------------------------------------------------------------------------------
// The pass

struct FastPass {
  struct LayerActs {
    std::vector<float> xhat1, rstd1, h1, qkv, att, o, xhat2, rstd2, h2, f, dgelu;
  };
  std::vector<LayerActs> layers;
  std::vector<float> x, xhatf, rstdf, hf, logits;
  std::vector<size_t> att_off;  // per input: offset of its H x len x len probabilities in att
  // backward scratch
  std::vector<float> dlogits, dx, dh, dqkv, dob, df, wt;

  void forward(const FastLayout& lay, const float* w, const PackedBatch& b);
  void backward(const FastLayout& lay, const float* w, const PackedBatch& b, float* g);
};

namespace {

// x . y over a head's width: a compile-time DH (0 = the runtime dh) lets the compiler keep it in registers.
template <int DH>
inline float head_dot(const float* x, const float* y, int dh) {
  if constexpr (DH == 0) {
    return kern::dot(x, y, dh);
  } else {
    float acc[DH];
    for (int e = 0; e < DH; ++e) acc[e] = x[e] * y[e];
    for (int w = DH / 2; w >= 1; w /= 2)
      for (int e = 0; e < w; ++e) acc[e] += acc[e + w];
    return acc[0];
  }
}

// y[0..n) += a x[0..n), n = DH (or dh where DH is 0); restrict lets the compiler vectorise it.
template <int DH>
inline void axpy(float a, const float* __restrict x, float* __restrict y, int dh) {
  const int n = DH ? DH : dh;
  for (int e = 0; e < n; ++e) y[e] += a * x[e];
}

// Scores of every input's heads first, one vectorised exp over all of them, then the outputs.
template <int DH>
void attention_forward_t(const PackedBatch& b, int d, int H, const float* qkv, float* att, const std::vector<size_t>& off,
                         float* o) {
  const int dh = DH ? DH : d / H, w3 = 3 * d;
  const float scale = 1.0f / std::sqrt(static_cast<float>(dh));
  size_t total = 0;
  for (size_t s = 0; s < b.start.size(); ++s) {
    const int r0 = b.start[s], L = b.len[s];
    for (int h = 0; h < H; ++h) {
      float* P = att + off[s] + static_cast<size_t>(h) * L * L;
      for (int i = 0; i < L; ++i) {
        const float* q = qkv + static_cast<ptrdiff_t>(r0 + i) * w3 + h * dh;
        float* p = P + i * L;
        float mx = -INFINITY;
        for (int j = 0; j < L; ++j) {
          p[j] = head_dot<DH>(q, qkv + static_cast<ptrdiff_t>(r0 + j) * w3 + d + h * dh, dh) * scale;
          mx = std::max(mx, p[j]);
        }
        for (int j = 0; j < L; ++j) p[j] -= mx;
      }
    }
    total = off[s] + static_cast<size_t>(H) * L * L;
  }
  kern::exp_nonpositive(total, att);
  for (size_t s = 0; s < b.start.size(); ++s) {
    const int r0 = b.start[s], L = b.len[s];
    for (int h = 0; h < H; ++h) {
      float* P = att + off[s] + static_cast<size_t>(h) * L * L;
      for (int i = 0; i < L; ++i) {
        float* p = P + i * L;
        float z = 0;
        for (int j = 0; j < L; ++j) z += p[j];
        const float inv = 1.0f / z;
        float out[DH ? DH : 1];
        float* acc = o + static_cast<ptrdiff_t>(r0 + i) * d + h * dh;
        if constexpr (DH != 0) acc = out;
        for (int e = 0; e < dh; ++e) acc[e] = 0;
        for (int j = 0; j < L; ++j) {
          p[j] *= inv;
          axpy<DH>(p[j], qkv + static_cast<ptrdiff_t>(r0 + j) * w3 + 2 * d + h * dh, acc, dh);
        }
        if constexpr (DH != 0) std::copy_n(out, DH, o + static_cast<ptrdiff_t>(r0 + i) * d + h * dh);
      }
    }
  }
}

// dqkv (zeroed by the caller) from dO.
template <int DH>
void attention_backward_t(const PackedBatch& b, int d, int H, const float* qkv, const float* att,
                          const std::vector<size_t>& off, const float* dO, float* dqkv) {
  const int dh = DH ? DH : d / H, w3 = 3 * d;
  const float scale = 1.0f / std::sqrt(static_cast<float>(dh));
  float dp[4096];  // max_len <= 4096 (SubjectArch::validate)
  for (size_t s = 0; s < b.start.size(); ++s) {
    const int r0 = b.start[s], L = b.len[s];
    for (int h = 0; h < H; ++h) {
      const float* P = att + off[s] + static_cast<size_t>(h) * L * L;
      for (int i = 0; i < L; ++i) {
        const float* p = P + i * L;
        const float* doi = dO + static_cast<ptrdiff_t>(r0 + i) * d + h * dh;
        const float* qi = qkv + static_cast<ptrdiff_t>(r0 + i) * w3 + h * dh;
        float* dqi = dqkv + static_cast<ptrdiff_t>(r0 + i) * w3 + h * dh;
        float sum = 0;
        for (int j = 0; j < L; ++j) {
          dp[j] = head_dot<DH>(doi, qkv + static_cast<ptrdiff_t>(r0 + j) * w3 + 2 * d + h * dh, dh);
          sum += p[j] * dp[j];
        }
        for (int j = 0; j < L; ++j) {
          const float ds = p[j] * (dp[j] - sum) * scale;
          const ptrdiff_t rj = static_cast<ptrdiff_t>(r0 + j) * w3 + h * dh;
          axpy<DH>(ds, qkv + rj + d, dqi, dh);           // dq_i += ds k_j
          axpy<DH>(ds, qi, dqkv + rj + d, dh);           // dk_j += ds q_i
          axpy<DH>(p[j], doi, dqkv + rj + 2 * d, dh);    // dv_j += p dO_i
        }
      }
    }
  }
}

void attention_forward(const PackedBatch& b, int d, int H, const float* qkv, float* att, const std::vector<size_t>& off,
                       float* o) {
  switch (d / H) {
    case 8: attention_forward_t<8>(b, d, H, qkv, att, off, o); break;
    case 16: attention_forward_t<16>(b, d, H, qkv, att, off, o); break;
    case 32: attention_forward_t<32>(b, d, H, qkv, att, off, o); break;
    default: attention_forward_t<0>(b, d, H, qkv, att, off, o); break;
  }
}

void attention_backward(const PackedBatch& b, int d, int H, const float* qkv, const float* att,
                        const std::vector<size_t>& off, const float* dO, float* dqkv) {
  switch (d / H) {
    case 8: attention_backward_t<8>(b, d, H, qkv, att, off, dO, dqkv); break;
    case 16: attention_backward_t<16>(b, d, H, qkv, att, off, dO, dqkv); break;
    case 32: attention_backward_t<32>(b, d, H, qkv, att, off, dO, dqkv); break;
    default: attention_backward_t<0>(b, d, H, qkv, att, off, dO, dqkv); break;
  }
}

// rows of y (n x o) = bias, then y += x (n x k) W (k x o)
void linear(int n, int k, int o, const float* x, const float* W, const float* bias, float* y) {
  for (int r = 0; r < n; ++r) std::copy_n(bias, o, y + static_cast<ptrdiff_t>(r) * o);
  kern::gemm(n, k, o, x, k, 1, W, o, y, o, true);
}

// y (n x o) += x (n x k) W (k x o) + bias
void linear_add(int n, int k, int o, const float* x, const float* W, const float* bias, float* y) {
  kern::gemm(n, k, o, x, k, 1, W, o, y, o, true);
  for (int r = 0; r < n; ++r)
    for (int j = 0; j < o; ++j) y[static_cast<ptrdiff_t>(r) * o + j] += bias[j];
}

// Backward of y = x W + b for dy (n x o): dW = x^T dy, db = column sums of dy, dx = dy W^T (into dx,
// overwritten) when dx is given.
void linear_backward(int n, int k, int o, const float* x, const float* W, const float* dy, float* dW, float* db,
                     float* dx, std::vector<float>& wt) {
  kern::gemm(k, n, o, x, 1, k, dy, o, dW, o, false);
  kern::column_sums(n, o, dy, o, db);
  if (!dx) return;
  wt.resize(static_cast<size_t>(k) * o);
  kern::transpose(k, o, W, wt.data());  // (o x k)
  kern::gemm(n, o, k, dy, o, 1, wt.data(), k, dx, k, false);
}

}  // namespace

void FastPass::forward(const FastLayout& lay, const float* w, const PackedBatch& b) {
  const SubjectArch& a = lay.arch;
  const int N = b.rows(), d = a.d_model, H = a.n_heads, F = a.d_mlp(), Cp = lay.cp;
  const size_t Nd = static_cast<size_t>(N) * d;
  x.resize(Nd);
  for (int r = 0; r < N; ++r) {
    const float* t = w + lay.tok + static_cast<size_t>(b.id[static_cast<size_t>(r)]) * d;
    const float* p = w + lay.pos + static_cast<size_t>(b.pos[static_cast<size_t>(r)]) * d;
    float* xr = &x[static_cast<size_t>(r) * d];
    for (int i = 0; i < d; ++i) xr[i] = t[i] + p[i];
  }
  att_off.resize(b.start.size());
  size_t att_total = 0;
  for (size_t s = 0; s < b.start.size(); ++s) att_off[s] = att_total, att_total += static_cast<size_t>(H) * b.len[s] * b.len[s];
  layers.resize(lay.layers.size());
  for (size_t l = 0; l < lay.layers.size(); ++l) {
    const FastLayout::Layer& P = lay.layers[l];
    LayerActs& A = layers[l];
    A.xhat1.resize(Nd), A.rstd1.resize(static_cast<size_t>(N)), A.h1.resize(Nd), A.qkv.resize(3 * Nd);
    A.att.resize(att_total), A.o.resize(Nd), A.xhat2.resize(Nd), A.rstd2.resize(static_cast<size_t>(N)), A.h2.resize(Nd);
    A.f.resize(static_cast<size_t>(N) * F), A.dgelu.resize(static_cast<size_t>(N) * F);
    kern::layer_norm(N, d, x.data(), w + P.ln1g, w + P.ln1b, A.xhat1.data(), A.rstd1.data(), A.h1.data());
    linear(N, d, 3 * d, A.h1.data(), w + P.wqkv, w + P.bqkv, A.qkv.data());
    attention_forward(b, d, H, A.qkv.data(), A.att.data(), att_off, A.o.data());
    linear_add(N, d, d, A.o.data(), w + P.wout, w + P.bout, x.data());
    kern::layer_norm(N, d, x.data(), w + P.ln2g, w + P.ln2b, A.xhat2.data(), A.rstd2.data(), A.h2.data());
    linear(N, d, F, A.h2.data(), w + P.wfc, w + P.bfc, A.f.data());
    kern::gelu(A.f.size(), A.f.data(), A.f.data(), A.dgelu.data());
    linear_add(N, F, d, A.f.data(), w + P.wproj, w + P.bproj, x.data());
  }
  xhatf.resize(Nd), rstdf.resize(static_cast<size_t>(N)), hf.resize(Nd), logits.resize(static_cast<size_t>(N) * Cp);
  kern::layer_norm(N, d, x.data(), w + lay.lnfg, w + lay.lnfb, xhatf.data(), rstdf.data(), hf.data());
  linear(N, d, Cp, hf.data(), w + lay.whead, w + lay.bhead, logits.data());
}

void FastPass::backward(const FastLayout& lay, const float* w, const PackedBatch& b, float* g) {
  const SubjectArch& a = lay.arch;
  const int N = b.rows(), d = a.d_model, H = a.n_heads, F = a.d_mlp(), Cp = lay.cp;
  const size_t Nd = static_cast<size_t>(N) * d;
  dh.resize(Nd), dx.assign(Nd, 0.0f), dob.resize(Nd), df.resize(static_cast<size_t>(N) * F);
  dqkv.resize(3 * Nd);
  linear_backward(N, d, Cp, hf.data(), w + lay.whead, dlogits.data(), g + lay.whead, g + lay.bhead, dh.data(), wt);
  kern::layer_norm_backward(N, d, dh.data(), xhatf.data(), rstdf.data(), w + lay.lnfg, g + lay.lnfg, g + lay.lnfb,
                            dx.data());
  for (size_t l = lay.layers.size(); l-- > 0;) {
    const FastLayout::Layer& P = lay.layers[l];
    LayerActs& A = layers[l];
    // x += gelu(LN2(x) Wfc + bfc) Wproj + bproj
    linear_backward(N, F, d, A.f.data(), w + P.wproj, dx.data(), g + P.wproj, g + P.bproj, df.data(), wt);
    for (size_t i = 0; i < df.size(); ++i) df[i] *= A.dgelu[i];
    linear_backward(N, d, F, A.h2.data(), w + P.wfc, df.data(), g + P.wfc, g + P.bfc, dh.data(), wt);
    kern::layer_norm_backward(N, d, dh.data(), A.xhat2.data(), A.rstd2.data(), w + P.ln2g, g + P.ln2g, g + P.ln2b,
                              dx.data());
    // x += attention(LN1(x)) Wout + bout
    linear_backward(N, d, d, A.o.data(), w + P.wout, dx.data(), g + P.wout, g + P.bout, dob.data(), wt);
    std::fill(dqkv.begin(), dqkv.end(), 0.0f);
    attention_backward(b, d, H, A.qkv.data(), A.att.data(), att_off, dob.data(), dqkv.data());
    linear_backward(N, d, 3 * d, A.h1.data(), w + P.wqkv, dqkv.data(), g + P.wqkv, g + P.bqkv, dh.data(), wt);
    kern::layer_norm_backward(N, d, dh.data(), A.xhat1.data(), A.rstd1.data(), w + P.ln1g, g + P.ln1g, g + P.ln1b,
                              dx.data());
  }
  for (int r = 0; r < N; ++r) {
    float* gt = g + lay.tok + static_cast<size_t>(b.id[static_cast<size_t>(r)]) * d;
    float* gp = g + lay.pos + static_cast<size_t>(b.pos[static_cast<size_t>(r)]) * d;
    const float* dxr = &dx[static_cast<size_t>(r) * d];
    for (int i = 0; i < d; ++i) gt[i] += dxr[i], gp[i] += dxr[i];
  }
}

namespace {

thread_local FastPass tl_pass;

// Cross-entropy over the real classes of the rows with a target: fills pass.dlogits (mean over those
// rows), returns the mean loss; counts argmax hits.
double cross_entropy(FastPass& pass, const PackedBatch& b, int C, int Cp, int64_t* correct, int64_t* counted) {
  const int N = b.rows();
  int64_t n = 0, right = 0;
  for (int r = 0; r < N; ++r) n += b.target[static_cast<size_t>(r)] >= 0;
  pass.dlogits.assign(static_cast<size_t>(N) * Cp, 0.0f);
  double loss = 0;
  const float inv_n = 1.0f / static_cast<float>(std::max<int64_t>(n, 1));
  for (int r = 0; r < N; ++r) {
    const int t = b.target[static_cast<size_t>(r)];
    if (t < 0) continue;
    const float* z = &pass.logits[static_cast<size_t>(r) * Cp];
    float* dz = &pass.dlogits[static_cast<size_t>(r) * Cp];
    int arg = 0;
    for (int c = 1; c < C; ++c)
      if (z[c] > z[arg]) arg = c;
    right += arg == t;
    float sum = 0;
    for (int c = 0; c < C; ++c) sum += (dz[c] = std::exp(z[c] - z[arg]));
    loss += std::log(sum) - (z[t] - z[arg]);
    const float inv = 1.0f / sum;
    for (int c = 0; c < C; ++c) dz[c] *= inv * inv_n;
    dz[t] -= inv_n;
  }
  if (correct) *correct = right;
  if (counted) *counted = n;
  return loss / static_cast<double>(std::max<int64_t>(n, 1));
}

}  // namespace

double loss_and_gradients(const FastLayout& lay, const std::vector<float>& w, const PackedBatch& b,
                          std::vector<float>& grad, int64_t* correct, int64_t* counted) {
  FastPass& pass = tl_pass;
  pass.forward(lay, w.data(), b);
  const double loss = cross_entropy(pass, b, lay.arch.n_classes, lay.cp, correct, counted);
  grad.assign(lay.total, 0.0f);
  pass.backward(lay, w.data(), b, grad.data());
  return loss;
}

std::vector<float> fast_logits(const FastLayout& lay, const std::vector<float>& w, const PackedBatch& b) {
  FastPass& pass = tl_pass;
  pass.forward(lay, w.data(), b);
  const int C = lay.arch.n_classes;
  std::vector<float> out;
  for (int r = 0; r < b.rows(); ++r)
    out.insert(out.end(), &pass.logits[static_cast<size_t>(r) * lay.cp], &pass.logits[static_cast<size_t>(r) * lay.cp] + C);
  return out;
}

PassCheck fast_pass(const SubjectModel& model, const std::vector<Input>& inputs,
                    const std::vector<std::vector<int32_t>>& targets) {
  const FastLayout lay(model.arch);
  const std::vector<float> w = pack_weights(lay, model.weights);
  PackedBatch b;
  for (size_t i = 0; i < inputs.size(); ++i) b.add(model.domain, inputs[i], targets[i].data());
  std::vector<float> g;
  PassCheck out;
  out.loss = loss_and_gradients(lay, w, b, g);
  out.grads = unpack_weights(lay, g);
  const std::vector<float> logits = fast_logits(lay, w, b);
  const size_t C = static_cast<size_t>(model.arch.n_classes);
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto first = logits.begin() + static_cast<ptrdiff_t>(static_cast<size_t>(b.start[i]) * C);
    out.logits.emplace_back(first, first + static_cast<ptrdiff_t>(inputs[i].size() * C));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// The trainer

namespace {

// Multiply-adds x 2 of one forward pass over one input of length L (what the packed pass computes).
double forward_flops(const FastLayout& lay, int L) {
  const SubjectArch& a = lay.arch;
  const double d = a.d_model, F = a.d_mlp();
  return 2.0 * L * (a.n_layers * (4.0 * d * d + 2.0 * d * F + 2.0 * L * d) + d * lay.cp);
}

}  // namespace

FastTrainer::FastTrainer(const std::vector<SubjectJob>& jobs, const TrainConfig& config) : jobs_(jobs), config_(config) {
  if (jobs.empty()) throw std::logic_error("FastTrainer: no jobs");
  if (config.device != "cpu") throw std::logic_error("FastTrainer: cpu only");
  threads_ = config.threads > 0 ? config.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  slots_.resize(static_cast<size_t>(std::min<int64_t>(config.slots, static_cast<int64_t>(jobs.size()))));
}

void FastTrainer::fill(int64_t m, size_t j) {
  const SubjectJob& job = jobs_[j];
  if (job.arch.compiled()) throw std::logic_error("FastTrainer: compiled blocks are not trained");
  FastSlot& s = slot(m);
  s = FastSlot{};
  s.active = true;
  s.needs_init = true;
  s.job = j;
  s.data_rng = Rng(job.seed ^ 0x5eedda7aULL);
  s.start = Clock::now();
  s.data = &domains_.get(job.domain);  // built here, serially; read-only in the parallel step
}

// The expensive part of filling a slot (targets of the evaluation set, initial weights); runs on the
// step's worker threads.
void FastTrainer::init(FastSlot& s) {
  const SubjectJob& job = jobs_[s.job];
  s.labels = std::make_unique<Labeller>(job);
  const size_t T = static_cast<size_t>(job.arch.max_len);
  const std::vector<Input>& eval = s.data->eval;
  s.eval_targets.assign(eval.size() * T, -1);
  for (size_t i = 0; i < eval.size(); ++i) s.eval_positions += s.labels->label(eval[i], &s.eval_targets[i * T], -1);
  s.layout = std::make_unique<FastLayout>(job.arch);
  s.w = pack_weights(*s.layout, initial_weights(job));
  s.g.assign(s.layout->total, 0.0f);
  s.m.assign(s.layout->total, 0.0f);
  s.v.assign(s.layout->total, 0.0f);
  s.needs_init = false;
}

std::vector<double> FastTrainer::step() {
  // Slots still to initialise first: their evaluation targets take longest, and the other threads
  // meanwhile step the rest.
  std::vector<int64_t> active;
  for (int64_t m = 0; m < slots(); ++m)
    if (slot(m).active && slot(m).needs_init) active.push_back(m);
  for (int64_t m = 0; m < slots(); ++m)
    if (slot(m).active && !slot(m).needs_init) active.push_back(m);
  std::vector<double> losses(slots_.size(), 0.0);
  std::vector<double> flops(active.size(), 0.0);
  parallel_for(active.size(), threads_, [&](size_t a) {
    FastSlot& s = slot(active[a]);
    if (s.needs_init) init(s);
    const SubjectJob& job = jobs_[s.job];
    const FastLayout& lay = *s.layout;
    const int T = job.arch.max_len;
    thread_local PackedBatch batch;
    batch.clear();
    std::vector<int32_t> tg(static_cast<size_t>(T));
    for (int k = 0; k < config_.batch; ++k) {
      const Input x = s.data->draw(s.data_rng);
      const int32_t* targets = nullptr;
      if (s.data->whole_domain) {
        targets = &s.eval_targets[static_cast<size_t>(s.data->index.at(x)) * static_cast<size_t>(T)];
      } else {
        s.labels->label(x, tg.data(), -1);
        targets = tg.data();
      }
      batch.add(job.domain, x, targets);
      flops[a] += 3.0 * forward_flops(lay, static_cast<int>(x.size()));
    }
    int64_t correct = 0, counted = 0;
    losses[static_cast<size_t>(active[a])] = loss_and_gradients(lay, s.w, batch, s.g, &correct, &counted);
    s.batch_accuracy = static_cast<double>(correct) / static_cast<double>(std::max<int64_t>(counted, 1));

    // AdamW with warm-up and gradient-norm clipping, as the torch trainer.
    const double norm = std::sqrt(kern::sum_squares(s.g.data(), lay.total));
    const float clip = static_cast<float>(std::min(1.0, config_.clip / (norm + 1e-6)));
    const double t = static_cast<double>(s.step + 1);
    const double lr = (config_.lr > 0 ? config_.lr : default_learning_rate(job.arch)) *
                      std::min(1.0, t / std::max(1, config_.warmup));
    kern::adamw(lay.total, s.w.data(), s.m.data(), s.v.data(), s.g.data(), lay.decay.data(), clip,
                static_cast<float>(config_.beta1), static_cast<float>(config_.beta2),
                static_cast<float>(1.0 / (1.0 - std::pow(config_.beta2, t))), static_cast<float>(config_.eps),
                static_cast<float>(lr / (1.0 - std::pow(config_.beta1, t))), static_cast<float>(lr * config_.weight_decay));
    ++s.step;
  });
  for (size_t a = 0; a < active.size(); ++a) {
    ++stats_.model_steps;
    stats_.flops += flops[a];
  }
  return losses;
}

// The slots' evaluation sets are cut into chunks of kChunk inputs and evaluated in waves of kWave chunks
// per slot, the chunks of a wave spread over the threads (so that one slot's check uses every core).
// With `early_exit`, a slot stops after the first wave that leaves it more errors than the threshold
// allows; the waves are the same whatever the thread count, so is what it reports.
std::vector<Accuracy> FastTrainer::evaluate(const std::vector<int64_t>& which, bool early_exit) {
  constexpr size_t kChunk = 128, kWave = 8;
  struct Tally {
    double right = 0, valid = 0, seq_right = 0, flops = 0;
    size_t inputs = 0;
  };
  struct Item {
    size_t k, chunk;
  };
  std::vector<Tally> total(which.size());
  std::vector<bool> alive(which.size(), true);
  parallel_for(which.size(), threads_, [&](size_t k) {
    if (slot(which[k]).needs_init) init(slot(which[k]));
  });
  for (size_t wave = 0;; ++wave) {
    std::vector<Item> items;
    for (size_t k = 0; k < which.size(); ++k) {
      if (!alive[k]) continue;
      const size_t chunks = (slot(which[k]).data->eval.size() + kChunk - 1) / kChunk;
      for (size_t c = wave * kWave; c < std::min(chunks, (wave + 1) * kWave); ++c) items.push_back({k, c});
    }
    if (items.empty()) break;
    std::vector<Tally> part(items.size());
    parallel_for(items.size(), threads_, [&](size_t it) {
      const FastSlot& s = slot(which[items[it].k]);
      const SubjectJob& job = jobs_[s.job];
      const FastLayout& lay = *s.layout;
      const size_t T = static_cast<size_t>(job.arch.max_len);
      const int C = job.arch.n_classes;
      const std::vector<Input>& eval = s.data->eval;
      const size_t b = items[it].chunk * kChunk, e = std::min(eval.size(), b + kChunk);
      thread_local PackedBatch batch;
      batch.clear();
      Tally& t = part[it];
      for (size_t i = b; i < e; ++i) {
        batch.add(job.domain, eval[i], &s.eval_targets[i * T]);
        t.flops += forward_flops(lay, static_cast<int>(eval[i].size()));
      }
      FastPass& pass = tl_pass;
      pass.forward(lay, s.w.data(), batch);
      for (size_t q = 0; q < e - b; ++q) {
        bool all = true;
        for (int r = batch.start[q]; r < batch.start[q] + batch.len[q]; ++r) {
          const int tg = batch.target[static_cast<size_t>(r)];
          const float* z = &pass.logits[static_cast<size_t>(r) * lay.cp];
          int arg = 0;
          for (int c = 1; c < C; ++c)
            if (z[c] > z[arg]) arg = c;
          const bool ok = tg >= 0 && arg == tg;
          t.right += ok;
          t.valid += tg >= 0;
          all &= ok || tg < 0;
        }
        t.seq_right += all;
      }
      t.inputs = e - b;
    });
    for (size_t it = 0; it < items.size(); ++it) {
      Tally& t = total[items[it].k];
      t.right += part[it].right, t.valid += part[it].valid, t.seq_right += part[it].seq_right;
      t.flops += part[it].flops, t.inputs += part[it].inputs;
    }
    for (size_t k = 0; k < which.size(); ++k) {
      const FastSlot& s = slot(which[k]);
      const bool done = total[k].inputs >= s.data->eval.size();
      const bool failed = early_exit && total[k].valid - total[k].right > (1 - config_.threshold) * s.eval_positions;
      if (done || failed) alive[k] = false;
    }
  }
  std::vector<Accuracy> out(which.size());
  for (size_t k = 0; k < which.size(); ++k) {
    const Tally& t = total[k];
    stats_.flops += t.flops;
    out[k] = {t.valid > 0 ? t.right / t.valid : 0, t.inputs > 0 ? t.seq_right / static_cast<double>(t.inputs) : 0};
  }
  return out;
}

SubjectModel FastTrainer::snapshot(int64_t m) {
  FastSlot& s = slot(m);
  const SubjectJob& job = jobs_[s.job];
  if (s.needs_init) init(s);
  SubjectModel out = unweighted_model(job);
  out.weights = unpack_weights(*s.layout, s.w);
  return out;
}

}  // namespace mm
