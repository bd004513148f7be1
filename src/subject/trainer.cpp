// The batched subject trainer. Shapes: M models (slots), B inputs per model, T positions, d width,
// H heads, C classes (the largest class count among the jobs rounded up to a multiple of kClassPad; the
// classes a model does not have are masked out of its logits).
#include "subject/trainer.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <map>

#include "core/error.h"
#include "core/rng.h"
#include "subject/domain_data.h"
#include "subject/fast_trainer.h"
#include "subject/train_loop.h"

namespace mm {

namespace {

using torch::Tensor;
using Clock = std::chrono::steady_clock;

constexpr int64_t kClassPad = 32;  // see BatchTrainer's constructor


// ---------------------------------------------------------------------------------------------------------
// Inputs

// Class index of every output position on `inputs`, -100 (ignored) for padding and where there is none;
// (N, T).
Tensor class_targets(const Labeller& labels, const std::vector<Input>& inputs, int max_len) {
  Tensor t = torch::full({static_cast<int64_t>(inputs.size()), max_len}, -100, torch::kInt64);
  auto a = t.accessor<int64_t, 2>();
  std::vector<int32_t> y(static_cast<size_t>(max_len));
  for (size_t i = 0; i < inputs.size(); ++i) {
    labels.label(inputs[i], y.data(), -100);
    for (size_t k = 0; k < inputs[i].size(); ++k) a[static_cast<int64_t>(i)][static_cast<int64_t>(k)] = y[k];
  }
  return t;
}

Tensor input_ids(const InputDomain& domain, const std::vector<Input>& inputs, size_t begin, size_t end, int max_len) {
  Tensor t = torch::zeros({static_cast<int64_t>(end - begin), max_len}, torch::kInt64);
  auto a = t.accessor<int64_t, 2>();
  for (size_t i = begin; i < end; ++i)
    for (size_t k = 0; k < inputs[i].size(); ++k)
      a[static_cast<int64_t>(i - begin)][static_cast<int64_t>(k)] = 1 + inputs[i][k] - domain.value_min;
  return t;
}

// ---------------------------------------------------------------------------------------------------------
// The stacked model

// A model's initial weights (initial_weights in trainer.h) as torch tensors.
std::map<std::string, Tensor> initial_torch_weights(const SubjectJob& job) {
  std::map<std::string, Tensor> w;
  for (auto& [name, t] : initial_weights(job))
    w[name] = torch::from_blob(t.data.data(), t.shape, torch::kFloat32).clone();
  return w;
}

// All parameters of the M models in one buffer, flat (M, P), so that the optimizer is a handful of ops;
// each named parameter is a view of it with shape (M, spec shape...).
struct Params {
  std::vector<ParamSpec> specs;          // for the C-class architecture
  std::vector<int64_t> offset, numel;    // of each spec within a row of the flat buffer
  std::map<std::string, size_t> index;   // spec name -> position in specs
  int64_t total = 0;                     // P
  Tensor flat, m, v;                     // (M, P); flat is the leaf that collects gradients
  Tensor decay;                          // (P): 1 where weight decay applies (matrices), else 0

