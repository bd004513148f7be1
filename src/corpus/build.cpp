// The corpus build: list, shard, skip what is done, train in batches of one architecture, store.
#include "corpus/build.h"

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>

#include "core/error.h"
#include "core/hash.h"
#include "core/parallel.h"
#include "core/progress.h"
#include "core/reduce.h"
#include "core/rng.h"
#include "core/sample.h"

namespace mm {

namespace {

std::string train_config_json(const TrainConfig& c, const SubjectArch& arch) {
  return nlohmann::json({{"batch", c.batch}, {"lr", c.lr > 0 ? c.lr : default_learning_rate(arch)},
                         {"weight_decay", c.weight_decay}, {"beta1", c.beta1}, {"beta2", c.beta2}, {"clip", c.clip},
                         {"warmup", c.warmup}, {"max_steps", c.max_steps}, {"check_every", c.check_every},
                         {"views", c.views}, {"view_every", c.view_every}, {"threshold", c.threshold},
                         {"enumerate_limit", c.enumerate_limit}, {"heldout_inputs", c.heldout_inputs},
                         {"heldout_seed", c.heldout_seed}})
      .dump();
}

}  // namespace

uint64_t model_seed(const std::string& program_hash, uint64_t build_seed) {
  return fnv1a64(program_hash + "/" + std::to_string(build_seed)) & static_cast<uint64_t>(INT64_MAX);
}

std::vector<std::shared_ptr<const Program>> build_program_list(const BuildConfig& config) {
  const Language& lang = language_by_name(config.language);
  std::vector<std::shared_ptr<const Program>> list;
  std::set<std::string> seen;
  auto add = [&](std::shared_ptr<const Program> p) {
    if (seen.insert(join_tokens(p->tokens())).second) list.push_back(std::move(p));
  };
  if (!config.from.empty()) {
    std::ifstream in(config.from);
    if (!in) throw Error("cannot read '" + config.from + "'");
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object() || !j.contains("source") || !j["source"].is_string())
        throw Error(config.from + ":" + std::to_string(n) + ": not a JSON object with a \"source\" string");
      if (j.contains("lang") && j["lang"].is_string() && j["lang"] != config.language)
        throw Error(config.from + ":" + std::to_string(n) + ": a " + j["lang"].get<std::string>() +
                    " program, but the build is --lang " + config.language);
      try {
        add(lang.parse(j["source"].get<std::string>()));
      } catch (const ParseError& e) {
        throw Error(config.from + ":" + std::to_string(n) + ": the program does not parse: " + e.what());
      }
    }
    if (list.empty()) throw Error("'" + config.from + "' holds no programs");
    return list;
  }
  SampleConfig sc;
  sc.domain = config.domain;
  Sampler sampler(lang, sc);
  Rng rng(config.seed);
  for (int64_t attempts = 0; static_cast<int64_t>(list.size()) < config.programs; ++attempts) {
    if (attempts > 100 * config.programs + 1000)
      throw Error("could not sample " + std::to_string(config.programs) + " distinct programs (found " +
                  std::to_string(list.size()) + "); widen the program sizes or the domain");
    add(sampler.next(rng));
  }
  return list;
}

