// In `modelmap-torch`: the torch commands themselves.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "cli/torch_bridge.h"
#include "core/error.h"
#include "core/language.h"
#include "core/safetensors.h"
#include "mapper/checkpoint.h"
#include "mapper/decode.h"
#include "mapper/device.h"

namespace mm::cli {

namespace {
std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop = true; }
}  // namespace

void remember_command_line(int, char**) {}

int run_corpus_build(const BuildConfig& c, const std::string& out) {
  auto corpus = Corpus::open(out, /*create=*/true);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  const BuildSummary s = corpus_build(*corpus, c, [] { return g_stop.load(); },
                                      [](const std::string& note) { std::cerr << note << "\n"; });
  std::printf("%s: %lld programs listed, %lld in this shard, %lld already built, %lld refused; trained %lld "
              "(learned %lld, not learned %lld) in %.1f s",
              out.c_str(), static_cast<long long>(s.listed), static_cast<long long>(s.in_shard),
              static_cast<long long>(s.already), static_cast<long long>(s.refused), static_cast<long long>(s.trained),
              static_cast<long long>(s.learned), static_cast<long long>(s.trained - s.learned), s.stats.seconds);
  if (s.stats.seconds > 0)
    std::printf(", %.0f models/hour, %.2f GFLOP/s", s.trained / s.stats.seconds * 3600,
                s.stats.flops / s.stats.seconds / 1e9);
  std::printf("\n");
  if (s.interrupted) {
    std::fprintf(stderr, "modelmap: interrupted; rerun the same command to resume\n");
    return 130;
  }
  return 0;
}

int run_mapper_train(const MapperTrainConfig& config) {
  train_mapper(config, std::cerr);
  std::printf("%s: trained\n", config.out.c_str());
  return 0;
}

int run_decompile(const DecompileOptions& o) {
  const torch::Device device = parse_device(o.device);
  const SubjectModel subject = subject_from_safetensors(safetensors_read_file(o.model), o.model);
  Mapper mapper = load_mapper(o.mapper, subject.language, device);
  const EncoderInput in = encoder_input(subject, mapper->config());
  torch::NoGradGuard no_grad;
  const Memory memory = mapper->encode(collate({&in}, mapper->config(), device));
  const std::vector<Decoded> out = decode_program(mapper, memory, o.beam);
  if (out.empty())
    throw Error("the mapper wrote no complete program within " + std::to_string(mapper->config().max_tokens) + " tokens");
  std::cout << language_by_name(subject.language).detokenize(out[0].tokens)->text();
  return 0;
}

int run_eval(const EvalOptions& o, const std::string& json) {
  const EvalReport r = evaluate_mapper(o, std::cerr);
  std::cout << format_report(r);
  if (!json.empty()) {
    std::ofstream f(json);
    f << report_json(r) << "\n";
    if (!f) throw Error("cannot write '" + json + "'");
  }
  return 0;
}

}  // namespace mm::cli
