// Trains many subject models of one architecture at once: their parameters are stacked along a models
// axis, every matmul is batched over it, and one AdamW step updates them all, with per-model step counts,
// warm-up and gradient clipping so that a model's trajectory does not depend on its neighbours. A slot
// whose model has converged and given its views is refilled with the next job at once.
// The API is torch-free; torch lives in trainer.cpp.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/language.h"
#include "subject/model.h"

namespace mm {

struct TrainConfig {
  int slots = 16;                     // models trained at once
  int batch = 64;                     // fresh inputs per model per step
  double lr = 0;                      // AdamW learning rate; 0 = default_learning_rate(arch)
  double weight_decay = 0.01;         // decoupled, on matrices only (not biases, LayerNorm)
  double beta1 = 0.9, beta2 = 0.98, eps = 1e-8;
  double clip = 1.0;                  // per-model gradient-norm clip
  int warmup = 50;                    // steps of linear learning-rate warm-up
  int max_steps = 20000;              // budget: not converged by then = "not learned"
  int check_every = 50;               // steps between convergence checks
  double check_margin = 0.05;         // a check runs the full evaluation once the batch accuracy is
                                      // within this of the threshold
  int views = 3;                      // views kept per learned model (the first is the converged model)
  int view_every = 100;               // steps between later views
  int max_view_attempts = 6;          // view checkpoints tried before giving up on more views
  double threshold = 0.95;            // converged: per-position accuracy over the evaluation set
  uint64_t enumerate_limit = 100000;  // evaluate on the whole domain when it holds at most this many
  uint64_t heldout_inputs = 10000;    // else on a fixed held-out sample of this many (never trained on)
  uint64_t heldout_seed = 12345;      // which sample
  std::string device = "cpu";         // "cpu" or "cuda"
  int threads = 0;                    // threads; 0 = torch's default (torch) or every core (fast)
  std::string trainer = "auto";       // "fast" (hand-written, cpu, trained blocks), "torch", or "auto":
                                      // fast where it applies, else torch
};

struct SubjectJob {
  int64_t id = 0;                          // the caller's key
  std::shared_ptr<const Program> program;  // the oracle
  std::string language;
  std::string source;                      // program text, stored with the model
  InputDomain domain;
  SubjectArch arch;                        // n_classes == classes.size()
  std::vector<Value> classes;              // output class k means classes[k]
  uint64_t seed = 0;                       // initialisation and data
};

struct SubjectView {
  int64_t step = 0;       // the model's training steps when taken
  double wall_s = 0;      // seconds since the model entered its slot
  Accuracy accuracy;      // on the evaluation set
  SubjectModel model;
};

struct SubjectResult {
  int64_t id = 0;
  std::string status;     // "learned" or "not learned"
  int64_t steps = 0;      // steps to convergence, or the budget spent
  double wall_s = 0;      // seconds from entering the slot to leaving it
  Accuracy accuracy;      // at convergence, or at the last full evaluation
  std::vector<SubjectView> views;
};

struct TrainStats {
  int64_t model_steps = 0;  // sum over models of their training steps
  double seconds = 0;
  double flops = 0;         // estimated multiply-adds x 2 of forward and backward passes, and evaluations
};

// The evaluation set of a domain under `config`: the whole domain, or the fixed held-out sample.
std::vector<Input> evaluation_inputs(const InputDomain& domain, const TrainConfig& config);

// A job for `program`: its output classes (the distinct outputs over the evaluation set, in value order),
// an architecture from `policy` (drawn with `seed` for the paper preset), and `seed`. Throws mm::Error if
// the program raises on the evaluation set or has more than kMaxClasses outputs.
constexpr int kMaxClasses = 256;
SubjectJob make_subject_job(int64_t id, std::shared_ptr<const Program> program, const std::string& language,
                            const InputDomain& domain, const SizePolicy& policy, const TrainConfig& config,
                            uint64_t seed);

// A job's model without weights: architecture, domain, classes, language, program.
SubjectModel unweighted_model(const SubjectJob& job);

// A job's initial weights, drawn from its seed: N(0, 0.02), residual projections N(0, 0.02/sqrt(2L)),
// LayerNorm gains 1, biases 0. The same for every trainer.
std::map<std::string, Tensor> initial_weights(const SubjectJob& job);

// Whether train_subjects trains `jobs` with the fast CPU trainer under `config` (else torch). Throws
// mm::Error for an unknown config.trainer, or "fast" where it does not apply.
bool uses_fast_trainer(const std::vector<SubjectJob>& jobs, const TrainConfig& config);

// Trains `jobs` (one architecture up to the class count), config.slots at a time, and calls `on_done`
// for each as it finishes. `stop`, when given and true, ends training between steps; models in flight are
// dropped. Throws mm::Error on a bad configuration (e.g. cuda asked for and absent).
TrainStats train_subjects(const std::vector<SubjectJob>& jobs, const TrainConfig& config,
                          const std::function<void(SubjectResult&&)>& on_done, const std::function<bool()>& stop = {});

// For tests: the per-model training loss of the first `steps` steps, training `jobs` together in one
// batch of config.slots slots. Result [job][step].
std::vector<std::vector<double>> trace_losses(const std::vector<SubjectJob>& jobs, const TrainConfig& config, int steps);

// For tests: one forward and backward pass of `model` on `inputs` with per-position class targets (-1 =
// none): the mean cross-entropy over the positions with a target, its gradient by parameter name, and
// the logits (per input, positions x classes). fast_pass runs the fast trainer's hand-written pass,
// autograd_pass LibTorch autograd on the torch trainer's forward.
struct PassCheck {
  double loss = 0;
  std::map<std::string, Tensor> grads;
  std::vector<std::vector<float>> logits;
};
PassCheck fast_pass(const SubjectModel& model, const std::vector<Input>& inputs,
                    const std::vector<std::vector<int32_t>>& targets);
PassCheck autograd_pass(const SubjectModel& model, const std::vector<Input>& inputs,
                        const std::vector<std::vector<int32_t>>& targets);

// For tests: logits of freshly initialised job models on `inputs` through the batched torch forward pass,
// [job][input] row-major (positions, classes); and the same models as SubjectModels.
std::vector<std::vector<std::vector<float>>> batched_logits(const std::vector<SubjectJob>& jobs,
                                                            const std::vector<Input>& inputs,
                                                            std::vector<SubjectModel>* models);

}  // namespace mm
