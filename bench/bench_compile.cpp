// Times the RASP compiler: samples programs as a corpus build does, compiles each on one thread, and
// reports the acceptance rate, compiled models per second (compiling only, then the check against the
// evaluator on every input separately), and the compiled models' sizes. One JSON object on stdout.
// No peer: tracr, the compiler this one follows, cannot be installed here (PyPI is unreachable).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <iostream>
#include <numeric>
#include <map>
#include <nlohmann/json.hpp>

#include "compile/compile.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/sample.h"
#include "rasp/rasp.h"

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"time the RASP compiler on sampled programs"};
  app.option_defaults()->always_capture_default();
  int programs = 1000;
  uint64_t seed = 1;
  bool check = true;
  app.add_option("--programs", programs, "programs to sample and compile")->check(CLI::Range(1, 1000000));
  app.add_option("--seed", seed, "sampler seed");
  app.add_option("--check", check, "also check every compiled model against the evaluator on every input");
  CLI11_PARSE(app, argc, argv);
  try {
    const mm::Language& lang = mm::rasp::language();
    mm::SampleConfig config;
    config.domain = lang.default_domain();
    mm::Sampler sampler(lang, config);
    mm::Rng rng(seed);
    std::vector<mm::rasp::Program> ps;
    for (int k = 0; k < programs; ++k) ps.push_back(mm::rasp::parse(sampler.next(rng)->text()));

    std::vector<mm::compile::Compiled> compiled;
    std::vector<size_t> source;  // index into ps of each compiled model
    std::map<std::string, int> refusals;
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t k = 0; k < ps.size(); ++k) {
      try {
        compiled.push_back(mm::compile::compile_program(ps[k], config.domain));
        source.push_back(k);
      } catch (const mm::compile::CompileError& e) {
        std::string why = e.what();
        why = why.substr(why.find(": ") + 2);  // drop the statement's name
        for (const char* cut : {" at position", " on input", " on some input", " (", ";"})
          if (const auto at = why.find(cut); at != std::string::npos) why = why.substr(0, at);
        if (why.rfind("reads ", 0) == 0) why = "reads an s-op that can be None as a number";
        ++refusals[why];
      }
    }
    const double compile_s = seconds_since(t0);
    // The same programs under --strict (tracr's restrictions): acceptance only.
    mm::compile::CompileOptions strict;
    strict.tracr_strict = true;
    int64_t strict_compiled = 0;
    for (const auto& p : ps) {
      try {
        mm::compile::compile_program(p, config.domain, strict);
        ++strict_compiled;
      } catch (const mm::compile::CompileError&) {
      }
    }

    int64_t exact = 0;
    double check_s = 0;
    if (check) {
      const auto t1 = std::chrono::steady_clock::now();
      for (size_t k = 0; k < compiled.size(); ++k) exact += mm::compile::check_compiled(ps[source[k]], compiled[k]).exact();
      check_s = seconds_since(t1);
    }
    std::vector<int64_t> params;
    std::map<int, int> layers;
    for (const auto& c : compiled) {
      params.push_back(mm::parameter_count(c.model.arch));
      ++layers[c.model.arch.n_layers];
    }
    std::sort(params.begin(), params.end());
    nlohmann::json out = {{"programs", programs},
                          {"compiled", compiled.size()},
                          {"acceptance", static_cast<double>(compiled.size()) / programs},
                          {"acceptance_strict", static_cast<double>(strict_compiled) / programs},
                          {"refusals", refusals},
                          {"compile_seconds", compile_s},
                          {"programs_per_second", programs / compile_s},
                          {"compiled_models_per_second", static_cast<double>(compiled.size()) / compile_s}};
    if (check) out["exact"] = exact, out["check_seconds"] = check_s;
    if (!params.empty())
      out["parameters"] = {{"min", params.front()}, {"median", params[params.size() / 2]}, {"max", params.back()},
                           {"mean", std::accumulate(params.begin(), params.end(), 0.0) / static_cast<double>(params.size())}};
    nlohmann::json lj;
    for (const auto& [l, n] : layers) lj[std::to_string(l)] = n;
    out["layers"] = lj;
    std::cout << out.dump(1) << "\n";
    return 0;
  } catch (const mm::Error& e) {
    std::cerr << "bench_compile: " << e.what() << "\n";
    return 2;
  }
}