  // Views of `buffer` (M', P) as the named parameters, (M', shape...) each.
  std::vector<Tensor> views(const Tensor& buffer) const {
    std::vector<Tensor> out;
    for (size_t i = 0; i < specs.size(); ++i) {
      std::vector<int64_t> shape = {buffer.size(0)};
      shape.insert(shape.end(), specs[i].shape.begin(), specs[i].shape.end());
      out.push_back(buffer.narrow(1, offset[i], numel[i]).view(shape));
    }
    return out;
  }
};

// LayerNorm over the last dim with per-model affine: x (M, ..., d), w and b (M, d).
Tensor layer_norm(const Tensor& x, const Tensor& w, const Tensor& b) {
  const int64_t M = x.size(0), d = x.size(-1);
  std::vector<int64_t> view(static_cast<size_t>(x.dim()), 1);
  view[0] = M;
  view.back() = d;
  return torch::layer_norm(x, {d}) * w.view(view) + b.view(view);
}

// x (M, N, in) W (M, in, out) + b (M, out) -> (M, N, out)
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) { return torch::baddbmm(b.unsqueeze(1), x, w); }

// Logits (M, B, T, C) of token ids (M, B, T); class_mask (M, C) is 0 for a model's classes, -1e9 beyond.
Tensor forward(const std::vector<Tensor>& p, const std::map<std::string, size_t>& ix, const SubjectArch& a,
               const Tensor& ids, const Tensor& class_mask) {
  auto P = [&](const std::string& name) -> const Tensor& { return p[ix.at(name)]; };
  const int64_t M = ids.size(0), B = ids.size(1), T = ids.size(2), d = a.d_model, H = a.n_heads, dh = a.d_head();
  const Tensor& tok = P("embed.tokens");  // (M, V, d)
  Tensor x = torch::gather(tok, 1, ids.reshape({M, B * T, 1}).expand({M, B * T, d})).view({M, B, T, d});
  x = x + P("embed.positions").slice(1, 0, T).unsqueeze(1);                            // (M, B, T, d)
  const Tensor key_mask = ids.eq(0).to(x.dtype()).mul(-1e9).view({M, B, 1, 1, T});   // padding keys
  const double scale = 1.0 / std::sqrt(static_cast<double>(dh));
  for (int l = 0; l < a.n_layers; ++l) {
    const std::string pre = "blocks." + std::to_string(l) + ".";
    Tensor h = layer_norm(x, P(pre + "ln1.weight"), P(pre + "ln1.bias")).view({M, B * T, d});
    Tensor qkv = linear(h, P(pre + "attn.qkv.weight"), P(pre + "attn.qkv.bias")).view({M, B, T, 3, H, dh});
    Tensor q = qkv.select(3, 0).permute({0, 1, 3, 2, 4});  // (M, B, H, T, dh)
    Tensor k = qkv.select(3, 1).permute({0, 1, 3, 2, 4});
    Tensor v = qkv.select(3, 2).permute({0, 1, 3, 2, 4});
    // Softmax by hand: torch::softmax over rows this short (T keys) is several times slower on CPU.
    Tensor s = torch::matmul(q, k.transpose(-1, -2)) * scale + key_mask;  // (M, B, H, T, T)
    s = (s - std::get<0>(s.max(-1, true)).detach()).exp();
    Tensor att = s / s.sum(-1, true);
    Tensor o = torch::matmul(att, v).permute({0, 1, 3, 2, 4}).reshape({M, B * T, d});
    x = x + linear(o, P(pre + "attn.out.weight"), P(pre + "attn.out.bias")).view({M, B, T, d});
    h = layer_norm(x, P(pre + "ln2.weight"), P(pre + "ln2.bias")).view({M, B * T, d});
    Tensor f = torch::gelu(linear(h, P(pre + "mlp.fc.weight"), P(pre + "mlp.fc.bias")));
    x = x + linear(f, P(pre + "mlp.proj.weight"), P(pre + "mlp.proj.bias")).view({M, B, T, d});
  }
  Tensor h = layer_norm(x, P("ln_f.weight"), P("ln_f.bias")).view({M, B * T, d});
  const int64_t C = P("head.bias").size(1);
  return linear(h, P("head.weight"), P("head.bias")).view({M, B, T, C}) + class_mask.view({M, 1, 1, C});
}

// Multiply-adds of one forward pass over one token, times 2 (flops).
double forward_flops_per_token(const SubjectArch& a, int T, int C) {
  const double d = a.d_model;
  return 2.0 * (a.n_layers * (12.0 * d * d + 2.0 * T * d) + d * C);
}

// ---------------------------------------------------------------------------------------------------------
// The trainer

struct Slot : SlotProgress {
  std::unique_ptr<Labeller> labels;
  const DomainData* data = nullptr;
  Tensor eval_targets;       // (N_eval, T) on the device
  double eval_positions = 0; // positions with a target in eval_targets
};

class BatchTrainer {
 public:
  BatchTrainer(const std::vector<SubjectJob>& jobs, const TrainConfig& config)
      : jobs_(jobs), config_(config), device_(torch::kCPU) {
    if (jobs.empty()) throw std::logic_error("BatchTrainer: no jobs");
    if (config.device == "cuda") {
      if (!torch::cuda::is_available()) throw Error("--device cuda: no CUDA device is available to LibTorch");
      device_ = torch::Device(torch::kCUDA);
    } else if (config.device != "cpu") {
      throw Error("unknown device '" + config.device + "' (choose cpu or cuda)");
    }
    if (config.threads > 0) torch::set_num_threads(config.threads);
    arch_ = jobs[0].arch;
    int64_t C = 0;
    for (const SubjectJob& j : jobs) {
      if (!j.arch.same_shape_except_classes(arch_)) throw std::logic_error("BatchTrainer: jobs of several architectures");
      if (static_cast<int>(j.classes.size()) != j.arch.n_classes) throw std::logic_error("BatchTrainer: classes != head");
      C = std::max<int64_t>(C, j.arch.n_classes);
    }
    // The class axis is padded to a multiple of kClassPad whatever the jobs: its length changes how the
    // softmax sums round, and a model must train the same whichever models share its batch.
    arch_.n_classes = static_cast<int>((C + kClassPad - 1) / kClassPad * kClassPad);
    C = arch_.n_classes;
    arch_.validate();
    M_ = std::min<int64_t>(config.slots, static_cast<int64_t>(jobs.size()));
    lr_ = config.lr > 0 ? config.lr : default_learning_rate(arch_);
    params_.specs = param_specs(arch_);
    const auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(device_);
    std::vector<float> decay;
    for (size_t i = 0; i < params_.specs.size(); ++i) {
      int64_t n = 1;
      for (int64_t d : params_.specs[i].shape) n *= d;
      params_.index[params_.specs[i].name] = i;
      params_.offset.push_back(params_.total);
      params_.numel.push_back(n);
      params_.total += n;
      decay.insert(decay.end(), static_cast<size_t>(n), params_.specs[i].shape.size() >= 2 ? 1.f : 0.f);
    }
    params_.flat = torch::zeros({M_, params_.total}, opts).requires_grad_(true);
    params_.m = torch::zeros({M_, params_.total}, opts);
    params_.v = torch::zeros({M_, params_.total}, opts);
    params_.decay = torch::from_blob(decay.data(), {params_.total}, torch::kFloat32).clone().to(device_);
    class_mask_ = torch::full({M_, C}, -1e9, opts);
    slots_.resize(static_cast<size_t>(M_));
  }

