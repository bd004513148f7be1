// Times the batched subject trainer: samples programs, trains each to convergence (or its step budget)
// with `--slots` models at once, and reports models to convergence per hour and the trainer's GFLOP/s
// against a large-sgemm peak measured in the same run. Writes the programs (with their architecture and
// seeds) for the PyTorch peer (bench/peer_subjects.py). One JSON object on stdout; a line per model on
// stderr.
#include <CLI/CLI.hpp>
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/error.h"
#include "core/rng.h"
#include "core/sample.h"
#include "subject/trainer.h"

namespace {

// Peak of one large float32 matrix multiply on this machine, GFLOP/s.
double sgemm_peak_gflops() {
  const int64_t n = 2048;
  auto a = torch::randn({n, n}), b = torch::randn({n, n});
  auto c = torch::mm(a, b);
  const auto t0 = std::chrono::steady_clock::now();
  const int reps = 5;
  for (int k = 0; k < reps; ++k) c = torch::mm(a, b);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return 2.0 * n * n * n * reps / s / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"time the batched subject trainer"};
  app.option_defaults()->always_capture_default();
  std::string lang_name = "rasp", preset = "small", dump;
  int programs = 32;
  uint64_t seed = 1;
  mm::TrainConfig config;
  app.add_option("--lang", lang_name, "rasp or python");
  app.add_option("--programs", programs, "programs to train")->check(CLI::Range(1, 100000));
  app.add_option("--preset", preset, "tiny, small or paper");
  app.add_option("--seed", seed, "sampler seed");
  int64_t min_params = 10'000, max_params = 10'000'000;
  app.add_option("--min-params", min_params, "paper preset: fewest parameters");
  app.add_option("--max-params", max_params, "paper preset: most parameters");
  app.add_option("--slots", config.slots, "models trained at once");
  app.add_option("--batch", config.batch, "inputs per model per step");
  app.add_option("--max-steps", config.max_steps, "step budget per model");
  app.add_option("--views", config.views, "views per model");
  app.add_option("--threads", config.threads, "threads (0 = default)");
  app.add_option("--trainer", config.trainer, "auto, fast or torch")->check(CLI::IsMember({"auto", "fast", "torch"}));
  app.add_option("--lr", config.lr, "learning rate (0 = by architecture)");
  app.add_option("--dump", dump, "write the programs and settings here for the peer");
  CLI11_PARSE(app, argc, argv);
  try {
    const mm::Language& lang = mm::language_by_name(lang_name);
    mm::SampleConfig sc;
    sc.domain = lang.default_domain();
    mm::Sampler sampler(lang, sc);
    mm::Rng rng(seed);
    mm::SizePolicy policy;
    policy.preset = preset;
    policy.min_params = min_params;
    policy.max_params = max_params;
    std::vector<mm::SubjectJob> jobs;
    for (int k = 0; k < programs; ++k) {
      std::shared_ptr<const mm::Program> p = sampler.next(rng);
      jobs.push_back(mm::make_subject_job(k, p, lang_name, sc.domain, policy, config, seed * 1000003 + k));
    }
    if (config.threads > 0) torch::set_num_threads(config.threads);
    const double peak = sgemm_peak_gflops();
    int learned = 0;
    double steps_learned = 0;
    std::vector<nlohmann::json> per_model(jobs.size());
    const mm::TrainStats st = mm::train_subjects(jobs, config, [&](mm::SubjectResult&& r) {
      learned += r.status == "learned";
      if (r.status == "learned") steps_learned += static_cast<double>(r.steps);
      per_model[static_cast<size_t>(r.id)] = {{"status", r.status}, {"steps", r.steps}, {"accuracy", r.accuracy.per_position},
                                              {"views", r.views.size()}, {"wall_s", r.wall_s}};
      std::cerr << "model " << r.id << ": " << r.status << " after " << r.steps << " steps, accuracy "
                << r.accuracy.per_position << ", " << r.views.size() << " views, " << r.wall_s << " s\n";
    });
    const double gflops = st.flops / st.seconds / 1e9;
    nlohmann::json out = {{"lang", lang_name},
                          {"preset", preset},
                          {"params", mm::parameter_count(jobs[0].arch)},
                          {"architecture", nlohmann::json::parse(jobs[0].arch.to_json())},
                          {"programs", programs},
                          {"slots", config.slots},
                          {"learned", learned},
                          {"mean_steps_learned", learned ? steps_learned / learned : 0},
                          {"seconds", st.seconds},
                          {"model_steps", st.model_steps},
                          {"models_per_hour", programs / st.seconds * 3600},
                          {"learned_per_hour", learned / st.seconds * 3600},
                          {"gflops", gflops},
                          {"sgemm_peak_gflops", peak},
                          {"fraction_of_peak", gflops / peak},
                          {"threads", config.threads > 0 ? config.threads : torch::get_num_threads()},
                          {"trainer", mm::uses_fast_trainer(jobs, config) ? "fast" : "torch"},
                          {"models", per_model}};
    std::cout << out.dump() << "\n";
    if (!dump.empty()) {
      nlohmann::json d = {{"lang", lang_name}, {"config", {{"batch", config.batch}, {"max_steps", config.max_steps},
                          {"views", config.views}, {"view_every", config.view_every}, {"check_every", config.check_every},
                          {"threshold", config.threshold}, {"warmup", config.warmup}, {"weight_decay", config.weight_decay},
                          {"beta1", config.beta1}, {"beta2", config.beta2}, {"clip", config.clip},
                          {"lr", config.lr > 0 ? config.lr : mm::default_learning_rate(jobs[0].arch)}}},
                          {"jobs", nlohmann::json::array()}};
      for (const auto& j : jobs)
        d["jobs"].push_back({{"source", j.source}, {"arch", nlohmann::json::parse(j.arch.to_json())}, {"seed", j.seed},
                             {"domain", {j.domain.value_min, j.domain.value_max, j.domain.len_min, j.domain.len_max}}});
      std::ofstream(dump) << d.dump();
    }
  } catch (const mm::Error& e) {
    std::cerr << "bench_subjects: error: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
