// `corpus build --origin compiled`: a corpus of compiled models instead of trained ones. Programs are
// listed, sharded and resumed exactly as for training (build.cpp); each is compiled, and every view is
// checked against the evaluator on every input of the domain before it is stored, so that the corpus
// records how exact each model is rather than assuming it. Work runs in parallel in chunks; each chunk is
// stored in the main thread (one transaction per model), so a killed build loses at most a chunk.
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "compile/compile.h"
#include "core/hash.h"
#include "core/parallel.h"
#include "core/progress.h"
#include "corpus/build.h"
#include "rasp/rasp.h"

namespace mm {

namespace {

struct CompiledProgram {
  std::optional<compile::Compiled> compiled;  // empty: refused
  std::string refusal;
  double compile_s = 0;
  std::vector<SubjectModel> views;            // the model, then rotations
  std::vector<compile::CompileCheck> checks;  // one per view
};

CompiledProgram compile_one(const PendingProgram& p, const BuildConfig& config) {
  CompiledProgram out;
  const rasp::Program program = rasp::parse(p.program->text());
  const auto start = std::chrono::steady_clock::now();
  try {
    out.compiled = compile::compile_program(program, config.domain);
  } catch (const compile::CompileError& e) {
    out.refusal = e.what();
    return out;
  }
  out.compile_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out.views.push_back(out.compiled->model);
  out.checks.push_back(compile::check_compiled(program, *out.compiled));
  for (int v = 1; v < config.train.views; ++v) {
    const uint64_t seed = fnv1a64(p.hash + "/rotation/" + std::to_string(v) + "/" + std::to_string(config.seed));
    out.views.push_back(compile::rotate_residual(out.compiled->model, seed));
    out.checks.push_back(compile::check_compiled_model(program, out.views.back()));
  }
  return out;
}

}  // namespace

void build_compiled(Corpus& corpus, const BuildConfig& config, const std::vector<PendingProgram>& pending,
                    BuildSummary& summary, const std::function<bool()>& stop,
                    const std::function<void(const std::string&)>& log) {
  const int threads = config.train.threads > 0 ? config.train.threads
                                               : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const compile::CompileOptions options;
  const std::string options_json = nlohmann::json({{"softmax_sharpness", options.softmax_sharpness},
                                                   {"bos_self_score", options.bos_self_score}})
                                       .dump();
  Progress progress("corpus build (compile)", static_cast<int64_t>(pending.size()));
  const auto start = std::chrono::steady_clock::now();
  auto note = [&] {
    return "compiled " + std::to_string(summary.trained) + " (exact " + std::to_string(summary.learned) + "), refused " +
           std::to_string(summary.refused);
  };
  constexpr size_t kChunk = 32;
  for (size_t first = 0; first < pending.size(); first += kChunk) {
    const size_t n = std::min(kChunk, pending.size() - first);
    std::vector<CompiledProgram> results(n);
    parallel_for(n, threads, [&](size_t i) { results[i] = compile_one(pending[first + i], config); });
    for (size_t i = 0; i < n; ++i) {
      const PendingProgram& p = pending[first + i];
      CompiledProgram& r = results[i];
      if (!r.compiled) {
        ++summary.refused;
        if (log) log("program " + std::to_string(p.program_id) + " refused: " + r.refusal);
        continue;
      }
      bool exact = true;
      for (const auto& k : r.checks) exact &= k.exact();
      ModelRecord m;
      m.program_id = p.program_id;
      m.origin = "compiled";
      m.preset = "compiled";
      m.architecture = r.compiled->model.arch.to_json();
      m.params = parameter_count(r.compiled->model.arch);
      m.seed = static_cast<int64_t>(model_seed(p.hash, config.seed));
      m.status = exact ? "compiled" : "inexact";
      m.wall_s = r.compile_s;
      m.accuracy = r.checks[0].position_rate();
      m.seq_accuracy = r.checks[0].sequence_rate();
      m.config = options_json;
      std::vector<ViewRecord> views;
      for (size_t v = 0; v < r.views.size(); ++v) {
        SubjectModel& sv = r.views[v];
        const compile::CompileCheck& k = r.checks[v];
        const double acc = k.position_rate();
        sv.info["view"] = std::to_string(v);
        sv.info["step"] = "0";
        sv.info["accuracy"] = std::to_string(acc);
        sv.info["preset"] = "compiled";
        views.push_back({0, 0, static_cast<int>(v), 0, 0.0, acc, k.sequence_rate(),
                         safetensors_encode(subject_to_safetensors(sv))});
      }
      corpus.add_model(m, views);
      ++summary.trained;
      summary.learned += exact;
      summary.stats.seconds += r.compile_s;
      if (!exact && log)
        log("program " + std::to_string(p.program_id) + ": the compiled model disagrees with the evaluator (a compiler "
            "bug): " + r.checks[0].first_disagreement);
    }
    progress.update(static_cast<int64_t>(first + n), note());
    if (stop && stop()) {
      summary.interrupted = true;
      break;
    }
  }
  progress.finish(note() + " in " +
                  format_duration(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()));
}

}  // namespace mm