  int64_t slots() const { return M_; }
  const TrainStats& stats() const { return stats_; }
  Slot& slot(int64_t m) { return slots_[static_cast<size_t>(m)]; }

  // Puts job `j` into slot `m`: fresh weights and optimizer state, its evaluation targets.
  void fill(int64_t m, size_t j) {
    const SubjectJob& job = jobs_[j];
    Slot& s = slot(m);
    s = Slot{};
    s.active = true;
    s.job = j;
    s.data_rng = Rng(job.seed ^ 0x5eedda7aULL);
    s.start = Clock::now();
    s.labels = std::make_unique<Labeller>(job);
    s.data = &domains_.get(job.domain);
    s.eval_targets = class_targets(*s.labels, s.data->eval, arch_.max_len).to(device_);
    s.eval_positions = s.eval_targets.ge(0).sum().item<double>();
    torch::NoGradGuard no_grad;
    const auto init = initial_torch_weights(job);
    const std::vector<Tensor> views = params_.views(params_.flat.detach());
    for (size_t i = 0; i < params_.specs.size(); ++i) {
      const Tensor& w = init.at(params_.specs[i].name).to(device_);
      Tensor dst = views[i].select(0, m);
      if (params_.specs[i].name.rfind("head.", 0) == 0) {
        dst.zero_();
        dst.narrow(-1, 0, w.size(-1)).copy_(w);
      } else {
        dst.copy_(w);
      }
    }
    params_.m.select(0, m).zero_();
    params_.v.select(0, m).zero_();
    class_mask_.select(0, m).fill_(-1e9).narrow(0, 0, static_cast<int64_t>(job.classes.size())).zero_();
  }

  void deactivate(int64_t m) { slot(m).active = false; }

  // Drops inactive slots once no job is left to fill them, so that the last models do not pay for empty
  // ones. Each model's numbers are unchanged: every op treats the models axis as a batch.
  void compact() {
    std::vector<int64_t> keep;
    for (int64_t m = 0; m < M_; ++m)
      if (slot(m).active) keep.push_back(m);
    if (keep.empty() || static_cast<int64_t>(keep.size()) == M_) return;
    torch::NoGradGuard no_grad;
    const Tensor sel = torch::tensor(keep, torch::kInt64).to(device_);
    params_.flat = params_.flat.detach().index_select(0, sel).requires_grad_(true);
    params_.m = params_.m.index_select(0, sel);
    params_.v = params_.v.index_select(0, sel);
    class_mask_ = class_mask_.index_select(0, sel);
    std::vector<Slot> slots;
    for (int64_t m : keep) slots.push_back(std::move(slot(m)));
    slots_ = std::move(slots);
    M_ = static_cast<int64_t>(keep.size());
  }

