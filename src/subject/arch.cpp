// Shapes, parameter counts, presets.
#include "subject/arch.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/rng.h"

namespace mm {

bool SubjectArch::same_shape_except_classes(const SubjectArch& o) const {
  return d_model == o.d_model && n_layers == o.n_layers && n_heads == o.n_heads && vocab == o.vocab &&
         max_len == o.max_len && block == o.block && head_width == o.head_width && mlp_width == o.mlp_width;
}

std::string SubjectArch::to_json() const {
  nlohmann::json j = {{"d_model", d_model}, {"n_layers", n_layers}, {"n_heads", n_heads}, {"vocab", vocab},
                      {"max_len", max_len}, {"n_classes", n_classes}, {"block", block}};
  if (compiled()) j["head_width"] = head_width, j["mlp_width"] = mlp_width;
  return j.dump();
}

SubjectArch SubjectArch::from_json(const std::string& text, const std::string& what) {
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw Error(what + ": architecture is not a JSON object");
  SubjectArch a;
  auto get = [&](const char* key, int& out) {
    if (!j.contains(key) || !j[key].is_number_integer()) throw Error(what + ": architecture lacks integer '" + key + "'");
    const int64_t v = j[key].get<int64_t>();
    if (v < 0 || v > 1'000'000) throw Error(what + ": architecture field '" + key + "' is out of range");
    out = static_cast<int>(v);
  };
  get("d_model", a.d_model);
  get("n_layers", a.n_layers);
  get("n_heads", a.n_heads);
  get("vocab", a.vocab);
  get("max_len", a.max_len);
  get("n_classes", a.n_classes);
  if (!j.contains("block") || !j["block"].is_string()) throw Error(what + ": architecture lacks 'block'");
  a.block = j["block"].get<std::string>();
  if (a.compiled()) {
    get("head_width", a.head_width);
    get("mlp_width", a.mlp_width);
  }
  try {
    a.validate();
  } catch (const Error& e) {
    throw Error(what + ": " + e.what());
  }
  return a;
}

void SubjectArch::validate() const {
  if (d_model < 1 || d_model > 4096) throw Error("d_model must be in 1..4096");
  if (n_layers < 1 || n_layers > 64) throw Error("n_layers must be in 1..64");
  if (block != "trained" && block != "compiled")
    throw Error("unknown block kind '" + block + "' (this modelmap knows 'trained' and 'compiled')");
  if (compiled()) {
    if (n_heads < 1 || n_heads > 256) throw Error("n_heads must be in 1..256");
    if (head_width < 1 || head_width > 100000) throw Error("head_width must be in 1..100000");
    if (mlp_width < 1 || mlp_width > 1000000) throw Error("mlp_width must be in 1..1000000");
  } else {
    if (n_heads < 1 || d_model % n_heads != 0) throw Error("n_heads must divide d_model");
    if (head_width != 0 || mlp_width != 0) throw Error("head_width and mlp_width are for compiled blocks only");
  }
  if (vocab < 2 || vocab > 100000) throw Error("vocab must be in 2..100000");
  if (max_len < 1 || max_len > 4096) throw Error("max_len must be in 1..4096");
  if (n_classes < 1 || n_classes > 100000) throw Error("n_classes must be in 1..100000");
}

std::vector<ParamSpec> param_specs(const SubjectArch& a) {
  using I = ParamSpec::Init;
  const int64_t d = a.d_model, f = a.d_mlp();
  std::vector<ParamSpec> ps = {{"embed.tokens", {a.vocab, d}, I::Normal}, {"embed.positions", {a.max_len, d}, I::Normal}};
  if (a.compiled()) {  // written by the compiler, never initialised: the Init fields are unused
    const int64_t h = a.d_attn();
    ps.push_back({"embed.bos", {d}, I::Zeros});
    for (int l = 0; l < a.n_layers; ++l) {
      const std::string p = "blocks." + std::to_string(l) + ".";
      ps.push_back({p + "attn.qkv.weight", {d, 3 * h}, I::Zeros});  // columns: q heads, k heads, v heads
      ps.push_back({p + "attn.qkv.bias", {3 * h}, I::Zeros});
      ps.push_back({p + "attn.out.weight", {h, d}, I::Zeros});
      ps.push_back({p + "attn.out.bias", {d}, I::Zeros});
      ps.push_back({p + "mlp.fc.weight", {d, f}, I::Zeros});
      ps.push_back({p + "mlp.fc.bias", {f}, I::Zeros});
      ps.push_back({p + "mlp.proj.weight", {f, d}, I::Zeros});
      ps.push_back({p + "mlp.proj.bias", {d}, I::Zeros});
    }
    ps.push_back({"head.weight", {d, a.n_classes}, I::Zeros});
    ps.push_back({"head.bias", {a.n_classes}, I::Zeros});
    return ps;
  }
  for (int l = 0; l < a.n_layers; ++l) {
    const std::string p = "blocks." + std::to_string(l) + ".";
    ps.push_back({p + "ln1.weight", {d}, I::Ones});
    ps.push_back({p + "ln1.bias", {d}, I::Zeros});
    ps.push_back({p + "attn.qkv.weight", {d, 3 * d}, I::Normal});  // columns: q heads, k heads, v heads
    ps.push_back({p + "attn.qkv.bias", {3 * d}, I::Zeros});
    ps.push_back({p + "attn.out.weight", {d, d}, I::NormalResidual});
    ps.push_back({p + "attn.out.bias", {d}, I::Zeros});
    ps.push_back({p + "ln2.weight", {d}, I::Ones});
    ps.push_back({p + "ln2.bias", {d}, I::Zeros});
    ps.push_back({p + "mlp.fc.weight", {d, f}, I::Normal});
    ps.push_back({p + "mlp.fc.bias", {f}, I::Zeros});
    ps.push_back({p + "mlp.proj.weight", {f, d}, I::NormalResidual});
    ps.push_back({p + "mlp.proj.bias", {d}, I::Zeros});
  }
  ps.push_back({"ln_f.weight", {d}, I::Ones});
  ps.push_back({"ln_f.bias", {d}, I::Zeros});
  ps.push_back({"head.weight", {d, a.n_classes}, I::Normal});
  ps.push_back({"head.bias", {a.n_classes}, I::Zeros});
  return ps;
}

int64_t parameter_count(const SubjectArch& arch) {
  int64_t n = 0;
  for (const auto& p : param_specs(arch)) {
    int64_t k = 1;
    for (int64_t s : p.shape) k *= s;
    n += k;
  }
  return n;
}

std::vector<std::string> preset_names() { return {"tiny", "small", "paper"}; }

SubjectArch choose_arch(const SizePolicy& policy, const InputDomain& domain, int n_classes, Rng& rng) {
  SubjectArch a;
  a.vocab = static_cast<int>(domain.value_max - domain.value_min + 2);
  a.max_len = domain.len_max;
  a.n_classes = n_classes;
  if (policy.preset == "tiny") {
    a.d_model = 16, a.n_layers = 3, a.n_heads = 2;
  } else if (policy.preset == "small") {
    a.d_model = 32, a.n_layers = 2, a.n_heads = 4;
  } else if (policy.preset == "paper") {
    if (policy.min_params > policy.max_params) throw Error("--min-params is above --max-params");
    std::vector<std::pair<double, SubjectArch>> fits;  // (log parameter count, architecture)
    for (int d : {16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512})
      for (int l = 1; l <= 6; ++l)
        for (int h : {1, 2, 4, 8}) {
          if (d % h || d / h < 4) continue;
          SubjectArch c = a;
          c.d_model = d, c.n_layers = l, c.n_heads = h;
          const int64_t n = parameter_count(c);
          if (n >= policy.min_params && n <= policy.max_params) fits.emplace_back(std::log(static_cast<double>(n)), c);
        }
    if (fits.empty())
      throw Error("no paper-preset architecture has between " + std::to_string(policy.min_params) + " and " +
                  std::to_string(policy.max_params) + " parameters");
    // Log-uniform in parameter count: draw a target, take the closest architectures, pick one of them.
    double lo = fits[0].first, hi = fits[0].first;
    for (const auto& f : fits) lo = std::min(lo, f.first), hi = std::max(hi, f.first);
    const double target = lo + (hi - lo) * rng.uniform01();
    std::stable_sort(fits.begin(), fits.end(), [&](const auto& x, const auto& y) {
      return std::abs(x.first - target) < std::abs(y.first - target);
    });
    a = fits[rng.index(std::min<size_t>(fits.size(), 3))].second;
  } else {
    throw Error("unknown preset '" + policy.preset + "' (choose tiny, small or paper)");
  }
  return a;
}

double default_learning_rate(const SubjectArch& arch) {
  return 1e-3 * std::min(1.0, std::sqrt(64.0 / arch.d_model));
}

}  // namespace mm
