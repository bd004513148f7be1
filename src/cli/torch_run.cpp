// In `modelmap-torch`: the torch commands themselves.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <csignal>
#include <cstdio>
#include <iostream>

#include "cli/torch_bridge.h"
#include "core/error.h"
#include "core/language.h"
#include "core/json_io.h"
#include "core/safetensors.h"
#include "decompile/pipeline.h"
#include "mapper/checkpoint.h"
#include "mapper/decode.h"
#include "mapper/device.h"
#include "mapper/distributed.h"
#include "report/report.h"

namespace mm::cli {

namespace {
std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop = true; }
}  // namespace

namespace {
std::vector<std::string> g_args;  // this process's command line, for the --procs launcher
}  // namespace

void remember_command_line(int argc, char** argv) { g_args.assign(argv, argv + argc); }

// `mapper train --procs N`: N ranks of the same command on loopback, each a process of this executable
// with --world-size N --rank r --master 127.0.0.1:PORT (a free port). The first rank to fail stops the
// others; rerunning the command resumes from the last checkpoint.
static int launch_local_ranks(const MapperTrainConfig& c) {
  if (c.world > 0 || c.rank >= 0 || !c.master.empty())
    throw Error("--procs starts its own ranks: leave out --world-size, --rank and --master");
  int port = 0;
  {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw Error(std::string("--procs: cannot find a free port on loopback: ") + std::strerror(errno));
    port = ntohs(a.sin_port);
    close(fd);
  }
  std::vector<std::string> base;
  for (size_t k = 0; k < g_args.size(); ++k) {
    if (g_args[k] == "--procs") { ++k; continue; }
    if (g_args[k].rfind("--procs=", 0) == 0) continue;
    base.push_back(g_args[k]);
  }
  std::vector<pid_t> pids;
  for (int r = 0; r < c.procs; ++r) {
    std::vector<std::string> args = base;
    for (const std::string& a : {std::string("--world-size"), std::to_string(c.procs), std::string("--rank"), std::to_string(r),
                                 std::string("--master"), "127.0.0.1:" + std::to_string(port)})
      args.push_back(a);
    const pid_t pid = fork();
    if (pid < 0) throw Error(std::string("--procs: cannot start a rank: ") + std::strerror(errno));
    if (pid == 0) {
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv("/proc/self/exe", argv.data());
      std::fprintf(stderr, "modelmap: error: rank %d: cannot run this executable: %s\n", r, std::strerror(errno));
      _exit(127);
    }
    pids.push_back(pid);
  }
  // Wait; the first rank that fails stops the rest.
  int failed_rank = -1, failed_code = 0, running = c.procs;
  while (running > 0) {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;
    }
    --running;
    const auto it = std::find(pids.begin(), pids.end(), pid);
    if (it == pids.end()) continue;
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    *it = -1;
    if (code != 0 && failed_rank < 0) {
      failed_rank = static_cast<int>(it - pids.begin());
      failed_code = code;
      for (pid_t other : pids)
        if (other > 0) kill(other, SIGTERM);
    }
  }
  if (failed_rank >= 0)
    throw Error("rank " + std::to_string(failed_rank) + " of " + std::to_string(c.procs) + " stopped (exit " +
                std::to_string(failed_code) + "), so the others were stopped; rerun the same command to resume from the "
                "last checkpoint");
  return 0;
}

// The mapper's decoder allocates a few (batch, heads, T, T) tensors a step, over 200 MB each for
// list-Python's ~700-token programs. glibc serves blocks that large with mmap and unmaps them on free
// (and trims the heap's top), so every step paid the kernel for fresh zeroed pages. Keeping freed memory
// for reuse: measured on one list-Python epoch, system time 21.4 s -> 6.2 s and minor page faults
// 8.0M -> 1.0M, user time about unchanged, peak resident size 2.0 -> 4.2 GB (docs/mapper.md, Memory).
static void keep_freed_memory() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, -1);
#endif
}

int run_corpus_build(const BuildConfig& c, const std::string& out) {
  auto corpus = Corpus::open(out, /*create=*/true);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  const BuildSummary s = corpus_build(*corpus, c, [] { return g_stop.load(); },
                                      [](const std::string& note) { std::cerr << note << "\n"; });
  if (c.origin == "compiled") {
    std::printf("%s: %lld programs listed, %lld in this shard, %lld already built, %lld refused by the compiler; "
                "compiled %lld (exact on every input: %lld) in %.1f s of compiling",
                out.c_str(), static_cast<long long>(s.listed), static_cast<long long>(s.in_shard),
                static_cast<long long>(s.already), static_cast<long long>(s.refused), static_cast<long long>(s.trained),
                static_cast<long long>(s.learned), s.stats.seconds);
    if (s.stats.seconds > 0) std::printf(", %.0f models/s", s.trained / s.stats.seconds);
    std::printf("\n");
    if (s.interrupted) {
      std::fprintf(stderr, "modelmap: interrupted; rerun the same command to resume\n");
      return 130;
    }
    return 0;
  }
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
  if (config.procs > 1) {
    return launch_local_ranks(config);  // rank 0 says "trained"
  }
  keep_freed_memory();
  train_mapper(config, std::cerr);
  if (resolve_dist_config(config.world, config.rank, config.master, config.timeout_s).rank == 0)
    std::printf("%s: trained\n", config.out.c_str());
  return 0;
}

