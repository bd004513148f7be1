// Times the languages: the sampler (accepted programs per second, rejection rate) and the evaluator
// (program-input evaluations per second). Writes the programs and inputs it timed so that a peer
// (bench/peer_languages.py) can time the same work; bench/languages.sh runs both and prints the ratio.
// One JSON object on stdout.
#include <CLI/CLI.hpp>
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/rng.h"
#include "core/sample.h"

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"time the sampler and the evaluator of one language"};
  app.option_defaults()->always_capture_default();
  std::string lang_name = "rasp", dump;
  int programs = 300, peer_programs = 20;
  uint64_t seed = 1, eval_inputs = 5000;
  double min_seconds = 1.0;
  app.add_option("--lang", lang_name, "rasp or python");
  app.add_option("--programs", programs, "programs to sample")->check(CLI::Range(1, 1000000));
  app.add_option("--peer-programs", peer_programs, "of those, how many the evaluator is timed on")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--eval-inputs", eval_inputs, "inputs per program (the whole domain if it is smaller)");
  app.add_option("--seed", seed, "sampler seed");
  app.add_option("--min-seconds", min_seconds, "repeat the evaluator timing until it has run this long");
  app.add_option("--dump", dump, "write {lang, sources, inputs} here for the peer");
  CLI11_PARSE(app, argc, argv);
  try {
    const mm::Language& lang = mm::language_by_name(lang_name);
    mm::SampleConfig config;
    config.domain = lang.default_domain();

    // Sampler.
    mm::Sampler sampler(lang, config);
    mm::Rng rng(seed);
    std::vector<std::unique_ptr<mm::Program>> ps;
    auto t0 = std::chrono::steady_clock::now();
    for (int k = 0; k < programs; ++k) ps.push_back(sampler.next(rng));
    const double sample_s = seconds_since(t0);
    const auto& st = sampler.stats();

    // Evaluator, on the first peer_programs programs over the evaluation inputs.
    const auto inputs = config.domain.evaluation_set(eval_inputs, 1);
    const int timed = std::min(peer_programs, programs);
    int64_t evals = 0, checksum = 0;
    t0 = std::chrono::steady_clock::now();
    do {
      for (int k = 0; k < timed; ++k)
        for (const auto& x : inputs) {
          checksum += static_cast<int64_t>(ps[static_cast<size_t>(k)]->evaluate(x).size());
          ++evals;
        }
    } while (seconds_since(t0) < min_seconds);
    const double eval_s = seconds_since(t0);

    nlohmann::json out = {
        {"lang", lang_name},
        {"sampler",
         {{"accepted", st.accepted},
          {"candidates", st.candidates},
          {"seconds", sample_s},
          {"accepted_per_s", static_cast<double>(st.accepted) / sample_s},
          {"rejection_rate", 1.0 - static_cast<double>(st.accepted) / static_cast<double>(st.candidates)},
          {"rejected", st.rejected}}},
        {"evaluator",
         {{"programs", timed},
          {"inputs", inputs.size()},
          {"evals", evals},
          {"seconds", eval_s},
          {"evals_per_s", static_cast<double>(evals) / eval_s},
          {"checksum", checksum}}}};
    std::cout << out.dump() << "\n";
    if (!dump.empty()) {
      nlohmann::json d = {{"lang", lang_name}, {"sources", nlohmann::json::array()}, {"inputs", inputs}};
      for (int k = 0; k < timed; ++k) d["sources"].push_back(ps[static_cast<size_t>(k)]->text());
      std::ofstream(dump) << d.dump();
    }
  } catch (const mm::Error& e) {
    std::cerr << "bench_languages: error: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