  // One training step of every active slot; returns the per-slot losses (0 for inactive slots).
  std::vector<double> step() {
    const int64_t B = config_.batch, T = arch_.max_len;
    Tensor ids = torch::zeros({M_, B, T}, torch::kInt64);
    Tensor tgt = torch::full({M_, B, T}, -100, torch::kInt64);
    std::vector<float> active(static_cast<size_t>(M_), 0.f);
    auto ia = ids.accessor<int64_t, 3>();
    auto ta = tgt.accessor<int64_t, 3>();
    for (int64_t m = 0; m < M_; ++m) {
      Slot& s = slot(m);
      if (!s.active) continue;
      active[static_cast<size_t>(m)] = 1;
      const SubjectJob& job = jobs_[s.job];
      for (int64_t b = 0; b < B; ++b) {
        const Input x = s.data->draw(s.data_rng);
        for (size_t k = 0; k < x.size(); ++k) ia[m][b][static_cast<int64_t>(k)] = 1 + x[k] - job.domain.value_min;
        std::vector<int32_t> y(x.size());
        s.labels->label(x, y.data(), -100);
        for (size_t k = 0; k < x.size(); ++k) ta[m][b][static_cast<int64_t>(k)] = y[k];
      }
    }
    ids = ids.to(device_);
    tgt = tgt.to(device_);
    const Tensor active_t = torch::from_blob(active.data(), {M_}, torch::kFloat32).clone().to(device_);

    const Tensor logits = forward(params_.views(params_.flat), params_.index, arch_, ids, class_mask_);  // (M, B, T, C)
    const Tensor valid = tgt.ge(0);
    const Tensor logp = torch::log_softmax(logits, -1);
    const Tensor nll = -logp.gather(-1, tgt.clamp_min(0).unsqueeze(-1)).squeeze(-1) * valid.to(logp.dtype());
    const Tensor count = valid.sum({1, 2}).to(torch::kFloat32);
    const Tensor loss = nll.sum({1, 2}) / count.clamp_min(1);  // (M)
    (loss * active_t).sum().backward();
    optimizer_step(active);

    const Tensor correct = (logits.argmax(-1).eq(tgt) & valid).sum({1, 2}).to(torch::kFloat32);
    const Tensor acc = (correct / count.clamp_min(1)).cpu();
    const Tensor loss_cpu = loss.detach().cpu();
    std::vector<double> losses(static_cast<size_t>(M_), 0.0);
    int64_t tokens = 0;
    for (int64_t m = 0; m < M_; ++m) {
      Slot& s = slot(m);
      if (!s.active) continue;
      ++s.step;
      s.batch_accuracy = acc[m].item<double>();
      losses[static_cast<size_t>(m)] = loss_cpu[m].item<double>();
      ++stats_.model_steps;
      tokens += B * T;
    }
    stats_.flops += 3.0 * forward_flops_per_token(arch_, static_cast<int>(T), static_cast<int>(class_mask_.size(1))) *
                    static_cast<double>(tokens);
    return losses;
  }

