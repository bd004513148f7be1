// `modelmap corpus build|merge|stats|list|export` and `modelmap predict`.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/torch_bridge.h"
#include "core/error.h"
#include "core/json_io.h"
#include "corpus/build.h"
#include "subject/model.h"

namespace mm::cli {

namespace {

std::string bucket_of(int64_t params) {
  if (params < 10'000) return "<10K";
  if (params < 100'000) return "10K-100K";
  if (params < 1'000'000) return "100K-1M";
  if (params < 10'000'000) return "1M-10M";
  return ">=10M";
}

void parse_shard(const std::string& text, int& index, int& count) {
  const auto slash = text.find('/');
  try {
    if (slash == std::string::npos) throw std::invalid_argument("no slash");
    size_t used = 0;
    index = std::stoi(text.substr(0, slash), &used);
    if (used != slash) throw std::invalid_argument("junk");
    count = std::stoi(text.substr(slash + 1), &used);
    if (used != text.size() - slash - 1) throw std::invalid_argument("junk");
  } catch (const std::exception&) {
    throw Error("--shard must look like i/N, e.g. 0/4 (got '" + text + "')");
  }
  if (count < 1 || index < 0 || index >= count) throw Error("--shard " + text + ": need 0 <= i < N");
}

Command add_build(CLI::App& corpus) {
  struct Options {
    BuildConfig c;
    std::string out, shard = "0/1", device = "cpu";
    DomainFlags domain;
  };
  auto o = std::make_shared<Options>();
  o->c.train = TrainConfig{};
  CLI::App* app = corpus.add_subcommand("build", "train (or compile) a subject model for each program and store it (resumable)");
  add_language_flag(*app, o->c.language);
  app->add_option("--origin", o->c.origin, "trained: train a model per program; compiled: compile each RASP program "
                                           "(views: the model, then rotations of its residual basis)")
      ->check(CLI::IsMember({"trained", "compiled"}));
  app->add_option("--out", o->out, "corpus file (created if missing; an existing one is resumed)")->required();
  app->add_option("--programs", o->c.programs, "distinct programs to sample")->check(CLI::Range(int64_t{1}, int64_t{10'000'000}));
  app->add_option("--from", o->c.from, "train on the programs of this JSON-lines file ({\"source\": ...} per line, as `sample --jsonl` prints) instead");
  app->add_option("--seed", o->c.seed, "seed of the program list and of every model");
  app->add_option("--shard", o->shard, "build only programs i, i+N, i+2N, ... of the list (for several machines)");
  app->add_option("--preset", o->c.size.preset, "model size: tiny (~10K parameters), small (~26K), paper (10K-10M per program)")
      ->check(CLI::IsMember({"tiny", "small", "paper"}));
  app->add_option("--min-params", o->c.size.min_params, "paper preset: smallest model")->check(CLI::Range(int64_t{1}, int64_t{1'000'000'000}));
  app->add_option("--max-params", o->c.size.max_params, "paper preset: largest model")->check(CLI::Range(int64_t{1}, int64_t{1'000'000'000}));
  app->add_option("--views", o->c.train.views, "views kept per learned model (checkpoints at and after convergence)")->check(CLI::Range(1, 100));
  app->add_option("--view-every", o->c.train.view_every, "training steps between views")->check(CLI::Range(1, 1'000'000));
  app->add_option("--slots", o->c.train.slots, "models trained at once")->check(CLI::Range(1, 4096));
  app->add_option("--batch", o->c.train.batch, "fresh inputs per model per step")->check(CLI::Range(1, 65536));
  app->add_option("--max-steps", o->c.train.max_steps, "step budget; a model not converged by then is stored as 'not learned'")->check(CLI::Range(1, 100'000'000));
  app->add_option("--threshold", o->c.train.threshold, "converged: per-position accuracy on the evaluation set")->check(CLI::Range(0.0, 1.0));
  app->add_option("--lr", o->c.train.lr, "learning rate (0 = 1e-3, falling as 1/sqrt(d_model) above 64)")->check(CLI::Range(0.0, 1.0));
  app->add_option("--device", o->device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  app->add_option("--threads", o->c.train.threads, "training threads (0 = every core)")->check(CLI::Range(0, 1024));
  app->add_option("--trainer", o->c.train.trainer, "fast (hand-written, cpu), torch, or auto (fast where it applies)")
      ->check(CLI::IsMember({"auto", "fast", "torch"}));
  o->domain.add_to(*app);
  return {app, [o] {
            BuildConfig c = o->c;
            parse_shard(o->shard, c.shard_index, c.shard_count);
            c.train.device = o->device;
            c.domain = o->domain.resolve(language_by_name(c.language));
            if (c.size.min_params > c.size.max_params) throw Error("--min-params is above --max-params");
            return run_corpus_build(c, o->out);
          }};
}

Command add_merge(CLI::App& corpus) {
  struct Options {
    std::vector<std::string> inputs;
    std::string out;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = corpus.add_subcommand("merge", "join corpora built separately (a program built twice is kept once)");
  app->add_option("inputs", o->inputs, "corpus files to merge")->required();
  app->add_option("-o,--out", o->out, "merged corpus (created if missing; appended to otherwise)")->required();
  return {app, [o] {
            for (const auto& in : o->inputs)
              if (std::filesystem::exists(o->out) && std::filesystem::equivalent(in, o->out))
                throw Error("'" + in + "' is both an input and the output");
            auto target = Corpus::open(o->out, /*create=*/true);
            for (const auto& in : o->inputs) {
              const auto [programs, models] = corpus_merge(*target, in);
              std::printf("%s: %lld programs, %lld models added\n", in.c_str(), static_cast<long long>(programs),
                          static_cast<long long>(models));
            }
            return 0;
          }};
}

Command add_migrate(CLI::App& corpus) {
  struct Options {
    std::string path;
    int threads = 0;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = corpus.add_subcommand("migrate",
                                        "bring an older corpus to this modelmap's format in place (version 1 -> 2: "
                                        "adds each program's reduced form; resumable)");
  app->add_option("corpus", o->path, "corpus file")->required();
  app->add_option("--threads", o->threads, "programs reduced at once (0 = every core)")->check(CLI::Range(0, 1024));
  return {app, [o] {
            const int threads = o->threads > 0 ? o->threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
            corpus_migrate(o->path, threads, [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); });
            return 0;
          }};
}

Command add_stats(CLI::App& corpus) {
  auto path = std::make_shared<std::string>();
  CLI::App* app = corpus.add_subcommand("stats", "counts by language, preset, size, status and split; steps to convergence");
  app->add_option("corpus", *path, "corpus file")->required();
  return {app, [path] {
            auto c = Corpus::open(*path, /*create=*/false, /*readonly=*/true);
            Db& db = c->db();
            auto counts = [&](const std::string& sql) {
              std::vector<std::pair<std::string, int64_t>> rows;
              Statement q(db, sql);
              while (q.step()) rows.emplace_back(q.text(0), q.int64(1));
              std::string s;
              for (const auto& [k, n] : rows) s += (s.empty() ? "" : ", ") + k + " " + std::to_string(n);
              return s.empty() ? std::string("-") : s;
            };
            Statement totals(db, "SELECT (SELECT count(*) FROM programs), (SELECT count(*) FROM models), (SELECT count(*) FROM views)");
            totals.step();
            std::printf("%s: %lld programs, %lld models, %lld views\n", path->c_str(), static_cast<long long>(totals.int64(0)),
                        static_cast<long long>(totals.int64(1)), static_cast<long long>(totals.int64(2)));
            std::printf("programs by language:  %s\n", counts("SELECT language, count(*) FROM programs GROUP BY 1 ORDER BY 1").c_str());
            std::printf("programs by split:     %s\n", counts("SELECT split, count(*) FROM programs GROUP BY 1 ORDER BY 1").c_str());
            std::printf("views by split:        %s\n", counts("SELECT p.split, count(*) FROM views v JOIN models m ON m.id = v.model_id "
                                                              "JOIN programs p ON p.id = m.program_id GROUP BY 1 ORDER BY 1").c_str());
            {
              // Reduced forms (format 2): how many programs reduce, and the tokens saved (words of the canonical tokens).
              Statement red(db, "SELECT tokens, reduced_tokens FROM programs");
              int64_t n = 0, shorter = 0, before = 0, after = 0;
              auto words = [](const std::string& t) { return t.empty() ? 0 : 1 + std::count(t.begin(), t.end(), ' '); };
              while (red.step()) {
                ++n;
                const std::string a = red.text(0), b = red.text(1);
                shorter += a != b;
                before += words(a);
                after += words(b);
              }
              std::printf("programs reduced:      %lld of %lld (%.1f%%); tokens %lld -> %lld (%.1f%% fewer)\n",
                          static_cast<long long>(shorter), static_cast<long long>(n), n ? 100.0 * static_cast<double>(shorter) / static_cast<double>(n) : 0.0,
                          static_cast<long long>(before), static_cast<long long>(after),
                          before ? 100.0 * static_cast<double>(before - after) / static_cast<double>(before) : 0.0);
            }
            std::printf("models by origin:      %s\n", counts("SELECT origin, count(*) FROM models GROUP BY 1 ORDER BY 1").c_str());
            std::printf("models by preset:      %s\n", counts("SELECT preset, count(*) FROM models GROUP BY 1 ORDER BY 1").c_str());
            std::printf("models by status:      %s\n", counts("SELECT status, count(*) FROM models GROUP BY 1 ORDER BY 1").c_str());
            std::map<std::string, int64_t> buckets;
            std::vector<int64_t> steps;
            Statement q(db, "SELECT params, status, steps FROM models");
            while (q.step()) {
              ++buckets[bucket_of(q.int64(0))];
              if (q.text(1) == "learned") steps.push_back(q.int64(2));
            }
            std::string b;
            for (const char* k : {"<10K", "10K-100K", "100K-1M", "1M-10M", ">=10M"})
              if (buckets.count(k)) b += (b.empty() ? "" : ", ") + std::string(k) + " " + std::to_string(buckets[k]);
            std::printf("models by parameters:  %s\n", b.empty() ? "-" : b.c_str());
            if (!steps.empty()) {
              std::sort(steps.begin(), steps.end());
              double mean = 0;
              for (int64_t s : steps) mean += static_cast<double>(s);
              mean /= static_cast<double>(steps.size());
              auto pct = [&](double p) { return steps[std::min(steps.size() - 1, static_cast<size_t>(p * static_cast<double>(steps.size())))]; };
              std::printf("steps to convergence:  min %lld, median %lld, mean %.0f, p90 %lld, max %lld (learned models)\n",
                          static_cast<long long>(steps.front()), static_cast<long long>(pct(0.5)), mean,
                          static_cast<long long>(pct(0.9)), static_cast<long long>(steps.back()));
            } else {
              std::printf("steps to convergence:  - (no learned models)\n");
            }
            return 0;
          }};
}

Command add_list(CLI::App& corpus) {
  struct Options {
    std::string path;
    bool jsonl = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = corpus.add_subcommand("list", "one row per view: id, program, parameters, accuracy, split");
  app->add_option("corpus", o->path, "corpus file")->required();
  app->add_flag("--jsonl", o->jsonl, "one JSON object per line");
  return {app, [o] {
            auto c = Corpus::open(o->path, /*create=*/false, /*readonly=*/true);
            Statement q(c->db(),
                        "SELECT v.id, m.id, p.id, p.language, m.preset, m.params, v.step, v.accuracy, v.seq_accuracy, "
                        "p.split FROM views v JOIN models m ON m.id = v.model_id JOIN programs p ON p.id = m.program_id "
                        "ORDER BY v.id");
            if (!o->jsonl) std::printf("%6s %6s %7s %-7s %-6s %9s %6s %8s %8s %-5s\n", "view", "model", "program", "lang",
                                       "preset", "params", "step", "acc", "seq_acc", "split");
            while (q.step()) {
              if (o->jsonl) {
                std::cout << nlohmann::json({{"view", q.int64(0)}, {"model", q.int64(1)}, {"program", q.int64(2)},
                                             {"language", q.text(3)}, {"preset", q.text(4)}, {"params", q.int64(5)},
                                             {"step", q.int64(6)}, {"accuracy", q.real(7)}, {"seq_accuracy", q.real(8)},
                                             {"split", q.text(9)}})
                                 .dump()
                          << "\n";
              } else {
                std::printf("%6lld %6lld %7lld %-7s %-6s %9lld %6lld %8.4f %8.4f %-5s\n", static_cast<long long>(q.int64(0)),
                            static_cast<long long>(q.int64(1)), static_cast<long long>(q.int64(2)), q.text(3).c_str(),
                            q.text(4).c_str(), static_cast<long long>(q.int64(5)), static_cast<long long>(q.int64(6)),
                            q.real(7), q.real(8), q.text(9).c_str());
              }
            }
            return 0;
          }};
}

Command add_export(CLI::App& corpus) {
  struct Options {
    std::string path, out, program;
    int64_t view = 0;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = corpus.add_subcommand("export", "write one view's weights as a standalone safetensors file");
  app->add_option("corpus", o->path, "corpus file")->required();
  app->add_option("--view", o->view, "view id (see `corpus list`)")->required();
  app->add_option("-o,--out", o->out, "output .safetensors file")->required();
  app->add_option("--program", o->program, "also write the view's true program (its source text) to this file");
  return {app, [o] {
            auto c = Corpus::open(o->path, /*create=*/false, /*readonly=*/true);
            const auto v = c->view(o->view);
            if (!v) throw Error(o->path + ": no view " + std::to_string(o->view));
            const std::string what = o->path + " view " + std::to_string(o->view);
            const SubjectModel m = subject_from_safetensors(safetensors_decode(v->weights, what), what);
            safetensors_write_file(o->out, subject_to_safetensors(m));
            if (!o->program.empty()) {
              Statement q(c->db(), "SELECT program_id FROM models WHERE id = ?");
              q.bind(1, v->model_id);
              if (!q.step()) throw Error(what + ": its model " + std::to_string(v->model_id) + " is missing");
              const auto p = c->program(q.int64(0));
              if (!p) throw Error(what + ": its program " + std::to_string(q.int64(0)) + " is missing");
              std::ofstream f(o->program);
              f << p->source;
              if (!f) throw Error("cannot write '" + o->program + "'");
            }
            return 0;
          }};
}

}  // namespace

Command add_corpus_command(CLI::App& root, std::vector<Command>& subcommands) {
  CLI::App* app = root.add_subcommand("corpus", "build, merge, inspect and export corpora of (model, program) pairs");
  app->require_subcommand(1);
  subcommands.push_back(add_build(*app));
  subcommands.push_back(add_merge(*app));
  subcommands.push_back(add_migrate(*app));
  subcommands.push_back(add_stats(*app));
  subcommands.push_back(add_list(*app));
  subcommands.push_back(add_export(*app));
  return {app, nullptr};
}

Command add_predict_command(CLI::App& root) {
  struct Options {
    std::string model, input, inputs;
    bool domain = false, logits = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand("predict", "run a subject model on one input (or its whole domain) and print its output as JSON");
  app->add_option("--model", o->model, "a .safetensors subject model (see `corpus export`)")->required();
  auto* input = app->add_option("--input", o->input, "input as a JSON array of integers, e.g. '[1,2,3]'");
  auto* domain = app->add_flag("--domain", o->domain,
                               "every input of the model's domain instead, shortest first: one JSON line each, "
                               "{\"input\": [...], \"output\": [...]}")
                     ->excludes(input);
  app->add_option("--inputs", o->inputs,
                                  "a file of inputs, one JSON array per line ('-' reads stdin): one JSON line each, "
                                  "as --domain prints")
                      ->excludes(input)
                      ->excludes(domain);
  input->excludes(domain);
  app->add_flag("--logits", o->logits, "with --domain or --inputs: each line also holds \"logits\", per position one per class");
  return {app, [o] {
            const SubjectModel m = subject_from_safetensors(safetensors_read_file(o->model), o->model);
            std::vector<Input> xs;
            if (o->domain) xs = m.domain.enumerate(kMaxListedInputs);
            if (!o->inputs.empty()) {
              std::istringstream lines(read_text_file(o->inputs));
              std::string line;
              for (int no = 1; std::getline(lines, line); ++no) {
                if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
                try {
                  xs.push_back(parse_input_json(line));
                } catch (const Error& e) {
                  throw Error(o->inputs + ", line " + std::to_string(no) + ": " + e.what());
                }
                if (const std::string why = m.domain.why_not_contained(xs.back()); !why.empty())
                  throw Error(o->inputs + ", line " + std::to_string(no) + ": input outside the model's domain (" +
                              m.domain.describe() + "): " + why);
              }
            }
            if (o->domain || !o->inputs.empty()) {
              for (const Input& x : xs) {
                const std::vector<float> z = subject_logits(m, x);  // one forward pass for both
                std::cout << "{\"input\":" << input_to_json(x) << ",\"output\":" << values_to_json(predict_from_logits(m, z));
                if (o->logits) {
                  const size_t c = m.classes.size();
                  nlohmann::json rows = nlohmann::json::array();
                  for (size_t r = 0; r < x.size(); ++r) rows.push_back(std::vector<float>(z.begin() + r * c, z.begin() + (r + 1) * c));
                  std::cout << ",\"logits\":" << rows.dump();
                }
                std::cout << "}\n";
              }
              return 0;
            }
            if (o->input.empty()) throw Error("give --input '[...]', --inputs FILE or --domain");
            const Input x = parse_input_json(o->input);
            if (const std::string why = m.domain.why_not_contained(x); !why.empty())
              throw Error("input outside the model's domain (" + m.domain.describe() + "): " + why);
            std::cout << values_to_json(subject_predict(m, x)) << "\n";
            return 0;
          }};
}

}  // namespace mm::cli
