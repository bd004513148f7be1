// Building training jobs (no torch): evaluation sets, output classes, architectures.
#include <cmath>

#include "core/error.h"
#include "core/rng.h"
#include "core/sample.h"
#include "subject/trainer.h"

namespace mm {

namespace {

double gaussian(Rng& rng) {
  const double u1 = 1.0 - rng.uniform01(), u2 = rng.uniform01();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

}  // namespace

SubjectModel unweighted_model(const SubjectJob& job) {
  SubjectModel m;
  m.arch = job.arch;
  m.domain = job.domain;
  m.classes = job.classes;
  m.language = job.language;
  m.program = job.source;
  return m;
}

std::map<std::string, Tensor> initial_weights(const SubjectJob& job) {
  Rng rng(job.seed);
  std::map<std::string, Tensor> w;
  const double std_normal = 0.02, std_residual = 0.02 / std::sqrt(2.0 * job.arch.n_layers);
  for (const ParamSpec& p : param_specs(job.arch)) {
    int64_t n = 1;
    for (int64_t s : p.shape) n *= s;
    Tensor& t = w[p.name];
    t.shape = p.shape;
    t.data.resize(static_cast<size_t>(n));
    for (float& x : t.data) {
      switch (p.init) {
        case ParamSpec::Init::Normal: x = static_cast<float>(std_normal * gaussian(rng)); break;
        case ParamSpec::Init::NormalResidual: x = static_cast<float>(std_residual * gaussian(rng)); break;
        case ParamSpec::Init::Zeros: x = 0; break;
        case ParamSpec::Init::Ones: x = 1; break;
      }
    }
  }
  return w;
}

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