  // Evaluation of the given slots on their evaluation sets. With `early_exit`, a slot stops being
  // evaluated once its errors already put it below the threshold (its accuracy is then that of the part
  // evaluated), and the pass ends when every slot has stopped.
  std::vector<Accuracy> evaluate(const std::vector<int64_t>& which, bool early_exit) {
    torch::NoGradGuard no_grad;
    std::vector<Accuracy> out(which.size());
    if (which.empty()) return out;
    // Slots evaluated together must share an evaluation set; group by domain.
    std::map<const DomainData*, std::vector<size_t>> groups;
    for (size_t w = 0; w < which.size(); ++w) groups[slot(which[w]).data].push_back(w);
    for (const auto& [data, members] : groups) {
      std::vector<int64_t> idx;
      for (size_t w : members) idx.push_back(which[w]);
      const Tensor sel = torch::tensor(idx, torch::kInt64).to(device_);
      const std::vector<Tensor> sub = params_.views(params_.flat.detach().index_select(0, sel));
      const Tensor mask = class_mask_.index_select(0, sel);
      const int64_t Mg = static_cast<int64_t>(idx.size()), T = arch_.max_len, N = static_cast<int64_t>(data->eval.size());
      const int64_t chunk = std::clamp<int64_t>((int64_t{1} << 22) / std::max<int64_t>(1, Mg * T * arch_.d_mlp()), 64, 1024);
      Tensor right = torch::zeros({Mg}, torch::kFloat64), valid_n = torch::zeros({Mg}, torch::kFloat64),
             seq_right = torch::zeros({Mg}, torch::kFloat64);
      std::vector<double> allowed(static_cast<size_t>(Mg));  // errors a slot may make and still pass
      for (int64_t g = 0; g < Mg; ++g)
        allowed[static_cast<size_t>(g)] = (1 - config_.threshold) * slot(idx[static_cast<size_t>(g)]).eval_positions;
      int64_t evaluated = 0;
      for (int64_t b = 0; b < N; b += chunk) {
        if (early_exit && b > 0) {
          bool any_alive = false;
          for (int64_t g = 0; g < Mg; ++g)
            any_alive |= (valid_n[g].item<double>() - right[g].item<double>()) <= allowed[static_cast<size_t>(g)];
          if (!any_alive) break;
        }
        const int64_t e = std::min(N, b + chunk);
        const Tensor ids = input_ids(data->domain, data->eval, static_cast<size_t>(b), static_cast<size_t>(e),
                                     arch_.max_len).to(device_).unsqueeze(0).expand({Mg, e - b, T}).contiguous();
        std::vector<Tensor> tg;
        for (int64_t m : idx) tg.push_back(slot(m).eval_targets.slice(0, b, e));
        const Tensor tgt = torch::stack(tg);  // (Mg, n, T)
        const Tensor pred = forward(sub, params_.index, arch_, ids, mask).argmax(-1);
        const Tensor valid = tgt.ge(0);
        const Tensor ok = pred.eq(tgt) & valid;
        right += ok.sum({1, 2}).to(torch::kFloat64).cpu();
        valid_n += valid.sum({1, 2}).to(torch::kFloat64).cpu();
        seq_right += (ok.eq(valid)).all(-1).sum(1).to(torch::kFloat64).cpu();
        stats_.flops += forward_flops_per_token(arch_, static_cast<int>(T), static_cast<int>(mask.size(1))) *
                        static_cast<double>(Mg * (e - b) * T);
        evaluated = e;
      }
      for (size_t g = 0; g < members.size(); ++g) {
        const double r = right[static_cast<int64_t>(g)].item<double>(), v = valid_n[static_cast<int64_t>(g)].item<double>();
        out[members[g]] = {v > 0 ? r / v : 0,
                           evaluated > 0 ? seq_right[static_cast<int64_t>(g)].item<double>() / static_cast<double>(evaluated) : 0};
      }
    }
    return out;
  }

  // The model in slot `m` as data (weights copied to the CPU, the head cut to the job's classes).
  SubjectModel snapshot(int64_t m) {
    torch::NoGradGuard no_grad;
    const SubjectJob& job = jobs_[slot(m).job];
    SubjectModel out = unweighted_model(job);
    const std::vector<Tensor> views = params_.views(params_.flat.detach());
    for (size_t i = 0; i < params_.specs.size(); ++i) {
      Tensor w = views[i].select(0, m);
      if (params_.specs[i].name.rfind("head.", 0) == 0) w = w.narrow(-1, 0, job.arch.n_classes);
      w = w.contiguous().cpu();
      mm::Tensor& t = out.weights[params_.specs[i].name];
      t.shape = w.sizes().vec();
      t.data.assign(w.data_ptr<float>(), w.data_ptr<float>() + w.numel());
    }
    return out;
  }

  // Logits of the slots' current models on `inputs`, for the forward-pass parity test.
  Tensor logits(const InputDomain& domain, const std::vector<Input>& inputs) {
    torch::NoGradGuard no_grad;
    const Tensor ids = input_ids(domain, inputs, 0, inputs.size(), arch_.max_len).to(device_);
    return forward(params_.views(params_.flat.detach()), params_.index, arch_,
                   ids.unsqueeze(0).expand({M_, ids.size(0), ids.size(1)}).contiguous(), class_mask_)
        .cpu();
  }

