// `modelmap mapper train` and `modelmap decompile`: flags only; the work runs in modelmap-torch.
#include "cli/command.h"
#include "cli/torch_bridge.h"
#include "core/error.h"

namespace mm::cli {

namespace {

// --repair-structural / --no-repair-structural into `value` (1 / 0); neither leaves it at -1, the
// language's default (structural_repair: list-Python yes, RASP no).
void add_structural_flags(CLI::App* app, int* value) {
  CLI::Option* yes = app->add_flag_callback("--repair-structural", [value] { *value = 1; },
                                            "repair also tries the language's structural edits (RASP: drop, insert, "
                                            "re-point an operation; list-Python: drop, insert, wrap, unwrap a "
                                            "statement, append a loop); the default for list-Python");
  CLI::Option* no = app->add_flag_callback("--no-repair-structural", [value] { *value = 0; },
                                           "repair tries single-token edits only; the default for RASP");
  yes->excludes(no);
}

}  // namespace

Command add_mapper_command(CLI::App& root, std::vector<Command>& subcommands) {
  CLI::App* mapper = root.add_subcommand("mapper", "train the mapper: subject weights -> program tokens");
  mapper->require_subcommand(1);
  auto o = std::make_shared<MapperTrainConfig>();
  CLI::App* train = mapper->add_subcommand("train", "train (or resume) a mapper on a corpus's train split");
  train->add_option("--corpus", o->corpus, "corpus file")->required();
  train->add_option("-o,--out", o->out, "mapper checkpoint (an existing one is resumed)")->required();
  train->add_option("--lang", o->language, "language (default: the corpus's only one)")->check(CLI::IsMember({"rasp", "python"}));
  train->add_option("--encoder", o->encoder,
                    "what reads the subject: layergraph (its weights, the paper's), invariant (its weights' circuits, "
                    "ours), behaviour (its outputs on a probe set) or probe (its outputs, attention and MLP "
                    "activations on the probe set)")
      ->check(CLI::IsMember({"layergraph", "invariant", "behaviour", "probe"}));
  train->add_option("--epochs", o->epochs, "total epochs")->check(CLI::Range(1, 100000));
  train->add_option("--patience", o->patience,
                    "stop after this many epochs without a lower held-out loss (0 = never; the checkpoint keeps the best epoch)")
      ->check(CLI::Range(0, 100000));
  train->add_option("--batch", o->batch, "subjects per step")->check(CLI::Range(1, 65536));
  train->add_option("--lr", o->lr, "AdamW learning rate")->check(CLI::Range(1e-7, 0.5));
  train->add_option("--lr-schedule", o->lr_schedule,
                    "after a 100-step warmup: constant, or cosine (a half cosine down to a tenth of --lr at the last "
                    "step of --epochs)")
      ->check(CLI::IsMember({"constant", "cosine"}));
  train->add_option("--d-model", o->d_model, "mapper width")->check(CLI::Range(8, 4096));
  train->add_option("--d-ff", o->d_ff, "decoder feed-forward width (the paper's 32)")->check(CLI::Range(1, 65536));
  train->add_option("--layers", o->layers, "decoder layers (the paper's 3)")->check(CLI::Range(1, 24));
  train->add_flag("--no-weights", o->no_weights, "train the floor: the encoder's input zeroed");
  train->add_option("--target", o->target,
                    "what the mapper learns to write: each program's reduced form (the default; the shortest "
                    "equivalent program, which the model's behaviour identifies) or the form it was sampled in")
      ->check(CLI::IsMember({"reduced", "sampled"}));
  train->add_option("--order", o->order,
                    "the token order the mapper writes programs in: canonical (the default: statements in canonical "
                    "definition order) or, for RASP, output-first (the output's statement first, then what it reads, "
                    "breadth first); decoded programs are put back in canonical form and scored the same way "
                    "either way (token accuracy in both spellings)")
      ->check(CLI::IsMember({"canonical", "output-first"}));
  train->add_option("--split", o->split,
                    "how views fall into train and test: by program (the default: a program's views all on one side, "
                    "so the test split holds unseen programs) or by view (the paper's 80/20 split of (model, program) "
                    "pairs: a program's views fall on both sides); eval uses the mapper's")
      ->check(CLI::IsMember({"program", "view"}));
  train->add_flag("--augment", o->augment,
                  "layergraph: permute each subject's heads, hidden units and residual dimensions afresh every epoch "
                  "(the same function, other weights)");
  train->add_option("--example-layers", o->example_layers,
                    "behaviour, probe: self-attention layers over each probe input's tokens (its input tokens and "
                    "the model's output values) before it is pooled into one token (0: its embeddings summed)")
      ->check(CLI::Range(0, 8));
  train->add_option("--probe-sample", o->probe_sample,
                    "behaviour, probe: probe inputs read per subject (0 = all 512); training draws them afresh "
                    "every step, evaluation takes evenly spaced ones")
      ->check(CLI::Range(0, 1'000'000));
  train->add_flag("--io-pairs", o->io_pairs,
                  "behaviour, probe: each probe input's token also sums a learned embedding of every (position, input "
                  "token, output value) triple and of every (input token, output value) pair, so that an elementwise "
                  "map of the input shows without a hidden unit spent on it");
  train->add_option("--synthetic", o->synthetic,
                    "behaviour: also train on these programs (a `modelmap sample --reduce --jsonl` file) as their own "
                    "behaviour, as a perfectly trained subject would show it; programs the test split holds are left out")
      ->check(CLI::ExistingFile);
  train->add_flag("--synthetic-noise", o->synthetic_noise,
                  "with --synthetic: at every step, each synthetic program's table gets the errors of a train subject drawn "
                  "at random (the probe cells it gets wrong, each changed to another value the table shows), so that "
                  "training sees imperfect subjects as evaluation does");
  train->add_option("--views", o->views,
                    "read at most this many views of each subject model, lowest ordinals first (0 = all); eval reads the "
                    "mapper's choice")
      ->check(CLI::Range(0, 1'000'000));
  train->add_option("--programs", o->programs,
                    "train on the first N programs of the train split (in id order; 0 = all): corpus sizes for a "
                    "scaling curve that share one test split")
      ->check(CLI::Range(int64_t{0}, int64_t{100'000'000}));
  train->add_option("--seed", o->seed, "initialisation and shuffling");
  train->add_option("--procs", o->procs,
                    "data-parallel: train as this many local processes (ranks on loopback, --threads each); the same "
                    "result as one process, up to float rounding")
      ->check(CLI::Range(1, 256));
  train->add_option("--world-size", o->world,
                    "data-parallel across machines: processes in the job (default: WORLD_SIZE, else 1); run one per "
                    "rank, each with its --rank")
      ->check(CLI::Range(1, 4096));
  train->add_option("--rank", o->rank, "this process's rank, 0..world-1 (default: RANK, else 0)")->check(CLI::Range(0, 4095));
  train->add_option("--master", o->master,
                    "ADDR:PORT of rank 0, which hosts the rendezvous (default: MASTER_ADDR:MASTER_PORT, else 127.0.0.1:29500)");
  train->add_option("--timeout", o->timeout_s, "seconds to wait for the other ranks, at the start and at every step")
      ->check(CLI::Range(0.1, 86400.0));
  train->add_option("--device", o->device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  train->add_option("--threads", o->threads, "torch threads (0 = torch's default)")->check(CLI::Range(0, 1024));
  subcommands.push_back({train, [o] { return run_mapper_train(*o); }});

  auto s = std::make_shared<StatementHeadConfig>();
  CLI::App* st = mapper->add_subcommand(
      "statements", "give a trained mapper a statement head: it predicts the program's number of statements, which "
                    "`eval --statements head` holds greedy decoding to (RASP)");
  st->add_option("--mapper", s->mapper, "the trained mapper (read, not changed)")->required()->check(CLI::ExistingFile);
  st->add_option("--corpus", s->corpus, "the corpus it was trained on")->required()->check(CLI::ExistingFile);
  st->add_option("-o,--out", s->out, "the mapper with its head (a new checkpoint)")->required();
  st->add_option("--synthetic", s->synthetic, "the synthetic programs it was trained on (behaviour), also trained on here")
      ->check(CLI::ExistingFile);
  st->add_option("--synthetic-programs", s->synthetic_programs, "read the first this many lines of --synthetic")
      ->check(CLI::Range(int64_t{1}, int64_t{100'000'000}));
  st->add_option("--epochs", s->epochs, "passes over the features (the one with the lowest held-out loss is kept)")
      ->check(CLI::Range(1, 100000));
  st->add_option("--lr", s->lr, "AdamW learning rate")->check(CLI::Range(1e-7, 0.5));
  st->add_option("--seed", s->seed, "initialisation and shuffling");
  st->add_option("--device", s->device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  st->add_option("--threads", s->threads, "torch threads (0 = torch's default)")->check(CLI::Range(0, 1024));
  subcommands.push_back({st, [s] { return run_mapper_statements(*s); }});
  return {mapper, [] { return 0; }};
}

Command add_decompile_command(CLI::App& root) {
  auto o = std::make_shared<DecompileOptions>();
  CLI::App* app = root.add_subcommand("decompile", "print the program a subject model computes: the mapper's candidates, "
                                                   "checked against the model, then a search of the program space");
  app->add_option("model", o->model, "subject model (.safetensors)")->required();
  app->add_option("--mapper", o->mapper, "mapper checkpoint (none: the search alone)");
  app->add_option("--search", o->search,
                  "synth (the default): search the program space against the model (RASP: guided by the candidates; "
                  "list-Python: then repair from its result); repair: edit the best candidates; none: the best candidate as it is")
      ->check(CLI::IsMember({"synth", "repair", "none"}));
  app->add_option("--search-seconds", o->search_seconds, "synthesis budget: seconds")->check(CLI::Range(0.0, 1e6));
  app->add_option("--search-expressions", o->search_expressions, "synthesis budget: expressions built and scored (RASP)")
      ->check(CLI::Range(int64_t{0}, int64_t{1'000'000'000'000}));
  app->add_option("--search-memory", o->search_memory_mb, "synthesis: MB for the tables it keeps for reuse (RASP)")
      ->check(CLI::Range(int64_t{1}, int64_t{1'000'000}));
  app->add_option_function<std::string>("--heads", [o](const std::string& v) { o->heads = v == "on"; }, "RASP synthesis: read the model's attention heads, and put the selectors they point at first (on, the default; off: the search without them)")
      ->check(CLI::IsMember({"on", "off"}));
  auto* beam = app->add_option("--beam", o->beam, "beam width of the one decoded program (1 = greedy)")->check(CLI::Range(1, 256));
  app->add_option("--candidates", o->candidates,
                  "propose this many programs (beam search and sampling), run each against the model, return the most faithful")
      ->check(CLI::Range(1, 1024))
      ->excludes(beam);
  app->add_flag("--all", o->all, "print every candidate, ranked, with its fidelity");
  app->add_flag("--repair", o->repair, "the same as --search repair: improve the best candidates by edits that raise agreement with the model");
  add_structural_flags(app, &o->repair_structural);
  app->add_option("--repair-from", o->repair_from, "how many of the best candidates to repair")->check(CLI::Range(1, 1024));
  app->add_option("--repair-edits", o->repair_edits, "repair budget: edits run against the model, in all")
      ->check(CLI::Range(int64_t{1}, int64_t{100'000'000}));
  app->add_option("--repair-seconds", o->repair_seconds, "repair budget: seconds")->check(CLI::Range(0.0, 1e6));
  app->add_option("--inputs", o->inputs, "verify on the whole input domain, or on a fixed sample of this many inputs where it is larger")
      ->check(CLI::Range(uint64_t{1}, uint64_t{10'000'000}));
  app->add_option("--seed", o->seed, "sampling of candidates");
  app->add_option("--threads", o->threads, "threads (0 = torch's default)")->check(CLI::Range(0, 1024));
  app->add_option("--device", o->device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  app->add_option("--report", o->report,
                  "also write an HTML page: the program, its agreement with the model by input length, where they "
                  "disagree, every attention head's pattern, each candidate and its fidelity, the true program and a diff");
  app->add_option("--truth", o->truth,
                  "the true program's file, for the report (as `corpus export --program` writes it; default: the "
                  "program in the model's metadata, if any)")
      ->check(CLI::ExistingFile);
  return {app, [o] {
            if (!o->truth.empty() && o->report.empty()) throw Error("--truth is for the report: give --report FILE too");
            return run_decompile(*o);
          }};
}

Command add_eval_command(CLI::App& root) {
  struct Options {
    EvalOptions e;
    std::string json, html;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand("eval", "score a mapper (or the search alone) on a corpus's test split (token accuracy, "
                                              "exact match, functional equivalence, fidelity), beside its no-weights floor");
  app->add_option("--corpus", o->e.corpus, "corpus file")->required();
  app->add_option("--mapper", o->e.mapper, "mapper checkpoint (none: with --search synth, the search alone)");
  app->add_option("--floor", o->e.floor, "checkpoint of the same mapper trained with --no-weights");
  app->add_option_function<std::string>(
         "--search",
         [o](const std::string& v) {
           if (v != "synth") throw CLI::ValidationError("--search", "eval adds the synthesis method only: --search synth");
           o->e.synth = true;
         },
         "synth: also report synthesis (the search of the program space), from the mapper's candidates, from the "
         "floor's, and alone")
      ->check(CLI::IsMember({"synth"}));
  app->add_option("--search-seconds", o->e.search_seconds, "synthesis budget per view (for each of mapper, floor, alone): seconds")
      ->check(CLI::Range(0.0, 1e6));
  app->add_option("--search-expressions", o->e.search_expressions, "synthesis budget per view: expressions built and scored (RASP)")
      ->check(CLI::Range(int64_t{0}, int64_t{1'000'000'000'000}));
  app->add_option("--search-memory", o->e.search_memory_mb, "synthesis: MB for the tables it keeps for reuse (RASP)")
      ->check(CLI::Range(int64_t{1}, int64_t{1'000'000}));
  app->add_option_function<std::string>("--heads", [o](const std::string& v) { o->e.heads = v == "on"; }, "RASP synthesis: read the model's attention heads, and put the selectors they point at first (on, the default; off: the search without them)")
      ->check(CLI::IsMember({"on", "off"}));
  app->add_option("--beam", o->e.beam, "beam width of the first method (1 = greedy)")->check(CLI::Range(1, 256));
  app->add_option("--candidates", o->e.candidates,
                  "also report the best of this many candidates by fidelity to the subject model (1 = not)")
      ->check(CLI::Range(1, 1024));
  app->add_flag("--repair", o->e.repair, "also report the best candidates after repair (needs --candidates 2 or more)");
  app->add_option("--repair-from", o->e.repair_from, "how many of the best candidates to repair")->check(CLI::Range(1, 1024));
  app->add_option("--repair-edits", o->e.repair_edits, "repair budget per view: edits run against the model")
      ->check(CLI::Range(int64_t{1}, int64_t{100'000'000}));
  app->add_option("--repair-seconds", o->e.repair_seconds, "repair budget per view: seconds")->check(CLI::Range(0.0, 1e6));
  add_structural_flags(app, &o->e.repair_structural);
  app->add_flag("--perfect-subjects", o->e.perfect_subjects,
                "diagnostic, behaviour encoder: the mappers read each test program's own outputs (a perfectly trained "
                "subject's, as --synthetic trains on) instead of the subject's; scores, fidelity and verification are "
                "unchanged. What the subjects' imperfection costs is the difference");
  app->add_option("--statements", o->e.statements,
                  "hold the first method's decoding (mapper and floor alike) to a number of statements: the one each "
                  "one's statement head predicts ('head'; `modelmap mapper statements`), or, a diagnostic, the target "
                  "program's own ('oracle'). RASP")
      ->check(CLI::IsMember({"head", "oracle"}));
  app->add_option("--inputs", o->e.inputs, "verification inputs: the whole domain, or a fixed sample of this many")
      ->check(CLI::Range(uint64_t{1}, uint64_t{10'000'000}));
  app->add_option("--seed", o->e.seed, "sampling of candidates");
  app->add_option("--limit", o->e.limit, "score at most this many test views (0 = all)")->check(CLI::Range(0, 100'000'000));
  app->add_option("--json", o->json, "also write the report as JSON to this file");
  app->add_option("--report", o->html, "also write the report as an HTML page (tables beside the floor, fidelity histograms)");
  app->add_option("--views-file", o->e.views_file,
                  "append each view's programs and scores to this file (JSON lines) as it is scored; views already "
                  "in it are read back, so rerunning a killed evaluation resumes it");
  app->add_option_function<std::string>(
      "--shard",
      [o](const std::string& v) {
        const size_t slash = v.find('/');
        try {
          if (slash == std::string::npos) throw std::invalid_argument(v);
          size_t a = 0, b = 0;
          o->e.shard_index = std::stoi(v.substr(0, slash), &a);
          o->e.shard_count = std::stoi(v.substr(slash + 1), &b);
          if (a != slash || b != v.size() - slash - 1) throw std::invalid_argument(v);
        } catch (const std::exception&) {
          throw CLI::ValidationError("--shard", "'" + v + "' is not i/N (e.g. 0/4)");
        }
        if (o->e.shard_count < 1 || o->e.shard_index < 0 || o->e.shard_index >= o->e.shard_count)
          throw CLI::ValidationError("--shard", "'" + v + "': need 0 <= i < N");
      },
      "score only test views i, i+N, i+2N, ... (with --views-file; then `eval --merge` the N files), e.g. one "
      "job of an array");
  app->add_option("--merge", o->e.merge,
                  "the views files of every shard (same options): make the report from their records, running nothing")
      ->expected(1, -1);
  app->add_option("--device", o->e.device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  app->add_option("--threads", o->e.threads, "torch threads (0 = torch's default)")->check(CLI::Range(0, 1024));
  return {app, [o] { return run_eval(o->e, o->json, o->html); }};
}

}  // namespace mm::cli
