// `modelmap sample`: random programs that pass the behavioural filters, as text or JSON lines.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "core/error.h"
#include "core/reduce.h"
#include "core/rng.h"
#include "core/sample.h"

namespace mm::cli {

Command add_sample_command(CLI::App& root) {
  struct Options {
    std::string lang = "rasp";
    int64_t count = 5;
    uint64_t seed = 0;
    bool jsonl = false;
    bool stats = false;
    bool reduce = false;
    std::string out_dir;
    int min_size = 0, max_size = 0;
    DomainFlags domain;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand("sample", "print random programs that pass the filters (paper, Appendix B)");
  add_language_flag(*app, o->lang);
  app->add_option("--count", o->count, "how many programs")->check(CLI::Range(int64_t{1}, int64_t{10000000}));
  app->add_option("--seed", o->seed, "random seed; the same seed gives the same programs");
  app->add_flag("--jsonl", o->jsonl, "one JSON object per line: {\"lang\", \"source\", \"tokens\"}");
  app->add_option("--out-dir", o->out_dir, "also write each program to DIR/<lang>_<k>.py (DIR is created)");
  app->add_flag("--stats", o->stats, "print candidate and rejection counts to stderr at the end (with --reduce, also how many reduced)");
  app->add_flag("--reduce", o->reduce,
                "print each program reduced: the shortest equivalent program the language's shrinking edits reach "
                "(equivalent on the whole domain, or a fixed 100,000-input sample of it)");
  app->add_option("--min-size", o->min_size, "fewest operations (rasp) or outer loops (python)")
      ->default_str("rasp 2, python 1");
  app->add_option("--max-size", o->max_size, "most operations (rasp) or outer loops (python)")
      ->default_str("rasp 6, python 3");
  o->domain.add_to(*app);

  return {app, [o] {
            const Language& lang = language_by_name(o->lang);
            SampleConfig config;
            config.generate = {o->min_size, o->max_size};
            config.domain = o->domain.resolve(lang);
            Sampler sampler(lang, config);
            Rng rng(o->seed);
            if (!o->out_dir.empty()) {
              std::error_code ec;
              std::filesystem::create_directories(o->out_dir, ec);
              if (ec) throw Error("cannot create directory '" + o->out_dir + "': " + ec.message());
            }
            const std::vector<Input> reduce_inputs = o->reduce ? reduction_inputs(config.domain) : std::vector<Input>{};
            int64_t reduced = 0, tokens_before = 0, tokens_after = 0;
            for (int64_t k = 0; k < o->count; ++k) {
              auto p = sampler.next(rng);
              if (o->reduce) {
                Reduction r = reduce_program(lang, *p, reduce_inputs);
                reduced += r.tokens_after < r.tokens_before;
                tokens_before += static_cast<int64_t>(r.tokens_before);
                tokens_after += static_cast<int64_t>(r.tokens_after);
                p = std::move(r.program);
              }
              if (!o->out_dir.empty()) {
                char name[32];
                std::snprintf(name, sizeof name, "_%04lld.py", static_cast<long long>(k + 1));
                const std::string path = o->out_dir + "/" + o->lang + name;
                std::ofstream f(path);
                f << p->text();
                if (!f) throw Error("cannot write '" + path + "'");
              }
              if (o->jsonl) {
                nlohmann::json j = {{"lang", o->lang}, {"source", p->text()}, {"tokens", p->tokens()}};
                if (o->reduce) j["reduced"] = true;  // what mapper train --synthetic asks of its programs
                std::cout << j.dump() << "\n";
              } else {
                std::cout << (k ? "\n" : "") << "# program " << (k + 1) << " of " << o->count << " (seed "
                          << o->seed << ")\n"
                          << p->text();
              }
            }
            std::cout.flush();
            if (o->stats) {
              const SampleStats& s = sampler.stats();
              std::cerr << "candidates " << s.candidates << ", accepted " << s.accepted;
              for (const auto& [reason, n] : s.rejected) std::cerr << ", " << reason << " " << n;
              std::cerr << "\n";
              if (o->reduce) {
                char line[200];
                std::snprintf(line, sizeof line, "reduced %lld of %lld programs (%.1f%%); tokens %lld -> %lld (%.1f%% fewer)\n",
                              static_cast<long long>(reduced), static_cast<long long>(o->count), 100.0 * static_cast<double>(reduced) / static_cast<double>(o->count),
                              static_cast<long long>(tokens_before), static_cast<long long>(tokens_after),
                              100.0 * static_cast<double>(tokens_before - tokens_after) / static_cast<double>(std::max<int64_t>(tokens_before, 1)));
                std::cerr << line;
              }
            }
            return 0;
          }};
}

}  // namespace mm::cli
