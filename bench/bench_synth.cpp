// The synthesizer's oracle check: samples RASP programs as a corpus build does (behavioural filters on),
// keeps those of at most --max-ops operations, gives the synthesizer each one's own outputs on the whole
// domain (a perfect model), and counts how many come back as an equivalent program (the same outputs on
// every input of the domain) within the budget. One JSON object on stdout; with --list, a line per
// program on stderr.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/rng.h"
#include "core/sample.h"
#include "decompile/pipeline.h"
#include "decompile/synth.h"
#include "listpy/listpy.h"
#include "rasp/rasp.h"

int main(int argc, char** argv) {
  CLI::App app{"the RASP synthesizer against sampled programs' own outputs"};
  app.option_defaults()->always_capture_default();
  int programs = 500;
  int max_ops = 4;
  uint64_t seed = 1;
  double seconds = mm::SynthOptions{}.max_seconds;
  bool list = false, verbose = false;
  std::string from, lang_name = "rasp";
  app.add_option("--lang", lang_name, "rasp, or python (then --max-ops counts outer loops, and equivalence is on the 10,000 verification inputs)")
      ->check(CLI::IsMember({"rasp", "python"}));
  app.add_option("--programs", programs, "programs to check")->check(CLI::Range(1, 1000000));
  app.add_option("--max-ops", max_ops, "keep sampled programs of at most this many operations")->check(CLI::Range(1, 32));
  app.add_option("--seed", seed, "sampler seed");
  app.add_option("--search-seconds", seconds, "budget per program")->check(CLI::Range(0.001, 1e6));
  int threads = 1;
  size_t per_length = 512;
  app.add_option("--threads", threads, "searches side by side (synthesis's threads)")->check(CLI::Range(1, 3));
  app.add_option("--per-length", per_length, "the first search's inputs per length")->check(CLI::Range(1, 100000));
  app.add_option("--from", from, "programs from this JSON-lines file ({\"source\": ...} or {\"tokens\": ...} per line) instead of sampled");
  int beam = mm::SynthOptions{}.listpy_beam;
  double alpha = mm::SynthOptions{}.listpy_alpha;
  app.add_option("--beam", beam, "list-Python: the beam's width")->check(CLI::Range(1, 100000));
  app.add_option("--alpha", alpha, "list-Python: the weight of unexplained positions in ranking partial programs")->check(CLI::Range(0.0, 10.0));
  bool no_repair = false;
  double repair_seconds = 5;
  int64_t repair_edits = 1000;
  app.add_flag("--no-repair", no_repair, "list-Python: the synthesizer alone, without the pipeline's repair after it");
  app.add_option("--repair-seconds", repair_seconds, "list-Python: the repair's budget after synthesis, seconds")->check(CLI::Range(0.001, 1e6));
  app.add_option("--repair-edits", repair_edits, "list-Python: the repair's budget after synthesis, edits run")->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  app.add_flag("--list", list, "a line per program on stderr");
  app.add_flag("--verbose", verbose, "the search's progress lines on stderr");
  CLI11_PARSE(app, argc, argv);
  try {
    const bool python = lang_name == "python";
    const mm::Language& lang = python ? mm::listpy::language() : mm::rasp::language();
    mm::SampleConfig config;
    config.domain = lang.default_domain();
    mm::Sampler sampler(lang, config);
    mm::Rng rng(seed);
    int equivalent = 0, done = 0;
    double total_seconds = 0, worst_seconds = 0;
    int64_t agree = 0, positions = 0;
    std::map<int, std::pair<int, int>> by_ops;  // ops -> (equivalent, programs)
    std::vector<std::string> sources;
    if (!from.empty()) {
      std::ifstream in(from);
      if (!in) throw mm::Error("cannot read '" + from + "'");
      std::string line;
      while (std::getline(in, line)) {
        if (line.empty()) continue;
        // {"source": text} or {"tokens": "canonical tokens, space-separated"} (what --list prints).
        const nlohmann::json j = nlohmann::json::parse(line);
        if (j.contains("source")) {
          sources.push_back(j.at("source").get<std::string>());
        } else {
          std::vector<std::string> toks;
          std::istringstream words(j.at("tokens").get<std::string>());
          for (std::string w; words >> w;) toks.push_back(w);
          sources.push_back(lang.detokenize(toks)->text());
        }
      }
    }
    size_t next_source = 0;
    while (done < programs) {
      if (!from.empty() && next_source == sources.size()) break;
      const std::unique_ptr<mm::Program> p = from.empty() ? sampler.next(rng) : lang.parse(sources[next_source++]);
      const int ops = python ? static_cast<int>(mm::listpy::parse(p->text()).loops.size())
                             : static_cast<int>(mm::rasp::parse(p->text()).statements.size());
      if (ops > max_ops) continue;
      const mm::Behaviour b = mm::program_behaviour(*p, config.domain);
      mm::SynthOptions o;
      o.max_seconds = seconds;
      o.threads = threads;
      o.search_per_length = per_length;
      o.listpy_beam = beam;
      o.listpy_alpha = alpha;
      if (verbose) o.progress = [](const std::string& line) { std::cerr << line << "\n"; };
      mm::SynthResult r;
      if (python) {  // what decompile and eval run: the pipeline's synthesis, then its repair
        mm::DecompileConfig c;
        c.search = mm::SearchKind::Synth;
        c.synth = o;
        c.threads = threads;
        c.repair = {repair_edits, repair_seconds, threads, true};
        c.synth_repair = !no_repair;
        const mm::DecompileResult d = mm::decompile_behaviour(lang, b, config.domain, {}, c);
        r = d.synth;
        r.found = !d.ranked.empty();
        if (r.found) {
          r.tokens = d.ranked[0].tokens;
          r.agreeing = d.ranked[0].agreement.positions;
        }
        r.seconds = d.search_seconds;
      } else {
        r = mm::synthesize_rasp(b, config.domain, o);
      }
      const bool eq = r.found && r.agreeing == r.positions;
      equivalent += eq;
      ++done;
      by_ops[ops].first += eq;
      ++by_ops[ops].second;
      total_seconds += r.seconds;
      worst_seconds = std::max(worst_seconds, r.seconds);
      agree += r.agreeing;
      positions += r.positions;
      if (list) {
        std::string found;
        for (const auto& t : r.tokens) found += (found.empty() ? "" : " ") + t;
        std::cerr << (eq ? "ok  " : "MISS") << " ops " << ops << " size " << r.size << " cost " << r.complete_cost << " "
                  << r.seconds << " s " << r.expressions << " expr, fidelity " << static_cast<double>(r.agreeing) / static_cast<double>(r.positions);
        if (python) {  // list-Python reads better as text
          std::cerr << "\ntruth:\n" << p->text() << "found:\n" << (r.found ? lang.detokenize(r.tokens)->text() : "(none)\n");
        } else {
          std::cerr << "; truth: ";
          for (const auto& t : p->tokens()) std::cerr << t << " ";
          std::cerr << "\n      found: " << found << "\n";
        }
      }
    }
    nlohmann::json j = {{"programs", done},
                        {"language", lang_name},
                        {"max_ops", max_ops},
                        {"seed", seed},
                        {"search_seconds", seconds},
                        {"threads", threads},
                        {"equivalent", equivalent},
                        {"equivalent_rate", static_cast<double>(equivalent) / done},
                        {"fidelity_position", static_cast<double>(agree) / static_cast<double>(positions)},
                        {"seconds_per_program", total_seconds / done},
                        {"worst_seconds", worst_seconds}};
    for (const auto& [ops, c] : by_ops) j["by_ops"][std::to_string(ops)] = {{"equivalent", c.first}, {"programs", c.second}};
    std::cout << j.dump(2) << "\n";
    return 0;
  } catch (const mm::Error& e) {
    std::cerr << "bench_synth: " << e.what() << "\n";
    return 2;
  } catch (const nlohmann::json::exception& e) {
    std::cerr << "bench_synth: --from: a line is not a JSON object with \"source\" or \"tokens\": " << e.what() << "\n";
    return 2;
  }
}