 private:
  // AdamW with per-model step counts, warm-up and gradient-norm clipping; inactive slots do not move.
  void optimizer_step(const std::vector<float>& active) {
    torch::NoGradGuard no_grad;
    std::vector<float> step_size(static_cast<size_t>(M_)), inv_bc2(static_cast<size_t>(M_)),
        decay(static_cast<size_t>(M_));
    for (int64_t m = 0; m < M_; ++m) {
      const double t = static_cast<double>(slot(m).step + 1);
      const double lr = active[static_cast<size_t>(m)] * lr_ * std::min(1.0, t / std::max(1, config_.warmup));
      step_size[static_cast<size_t>(m)] = static_cast<float>(lr / (1.0 - std::pow(config_.beta1, t)));
      inv_bc2[static_cast<size_t>(m)] = static_cast<float>(1.0 / (1.0 - std::pow(config_.beta2, t)));
      decay[static_cast<size_t>(m)] = static_cast<float>(1.0 - lr * config_.weight_decay);
    }
    auto per_model = [&](const std::vector<float>& v) {
      return torch::from_blob(const_cast<float*>(v.data()), {M_}, torch::kFloat32).clone().to(device_);
    };
    const Tensor ss = per_model(step_size), ib = per_model(inv_bc2), dc = per_model(decay);
    const Tensor g = params_.flat.grad();  // (M, P)
    const Tensor clip = (config_.clip / (g.pow(2).sum(1).sqrt() + 1e-6)).clamp_max(1.0).unsqueeze(1);
    const Tensor gc = g * clip;
    params_.m.mul_(config_.beta1).add_(gc, 1 - config_.beta1);
    params_.v.mul_(config_.beta2).addcmul_(gc, gc, 1 - config_.beta2);
    const Tensor denom = (params_.v * ib.unsqueeze(1)).sqrt_().add_(config_.eps);
    Tensor& p = params_.flat;
    p.mul_(1 - (1 - dc.unsqueeze(1)) * params_.decay.unsqueeze(0));  // decoupled decay, matrices only
    p.addcdiv_(params_.m * ss.unsqueeze(1), denom, -1);
    g.zero_();
  }

  const std::vector<SubjectJob>& jobs_;
  const TrainConfig& config_;
  torch::Device device_;
  SubjectArch arch_;  // with the largest class count
  int64_t M_ = 0;
  double lr_ = 0;
  Params params_;
  Tensor class_mask_;  // (M, C)
  std::vector<Slot> slots_;
  DomainCache domains_{config_};
  TrainStats stats_;
};

}  // namespace

bool uses_fast_trainer(const std::vector<SubjectJob>& jobs, const TrainConfig& config) {
  if (config.trainer == "torch") return false;
  // The kernels want widths that are multiples of 8 (every preset's are).
  bool fits = config.device == "cpu" && !jobs.empty();
  for (const SubjectJob& j : jobs) fits = fits && !j.arch.compiled() && j.arch.d_model % 8 == 0;
  if (config.trainer == "fast" && !fits)
    throw Error("the fast trainer runs trained-block models of a width divisible by 8 on the cpu only");
  if (config.trainer != "fast" && config.trainer != "auto")
    throw Error("unknown trainer '" + config.trainer + "' (choose auto, fast or torch)");
  return fits;
}

TrainStats train_subjects(const std::vector<SubjectJob>& jobs, const TrainConfig& config,
                          const std::function<void(SubjectResult&&)>& on_done, const std::function<bool()>& stop) {
  if (jobs.empty()) return {};
  if (uses_fast_trainer(jobs, config)) {
    FastTrainer trainer(jobs, config);
    return run_training(trainer, jobs, config, on_done, stop);
  }
  BatchTrainer trainer(jobs, config);
  return run_training(trainer, jobs, config, on_done, stop);
}

std::vector<std::vector<double>> trace_losses(const std::vector<SubjectJob>& jobs, const TrainConfig& config, int steps) {
  TrainConfig c = config;
  c.slots = static_cast<int>(jobs.size());
  auto trace = [&](auto& trainer) {
    for (int64_t m = 0; m < trainer.slots(); ++m) trainer.fill(m, static_cast<size_t>(m));
    std::vector<std::vector<double>> out(jobs.size());
    for (int k = 0; k < steps; ++k) {
      const auto losses = trainer.step();
      for (size_t j = 0; j < jobs.size(); ++j) out[j].push_back(losses[j]);
    }
    return out;
  };
  if (uses_fast_trainer(jobs, c)) {
    FastTrainer trainer(jobs, c);
    return trace(trainer);
  }
  BatchTrainer trainer(jobs, c);
  return trace(trainer);
}