BuildSummary corpus_build(Corpus& corpus, const BuildConfig& config, const std::function<bool()>& stop,
                          const std::function<void(const std::string&)>& log) {
  if (config.shard_count < 1 || config.shard_index < 0 || config.shard_index >= config.shard_count)
    throw Error("--shard must be i/N with 0 <= i < N");
  config.domain.validate();
  if (config.origin != "trained" && config.origin != "compiled") throw Error("--origin must be trained or compiled");
  if (config.origin == "compiled" && config.language != "rasp")
    throw Error("--origin compiled: the compiler reads RASP programs (use --lang rasp)");
  BuildSummary summary;
  const auto list = build_program_list(config);
  summary.listed = static_cast<int64_t>(list.size());

  // This shard's programs, recorded up front (cheap, and it fixes their ids in list order).
  const bool compiled = config.origin == "compiled";
  const std::string preset = compiled ? "compiled" : config.size.preset;
  std::vector<PendingProgram> pending;
  {
    // Programs not yet stored get their reduced form first (core/reduce.h), on the build's domain, in parallel.
    const Language& lang = language_by_name(config.language);
    std::vector<size_t> mine, fresh;
    for (size_t i = 0; i < list.size(); ++i)
      if (static_cast<int>(i % static_cast<size_t>(config.shard_count)) == config.shard_index) mine.push_back(i);
    for (size_t i : mine)
      if (!corpus.find_program(config.language, join_tokens(list[i]->tokens()))) fresh.push_back(i);
    std::map<size_t, std::pair<std::string, std::string>> reduced;  // list index -> (source, tokens)
    if (!fresh.empty()) {
      log("reducing " + std::to_string(fresh.size()) + " new programs");
      const std::vector<Input> inputs = reduction_inputs(config.domain);
      std::vector<std::pair<std::string, std::string>> out(fresh.size());
      const int threads = config.train.threads > 0 ? config.train.threads
                                                   : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
      parallel_for(fresh.size(), threads, [&](size_t k) {
        const Reduction r = reduce_program(lang, *list[fresh[k]], inputs);
        out[k] = {r.program->text(), join_tokens(r.program->tokens())};
      });
      for (size_t k = 0; k < fresh.size(); ++k) reduced[fresh[k]] = std::move(out[k]);
    }
    Db::Transaction t(corpus.db());
    for (size_t i : mine) {
      ++summary.in_shard;
      const std::string tokens = join_tokens(list[i]->tokens());
      const auto it = reduced.find(i);  // not there: stored before this build began
      const int64_t id = it == reduced.end() ? *corpus.find_program(config.language, tokens)
                                             : corpus.add_program(config.language, list[i]->text(), tokens,
                                                                  it->second.first, it->second.second);
      if (corpus.has_model(id, config.origin, preset)) {
        ++summary.already;
        continue;
      }
      pending.push_back({id, program_hash(config.language, tokens), list[i]});
    }
    t.commit();
  }
  if (compiled) {
    build_compiled(corpus, config, pending, summary, stop, log);
    return summary;
  }

  // Jobs, grouped by architecture (the paper preset mixes sizes; one batch trains one shape). Making a job
  // runs its program over the evaluation set: done on every training thread, then grouped in list order.
  std::vector<std::optional<SubjectJob>> made(pending.size());
  std::vector<std::string> why(pending.size());
  const int threads = config.train.threads > 0 ? config.train.threads
                                               : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  parallel_for(pending.size(), threads, [&](size_t i) {
    const PendingProgram& p = pending[i];
    try {
      made[i] = make_subject_job(p.program_id, p.program, config.language, config.domain, config.size, config.train,
                                 model_seed(p.hash, config.seed));
    } catch (const Error& e) {
      why[i] = e.what();
    }
  });
  std::map<std::string, std::vector<SubjectJob>> groups;
  std::vector<std::string> group_order;
  for (size_t i = 0; i < pending.size(); ++i) {
    if (!made[i]) {
      ++summary.refused;
      if (log) log("program " + std::to_string(pending[i].program_id) + " refused: " + why[i]);
      continue;
    }
    SubjectArch shape = made[i]->arch;
    shape.n_classes = 0;
    const std::string key = shape.to_json();
    if (!groups.count(key)) group_order.push_back(key);
    groups[key].push_back(std::move(*made[i]));
  }

  int64_t total = 0;
  for (const auto& [k, g] : groups) total += static_cast<int64_t>(g.size());
  Progress progress("corpus build", total);
  for (const std::string& key : group_order) {
    const std::vector<SubjectJob>& jobs = groups[key];
    const TrainStats st = train_subjects(
        jobs, config.train,
        [&](SubjectResult&& r) {
          const SubjectJob& job = *std::find_if(jobs.begin(), jobs.end(), [&](const SubjectJob& j) { return j.id == r.id; });
          ModelRecord m;
          m.program_id = r.id;
          m.origin = "trained";
          m.preset = config.size.preset;
          m.architecture = job.arch.to_json();
          m.params = parameter_count(job.arch);
          m.seed = static_cast<int64_t>(job.seed);
          m.status = r.status;
          m.steps = r.steps;
          m.wall_s = r.wall_s;
          m.accuracy = r.accuracy.per_position;
          m.seq_accuracy = r.accuracy.per_sequence;
          m.config = train_config_json(config.train, job.arch);
          std::vector<ViewRecord> views;
          for (size_t v = 0; v < r.views.size(); ++v) {
            SubjectView& sv = r.views[v];
            sv.model.info["view"] = std::to_string(v);
            sv.model.info["step"] = std::to_string(sv.step);
            sv.model.info["accuracy"] = std::to_string(sv.accuracy.per_position);
            sv.model.info["preset"] = config.size.preset;
            views.push_back({0, 0, static_cast<int>(v), sv.step, sv.wall_s, sv.accuracy.per_position,
                             sv.accuracy.per_sequence, safetensors_encode(subject_to_safetensors(sv.model))});
          }
          corpus.add_model(m, views);
          ++summary.trained;
          summary.learned += r.status == "learned";
          progress.update(summary.trained, "learned " + std::to_string(summary.learned) + ", not learned " +
                                               std::to_string(summary.trained - summary.learned));
        },
        stop);
    summary.stats.model_steps += st.model_steps;
    summary.stats.seconds += st.seconds;
    summary.stats.flops += st.flops;
    if (stop && stop()) {
      summary.interrupted = true;
      break;
    }
  }
  progress.finish("learned " + std::to_string(summary.learned) + ", not learned " +
                  std::to_string(summary.trained - summary.learned));
  return summary;
}

}  // namespace mm
