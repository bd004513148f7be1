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

    // Grammar: the tokens allowed after every prefix of the timed programs (what constrained decoding and
    // repair ask). For list-Python, against its definition measured side by side: try each token of the
    // vocabulary and keep it when prefix + token parses or fails only at its end. (RASP's grammar is
    // stricter than "still parses" — it also avoids dead ends — so it has no such reference.)
    const auto& vocab = lang.vocabulary();
    auto reference_allowed = [&](std::vector<std::string> seq) {
      size_t n = 0;
      try {
        lang.detokenize(seq);
        ++n;
      } catch (const mm::ParseError&) {
      }
      seq.emplace_back();
      for (size_t k = 3; k < vocab.size(); ++k) {
        seq.back() = vocab[k];
        try {
          lang.detokenize(seq);
          ++n;
        } catch (const mm::ParseError& e) {
          n += e.column == static_cast<int>(seq.size() + 1);
        }
      }
      return n;
    };
    std::vector<std::vector<std::string>> prefixes;
    for (int k = 0; k < timed; ++k) {
      const std::vector<std::string> tokens = ps[static_cast<size_t>(k)]->tokens();
      for (size_t t = 0; t <= tokens.size(); ++t) prefixes.emplace_back(tokens.begin(), tokens.begin() + static_cast<long>(t));
    }
    size_t allowed = 0, reference = 0;
    t0 = std::chrono::steady_clock::now();
    for (const auto& p : prefixes) allowed += lang.next_token_ids(p).size();
    const double grammar_s = seconds_since(t0);
    const bool has_reference = lang_name == "python";
    t0 = std::chrono::steady_clock::now();
    if (has_reference)
      for (const auto& p : prefixes) reference += reference_allowed(p);
    const double reference_s = seconds_since(t0);
    if (has_reference && allowed != reference)
      throw mm::Error("next_token_ids and the reference disagree on the allowed tokens");

    nlohmann::json out = {
        {"grammar",
         {{"prefixes", prefixes.size()},
          {"allowed", allowed},
          {"ms_per_call", grammar_s / static_cast<double>(prefixes.size()) * 1e3},
          {"reference_ms_per_call", has_reference ? nlohmann::json(reference_s / static_cast<double>(prefixes.size()) * 1e3)
                                                  : nlohmann::json()}}},
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