int run_mapper_statements(const StatementHeadConfig& config) {
  keep_freed_memory();
  const StatementHeadReport r = train_statement_head(config, std::cerr);
  std::printf("%s: statement head trained (%d classes; %lld train, %lld held-out, %lld test examples; epoch %d kept)\n"
              "count exactly right: held-out %.1f%%, test %.1f%% (the most common count: %.1f%% of test)\n",
              config.out.c_str(), r.classes, static_cast<long long>(r.train), static_cast<long long>(r.holdout),
              static_cast<long long>(r.test), r.best_epoch, 100 * r.holdout_accuracy, 100 * r.test_accuracy,
              100 * r.test_majority_accuracy);
  return 0;
}

// The search `decompile` runs: --search, else --repair's, else the language's default.
static SearchKind decompile_search(const DecompileOptions& o, const Language& lang) {
  if (!o.search.empty()) {
    const SearchKind k = parse_search(o.search);
    if (o.repair && k != SearchKind::Repair) throw Error("--repair and --search " + o.search + " ask for different searches");
    return k;
  }
  return o.repair ? SearchKind::Repair : default_search(lang);
}

int run_decompile(const DecompileOptions& o) {
  const torch::Device device = parse_device(o.device);
  if (o.threads > 0) torch::set_num_threads(o.threads);
  const int threads = o.threads > 0 ? o.threads : torch::get_num_threads();
  const SubjectModel subject = subject_from_safetensors(safetensors_read_file(o.model), o.model);
  const Language& lang = language_by_name(subject.language);
  DecompileConfig config;
  config.search = decompile_search(o, lang);
  config.threads = threads;
  config.repair_from = o.repair_from;
  config.repair = {o.repair_edits, o.repair_seconds, threads, structural_repair(lang, o.repair_structural)};
  config.synth.max_seconds = o.search_seconds;
  config.synth.max_expressions = o.search_expressions;
  config.synth.memory_mb = o.search_memory_mb;
  config.synth.threads = threads;
  config.synth.progress = [](const std::string& line) { std::cerr << line << "\n"; };
  // Propose: the mapper reads the weights once and decodes K programs (none without a mapper).
  std::vector<Candidate> candidates;
  size_t candidates_proposed = 0;
  Mapper mapper{nullptr};
  Memory memory;
  if (!o.mapper.empty()) {
    mapper = load_mapper(o.mapper, subject.language, device);
    const EncoderInput in = encoder_input(subject, mapper->config());
    torch::NoGradGuard no_grad;
    memory = mapper->encode(collate({&in}, mapper->config(), device));
    std::vector<Decoded> proposed = o.candidates > 1 ? propose_candidates(mapper, memory, o.candidates, o.seed)
                                                     : decode_program(mapper, memory, o.beam);
    if (o.candidates == 1 && proposed.size() > 1) proposed.resize(1);
    if (proposed.empty())
      throw Error("the mapper wrote no complete program within " + std::to_string(mapper->config().max_tokens) + " tokens");
    for (const Decoded& d : proposed) candidates.push_back(Candidate::proposed(d.tokens, d.logprob, d.origin));
    candidates_proposed = candidates.size();
    // Ties between equally faithful programs of one size go to the likelier under the mapper.
    config.synth.logprob = [&](const std::vector<std::string>& tokens) { return program_logprob(mapper, memory, tokens); };
  }
  // Verify, then search: the model runs once on the verification inputs; everything is scored against that.
  const Behaviour behaviour = model_behaviour(subject, o.inputs, threads);
  // The model's attention heads, read on the same inputs, point the RASP synthesizer at selectors.
  HeadPatterns heads;
  if (config.search == SearchKind::Synth && o.heads && lang.name() == "rasp") {
    heads = read_heads(subject, behaviour.inputs, threads);
    config.synth.heads = &heads;
  }
  const DecompileResult result = decompile_behaviour(lang, behaviour, subject.domain, std::move(candidates), config);
  const std::vector<Candidate>& ranked = result.ranked;
  auto summary = [&](const Candidate& c) {
    std::string s = c.origin;
    if (!mapper.is_empty() && c.origin.rfind("synthesis", 0) != 0) {
      char lp[32];
      std::snprintf(lp, sizeof lp, "%.2f", c.logprob);
      s += std::string(", mapper log-probability ") + lp;
    }
    if (!c.edits.empty()) {
      s += "; repaired by " + std::to_string(c.edits.size()) + " edit" + (c.edits.size() > 1 ? "s" : "") + ":";
      for (size_t k = 0; k < c.edits.size(); ++k) s += (k ? ", " : " ") + c.edits[k].describe();
    }
    return s;
  };
  if (ranked.empty()) throw Error("the search found no program (nothing it built runs on every verification input)");
  const Candidate& best = ranked.front();
  if (o.all) {
    for (size_t k = 0; k < ranked.size(); ++k) {
      const Candidate& c = ranked[k];
      std::cout << "# " << k + 1 << ". fidelity " << describe_fidelity(c.agreement, behaviour) << "\n# " << summary(c) << "\n";
      std::cout << (c.parses ? lang.detokenize(c.tokens)->text() : "(does not parse)\n") << "\n";
    }
  } else {
    std::cout << lang.detokenize(best.tokens)->text();
  }
  std::cerr << "fidelity: " << describe_fidelity(best.agreement, behaviour) << "\n";
  std::cerr << "chosen: " << summary(best) << " (best of " << ranked.size() << " distinct candidate"
            << (ranked.size() > 1 ? "s" : "") << ")\n";
  if (result.repaired) {
    char b[160];
    std::snprintf(b, sizeof b, "repair: %lld %s edits run in %.1f s, %d kept%s\n", static_cast<long long>(result.repair.tried),
                  config.repair.structural ? "single-token and structural" : "single-token", result.repair.seconds,
                  result.repair.rounds, result.repair.budget_spent ? "; stopped by the budget" : "");
    std::cerr << b;
  }
  if (result.synthesized) {
    const SynthResult& s = result.synth;
    char b[320];
    if (lang.name() == "python")
      std::snprintf(b, sizeof b, "synthesis: %lld moves scored in %.1f s (a beam over programs built last loop first; %s)%s\n",
                    static_cast<long long>(s.expressions), s.seconds,
                    mapper.is_empty() ? "search alone" : "the mapper's candidates repaired beside it",
                    s.budget_spent ? "; stopped by the budget: the best program so far" : "");
    else
      std::snprintf(b, sizeof b, "synthesis: %lld expressions in %.1f s (%s), every program up to cost %d tried%s%s\n",
                    static_cast<long long>(s.expressions), s.seconds,
                    mapper.is_empty() ? "search alone" : "guided by the mapper's candidates", s.complete_cost,
                    s.budget_spent ? "; stopped by the budget: the best program so far" : "",
                    s.memory_full ? "; its table memory ran out (--search-memory)" : "");
    std::cerr << b;
  }
  if (!o.report.empty()) {
    DecompileReportInput in;
    in.model_path = o.model;
    in.subject = &subject;
    in.behaviour = &behaviour;
    in.result = &result;
    in.threads = threads;
    in.how = (mapper.is_empty() ? std::string("No mapper") : "Mapper " + o.mapper + " (" + std::to_string(candidates_proposed) +
                                                                 " candidate" + (candidates_proposed > 1 ? "s" : "") + ")") +
             "; search: " + (config.search == SearchKind::Synth ? "synthesis" : config.search == SearchKind::Repair ? "repair" : "none") +
             (result.repaired && config.search == SearchKind::Synth ? " then repair" : "") + ".";
    if (!o.truth.empty()) {
      in.truth = read_text_file(o.truth);
      in.truth_from = o.truth;
    } else if (!subject.program.empty()) {
      in.truth = subject.program;
      in.truth_from = "the program in the model's metadata (what it was trained on or compiled from)";
    }
    write_file_atomic(o.report, decompile_report_html(in));
    std::cerr << "report: " << o.report << "\n";
  }
  return 0;
}

int run_eval(const EvalOptions& o, const std::string& json, const std::string& html) {
  const EvalReport r = evaluate_mapper(o, std::cerr);
  std::cout << format_report(r);
  if (!json.empty()) write_file_atomic(json, report_json(r) + "\n");
  if (!html.empty()) {
    const std::string title = "modelmap eval: " + (o.mapper.empty() ? std::string("the search alone") : o.mapper);
    write_file_atomic(html, eval_report_html(r, title));
    std::cerr << "report: " << html << "\n";
  }
  return 0;
}

}  // namespace mm::cli
