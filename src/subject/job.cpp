// Building training jobs (no torch): evaluation sets, output classes, architectures.
#include "core/error.h"
#include "core/rng.h"
#include "core/sample.h"
#include "subject/trainer.h"

namespace mm {

std::vector<Input> evaluation_inputs(const InputDomain& domain, const TrainConfig& config) {
  if (domain.size() <= config.enumerate_limit) return domain.enumerate(config.enumerate_limit);
  return domain.evaluation_set(config.heldout_inputs, config.heldout_seed);
}

SubjectJob make_subject_job(int64_t id, std::shared_ptr<const Program> program, const std::string& language,
                            const InputDomain& domain, const SizePolicy& policy, const TrainConfig& config,
                            uint64_t seed) {
  SubjectJob job;
  job.id = id;
  job.language = language;
  job.source = program->text();
  job.domain = domain;
  job.seed = seed;
  try {
    job.classes = output_values(*program, evaluation_inputs(domain, config));
  } catch (const EvalError& e) {
    throw Error("the program raises on its input domain: " + std::string(e.what()));
  }
  if (job.classes.size() > static_cast<size_t>(kMaxClasses))
    throw Error("the program has " + std::to_string(job.classes.size()) + " distinct outputs; at most " +
                std::to_string(kMaxClasses) + " are supported");
  Rng rng(seed ^ 0xa4c1ULL);
  job.arch = choose_arch(policy, domain, static_cast<int>(job.classes.size()), rng);
  job.program = std::move(program);
  return job;
}

}  // namespace mm