PassCheck autograd_pass(const SubjectModel& model, const std::vector<Input>& inputs,
                        const std::vector<std::vector<int32_t>>& targets) {
  const SubjectArch& a = model.arch;
  const std::vector<ParamSpec> specs = param_specs(a);
  std::vector<torch::Tensor> leaves, views;
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < specs.size(); ++i) {
    const mm::Tensor& w = model.weights.at(specs[i].name);
    leaves.push_back(torch::from_blob(const_cast<float*>(w.data.data()), w.shape, torch::kFloat32).clone().requires_grad_(true));
    views.push_back(leaves.back().unsqueeze(0));
    index[specs[i].name] = i;
  }
  const int64_t N = static_cast<int64_t>(inputs.size()), T = a.max_len;
  (void)T;
  const torch::Tensor ids = input_ids(model.domain, inputs, 0, inputs.size(), a.max_len).unsqueeze(0);
  torch::Tensor tgt = torch::full({1, N, T}, -100, torch::kInt64);
  for (int64_t i = 0; i < N; ++i)
    for (size_t k = 0; k < targets[static_cast<size_t>(i)].size(); ++k)
      if (targets[static_cast<size_t>(i)][k] >= 0) tgt[0][i][static_cast<int64_t>(k)] = targets[static_cast<size_t>(i)][k];
  const torch::Tensor logits = forward(views, index, a, ids, torch::zeros({1, a.n_classes}));
  const torch::Tensor valid = tgt.ge(0);
  const torch::Tensor nll = -torch::log_softmax(logits, -1).gather(-1, tgt.clamp_min(0).unsqueeze(-1)).squeeze(-1) *
                     valid.to(torch::kFloat32);
  const torch::Tensor loss = nll.sum() / valid.sum().to(torch::kFloat32).clamp_min(1);
  loss.backward();
  PassCheck out;
  out.loss = loss.item<double>();
  for (size_t i = 0; i < specs.size(); ++i) {
    const torch::Tensor g = leaves[i].grad().contiguous();
    mm::Tensor& t = out.grads[specs[i].name];
    t.shape = specs[i].shape;
    t.data.assign(g.data_ptr<float>(), g.data_ptr<float>() + g.numel());
  }
  const torch::Tensor lg = logits.detach().contiguous();
  for (int64_t i = 0; i < N; ++i) {
    std::vector<float> rows;
    for (size_t k = 0; k < inputs[static_cast<size_t>(i)].size(); ++k)
      for (int c = 0; c < a.n_classes; ++c) rows.push_back(lg[0][i][static_cast<int64_t>(k)][c].item<float>());
    out.logits.push_back(std::move(rows));
  }
  return out;
}

std::vector<std::vector<std::vector<float>>> batched_logits(const std::vector<SubjectJob>& jobs,
                                                            const std::vector<Input>& inputs,
                                                            std::vector<SubjectModel>* models) {
  TrainConfig c;
  c.slots = static_cast<int>(jobs.size());
  BatchTrainer trainer(jobs, c);
  for (int64_t m = 0; m < trainer.slots(); ++m) trainer.fill(m, static_cast<size_t>(m));
  const torch::Tensor logits = trainer.logits(jobs[0].domain, inputs);  // (M, N, T, C)
  std::vector<std::vector<std::vector<float>>> out(jobs.size());
  for (size_t j = 0; j < jobs.size(); ++j) {
    const int C = jobs[j].arch.n_classes;
    for (size_t i = 0; i < inputs.size(); ++i) {
      std::vector<float> rows;
      for (size_t k = 0; k < inputs[i].size(); ++k)
        for (int c2 = 0; c2 < C; ++c2)
          rows.push_back(logits[static_cast<int64_t>(j)][static_cast<int64_t>(i)][static_cast<int64_t>(k)][c2].item<float>());
      out[j].push_back(std::move(rows));
    }
    if (models) models->push_back(trainer.snapshot(static_cast<int64_t>(j)));
  }
  return out;
}

}  // namespace mm
