// Training the mapper (see train.h). Data flow: corpus -> examples (encoder inputs + target ids, both
// splits) -> per epoch: shuffled batches of the train split -> collate -> encode -> teacher-forced decode
// -> cross-entropy over target tokens -> AdamW; then the test split without gradients -> record ->
// checkpoint.
#include "mapper/train.h"

#include <algorithm>
#include <cmath>
#include <chrono>
#include <filesystem>
#include <numeric>
#include <optional>

#include "core/error.h"
#include "core/hash.h"
#include "core/language.h"
#include "core/progress.h"
#include "core/rng.h"
#include "corpus/corpus.h"
#include "mapper/checkpoint.h"
#include "mapper/data.h"
#include "mapper/device.h"
#include "mapper/distributed.h"
#include "subject/permute.h"

namespace mm {

namespace {

// A path's last component (what the checkpoint records of a file given by path).
std::string basename(const std::string& path) { return path.substr(path.find_last_of('/') + 1); }

constexpr int64_t kIgnore = -100;  // label of padding positions
constexpr int kWarmupSteps = 100;

struct TokenBatch {
  torch::Tensor input;   // (B, T): <bos>, then the target shifted right; <pad> after
  torch::Tensor labels;  // (B, T): the target ids, then kIgnore
};

TokenBatch token_batch(const std::vector<const MapperExample*>& batch, torch::Device device) {
  int64_t T = 0;
  for (const auto* e : batch) T = std::max<int64_t>(T, static_cast<int64_t>(e->target.size()));
  const int64_t B = static_cast<int64_t>(batch.size());
  std::vector<int64_t> input(static_cast<size_t>(B * T), 0), labels(static_cast<size_t>(B * T), kIgnore);
  for (int64_t i = 0; i < B; ++i) {
    const auto& t = batch[static_cast<size_t>(i)]->target;
    for (size_t k = 0; k < t.size(); ++k) {
      input[static_cast<size_t>(i * T) + k] = k == 0 ? kBosId : t[k - 1];
      labels[static_cast<size_t>(i * T) + k] = t[k];
    }
  }
  return {torch::from_blob(input.data(), {B, T}, torch::kInt64).clone().to(device),
          torch::from_blob(labels.data(), {B, T}, torch::kInt64).clone().to(device)};
}

struct BatchResult {
  torch::Tensor loss;  // mean over target tokens
  int64_t tokens = 0, correct = 0;
};

// `step` >= 0 (training): a subject's probe sample (config.probe_sample) is drawn afresh, by the step and
// the view alone, so that every rank of a data-parallel job draws what one process would; so are, with
// `errors` (--synthetic-noise: the train subjects' wrong cells), the errors a synthetic table is given.
BatchResult run_batch(Mapper& mapper, const std::vector<const MapperExample*>& batch, torch::Device device,
                      int64_t step = -1, uint64_t seed = 0, const std::vector<std::vector<int32_t>>* errors = nullptr) {
  std::vector<const EncoderInput*> inputs;
  std::vector<uint64_t> seeds;
  std::vector<EncoderInput> noisy;  // the synthetic tables with errors (reserved: the pointers stay valid)
  noisy.reserve(batch.size());
  for (const auto* e : batch) {
    seeds.push_back((seed * 1000003 + static_cast<uint64_t>(step)) * 2654435761ULL + static_cast<uint64_t>(e->view_id));
    if (step >= 0 && errors && !errors->empty() && e->view_id < 0) {
      Rng rng(seeds.back() ^ 0x9e3779b97f4a7c15ULL);
      EncoderInput in;
      in.functional.behaviour = with_errors(e->input.functional.behaviour, (*errors)[rng.index(errors->size())],
                                            mapper->config().features.max_len, rng);
      noisy.push_back(std::move(in));
      inputs.push_back(&noisy.back());
    } else {
      inputs.push_back(&e->input);
    }
  }
  const TokenBatch t = token_batch(batch, device);
  const auto logits = mapper->decode(
      t.input, mapper->encode(collate(inputs, mapper->config(), device, step >= 0 ? &seeds : nullptr)));  // (B, T, V)
  BatchResult r;
  r.loss = torch::nn::functional::cross_entropy(
      logits.reshape({-1, logits.size(2)}), t.labels.reshape({-1}),
      torch::nn::functional::CrossEntropyFuncOptions().ignore_index(kIgnore));
  const auto real = t.labels != kIgnore;
  r.tokens = real.sum().item<int64_t>();
  r.correct = (logits.argmax(-1).eq(t.labels).logical_and(real)).sum().item<int64_t>();
  return r;
}

// Batches of similar target length, since a batch pads to its longest target and list-Python's run from
// 64 to ~700 tokens: shuffled (when training), sorted by length within windows of 16 batches, cut into
// batches, and the batches shuffled again.
std::vector<std::vector<const MapperExample*>> batches_of(const std::vector<MapperExample>& examples, int batch,
                                                          Rng* shuffle) {
  std::vector<size_t> order(examples.size());
  std::iota(order.begin(), order.end(), 0);
  if (shuffle)
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[shuffle->index(i)]);
  const size_t window = static_cast<size_t>(batch) * 16;
  for (size_t i = 0; i < order.size(); i += window)
    std::stable_sort(order.begin() + static_cast<std::ptrdiff_t>(i),
                     order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), i + window)),
                     [&](size_t a, size_t b) { return examples[a].target.size() < examples[b].target.size(); });
  std::vector<std::vector<const MapperExample*>> out;
  for (size_t i = 0; i < order.size(); i += static_cast<size_t>(batch)) {
    out.emplace_back();
    for (size_t k = i; k < std::min(order.size(), i + static_cast<size_t>(batch)); ++k) out.back().push_back(&examples[order[k]]);
  }
  if (shuffle)
    for (size_t i = out.size(); i > 1; --i) std::swap(out[i - 1], out[shuffle->index(i)]);
  return out;
}

// Rank `rank` of `world`'s share of one global batch: a contiguous slice (empty when the batch is smaller
// than the world).
std::vector<const MapperExample*> share_of(const std::vector<const MapperExample*>& batch, int rank, int world) {
  const size_t n = batch.size(), from = n * static_cast<size_t>(rank) / static_cast<size_t>(world),
               to = n * static_cast<size_t>(rank + 1) / static_cast<size_t>(world);
  return {batch.begin() + static_cast<std::ptrdiff_t>(from), batch.begin() + static_cast<std::ptrdiff_t>(to)};
}

// The mapper configuration a train command asks for: every command-line choice that shapes the mapper
// (what the data fixes later — features, max_tokens, synthetic_programs — is left at its default). The
// one place a new training choice is copied into the configuration; check(), a new checkpoint, the resume
// check and the ranks' agreement all read it.
MapperConfig requested_config(const MapperTrainConfig& c, const std::string& language) {
  MapperConfig m;
  if (!language.empty()) m.language = language;
  m.encoder = c.encoder;
  m.d_model = c.d_model;
  m.d_ff = c.d_ff;
  m.n_layers = c.layers;
  m.no_weights = c.no_weights;
  m.target = c.target;
  m.order = c.order;
  m.split = c.split;
  m.train_programs = c.programs;
  m.views_per_model = c.views;
  m.augment = c.augment;
  m.example_layers = c.example_layers;
  m.probe_sample = c.probe_sample;
  m.io_pairs = c.io_pairs;
  m.synthetic = basename(c.synthetic);
  m.synthetic_noise = c.synthetic_noise;
  return m;
}

// The choices of requested_config() in words: two configurations that read the same are the same mapper
// to train on (the resume check compares these).
std::string describe_choices(const MapperConfig& c) {
  return c.language + ", " + c.encoder + (c.no_weights ? ", no weights" : "") + ", d_model " + std::to_string(c.d_model) +
         ", d_ff " + std::to_string(c.d_ff) + ", " + std::to_string(c.n_layers) + " decoder layers, target " + c.target +
         (c.order != "canonical" ? ", " + c.order + " order" : "") + ", split by " + c.split +
         (c.train_programs ? ", " + std::to_string(c.train_programs) + " programs" : "") +
         (c.views_per_model ? ", " + std::to_string(c.views_per_model) + " views a model" : "") +
         (c.augment ? ", augmented" : "") +
         (c.example_layers ? ", " + std::to_string(c.example_layers) + " example layers" : "") +
         (c.probe_sample ? ", " + std::to_string(c.probe_sample) + " probe inputs a subject" : "") +
         (c.io_pairs ? ", input/output pairs embedded" : "") +
         (c.synthetic.empty() ? "" : ", synthetic programs from " + c.synthetic) +
         (c.synthetic_noise ? " with real subjects' errors" : "");
}

// What every rank of a job must agree on: the settings that shape the result, and the data.
std::string training_settings(const MapperTrainConfig& c) {
  MapperConfig m = requested_config(c, c.language);
  if (c.language.empty()) m.language = "(the corpus's language)";  // not MapperConfig's default
  return basename(c.corpus) + " " + describe_choices(m) + "; epochs " + std::to_string(c.epochs) +
         " patience " + std::to_string(c.patience) + " batch " + std::to_string(c.batch) + " lr " + std::to_string(c.lr) +
         " wd " + std::to_string(c.weight_decay) + " schedule " + c.lr_schedule + " seed " + std::to_string(c.seed);
}

std::string content_hash(const std::vector<MapperExample>& a, const std::vector<MapperExample>& b,
                         const std::vector<MapperExample>& c) {
  std::string text;
  for (const auto* part : {&a, &b, &c})
    for (const MapperExample& e : *part) {
      text += std::to_string(e.view_id) + ":" + std::to_string(e.program_id) + ":";
      for (int64_t t : e.target) text += std::to_string(t) + ",";
      text += ";";
    }
  return hex64(fnv1a64(text));
}

struct NullBuffer : std::streambuf {
  int overflow(int c) override { return c; }
};

void check(const MapperTrainConfig& c) {
  if (c.corpus.empty()) throw Error("mapper train: --corpus is required");
  if (c.out.empty()) throw Error("mapper train: -o is required");
  if (c.epochs < 1 || c.epochs > 100000) throw Error("--epochs must be in 1..100000");
  if (c.batch < 1 || c.batch > 65536) throw Error("--batch must be in 1..65536");
  if (!(c.lr > 0 && c.lr < 1)) throw Error("--lr must be in (0, 1)");
  learning_rate(c.lr_schedule, c.lr, 0, 1);  // an unknown schedule, before any view is read
  requested_config(c, c.language).validate();  // the choices MapperConfig knows, before any view is read
  if (c.programs < 0) throw Error("--programs must be 0 (all) or more");
  if (c.views < 0) throw Error("--views must be 0 (all) or more");
  if (c.procs < 1) throw Error("--procs must be 1 or more");
  if (c.augment && c.encoder != "layergraph")
    throw Error("--augment permutes the subjects' heads, hidden units and residual dimensions; the " + c.encoder +
                " encoder cannot tell (it is invariant to them by construction): use it with --encoder layergraph");
}

}  // namespace

double learning_rate(const std::string& schedule, double base, int64_t step, int64_t total_steps) {
  const double warm = std::min(1.0, static_cast<double>(step + 1) / kWarmupSteps);
  if (schedule == "constant") return base * warm;
  if (schedule != "cosine") throw Error("unknown learning-rate schedule '" + schedule + "' (choose constant or cosine)");
  const double t = total_steps > 1 ? std::clamp(static_cast<double>(step) / static_cast<double>(total_steps - 1), 0.0, 1.0) : 1.0;
  const double kPi = 3.14159265358979323846;
  return warm * (base / 10 + (base - base / 10) * 0.5 * (1 + std::cos(kPi * t)));
}

std::vector<EpochRecord> train_mapper(const MapperTrainConfig& tc, std::ostream& rank0_log) {
  check(tc);
  const DistConfig dc = resolve_dist_config(tc.world, tc.rank, tc.master, tc.timeout_s);
  NullBuffer null_buffer;
  std::ostream quiet(&null_buffer);
  std::ostream& log = dc.rank == 0 ? rank0_log : quiet;  // one rank speaks for the job
  const torch::Device device = parse_device(tc.device);
  if (tc.threads > 0) torch::set_num_threads(tc.threads);
  auto corpus = Corpus::open(tc.corpus, /*create=*/false, /*readonly=*/true);
  const std::string language = tc.language.empty() ? corpus_language(*corpus) : tc.language;

  MapperConfig config;
  std::vector<EpochRecord> epochs;
  const bool resume = std::filesystem::exists(tc.out);
  if (resume) {
    const MapperCheckpoint c = read_mapper_checkpoint(tc.out);
    config = c.config;
    epochs = c.epochs;
    const MapperConfig requested = requested_config(tc, language);
    if (describe_choices(config) != describe_choices(requested))
      throw Error("'" + tc.out + "' holds a mapper of another configuration (" + describe_choices(config) + "; this command asks for " +
                  describe_choices(requested) + "); remove it or choose another -o");
    // Resuming must keep the held-out slice as it was: with it, the train split differs.
    const bool held_out = !epochs.empty() && epochs.front().holdout_loss > 0;
    if (!epochs.empty() && held_out != (tc.patience > 0))
      throw Error("'" + tc.out + "' was trained " + (tc.patience > 0 ? "with --patience 0" : "with early stopping") +
                  "; resume it " + (tc.patience > 0 ? "with --patience 0" : "with a --patience above 0"));
    log << "resuming " << tc.out << " after epoch " << epochs.size() << "\n";
  } else {
    config = requested_config(tc, language);
    written_language(config);  // an order the language does not have, before any view is read
    config.features = corpus_feature_spec(*corpus, language);
  }
  // The train split: fitted on, less every tenth of its programs in id order (the first included), held
  // out to choose the epoch kept; split by view, every tenth of its views in id order.
  std::vector<MapperExample> train, holdout;
  {
    std::vector<MapperExample> all = load_examples(*corpus, config, "train", /*keep_subjects=*/config.augment);
    if (tc.programs > 0) {  // the first N programs of the train split, in id order
      std::vector<int64_t> programs;
      for (const MapperExample& e : all) programs.push_back(e.program_id);
      std::sort(programs.begin(), programs.end());
      programs.erase(std::unique(programs.begin(), programs.end()), programs.end());
      if (static_cast<int64_t>(programs.size()) < tc.programs)
        throw Error("--programs " + std::to_string(tc.programs) + ": the train split of '" + tc.corpus + "' holds " +
                    std::to_string(programs.size()) + " programs");
      const int64_t last = programs[static_cast<size_t>(tc.programs - 1)];
      std::erase_if(all, [&](const MapperExample& e) { return e.program_id > last; });
    }
    hold_out_tenth(std::move(all), config, tc.patience > 0, train, holdout);
  }
  const std::vector<MapperExample> test = load_examples(*corpus, config, "test");
  if (!tc.synthetic.empty()) {  // subject-less programs, never one the test split holds
    std::set<std::string> held_out;
    for (const MapperExample& e : test) held_out.insert({join_tokens(e.reduced), join_tokens(e.sampled)});
    SyntheticSet s = load_synthetic(tc.synthetic, config, corpus_domain(*corpus, language), held_out);
    if (resume && static_cast<int64_t>(s.examples.size()) != config.synthetic_programs)
      throw Error("'" + tc.out + "' was trained on " + std::to_string(config.synthetic_programs) + " synthetic programs; '" +
                  tc.synthetic + "' now gives " + std::to_string(s.examples.size()));
    config.synthetic_programs = static_cast<int64_t>(s.examples.size());
    log << "synthetic: " << s.examples.size() << " programs from " << tc.synthetic << " (" << s.excluded
        << " left out: the test split's)\n";
    for (MapperExample& e : s.examples) train.push_back(std::move(e));
  }
  // --synthetic-noise: what each real train subject gets wrong on the probe set, to give synthetic tables.
  std::vector<std::vector<int32_t>> subject_errors;
  if (config.synthetic_noise) {
    const Language& lang = language_by_name(language);
    const InputDomain domain = corpus_domain(*corpus, language);
    int64_t cells = 0, perfect = 0;
    for (const MapperExample& e : train) {
      if (e.view_id < 0) continue;
      const BehaviourInput own = program_behaviour(*lang.detokenize(e.sampled), domain, config.features);
      subject_errors.push_back(wrong_cells(e.input.functional.behaviour, own, config.features.max_len));
      cells += static_cast<int64_t>(subject_errors.back().size());
      perfect += subject_errors.back().empty();
    }
    if (subject_errors.empty())
      throw Error("--synthetic-noise draws the errors of the corpus's train subjects; '" + tc.corpus + "' has none in its train split");
    log << "synthetic noise: the errors of " << subject_errors.size() << " train subjects (" << perfect
        << " perfect on the probe set; " << static_cast<double>(cells) / static_cast<double>(subject_errors.size())
        << " wrong cells a subject on average)\n";
  }
  if (train.empty() && holdout.empty())
    throw Error("'" + tc.corpus + "' has no learned " + language + " views in its train split");
  if (train.empty())
    throw Error("'" + tc.corpus + "' has too few train programs to hold one out for early stopping (use --patience 0)");
  if (!resume)  // room past the longest program for the decoder to close what it opened (decode.h)
    config.max_tokens = std::max({longest_target(train), longest_target(holdout), longest_target(test)}) +
                        written_language(config).closing_margin() + 16;

  // The other ranks, once the data is read: they must agree on the settings, the data and the checkpoint.
  std::unique_ptr<DistGroup> dist;
  if (dc.world > 1) {
    log << "joining " << dc.world << " ranks at " << dc.master << "\n";
    dist = std::make_unique<DistGroup>(dc);
    dist->agree("the training settings", training_settings(tc));
    dist->agree("the corpus content (views, programs and targets; hash)", content_hash(train, holdout, test));
    dist->agree("the checkpoint to resume from (-o must name the same file on every rank, e.g. on a shared "
                "filesystem)", resume ? "after epoch " + std::to_string(epochs.size()) : "none");
  }
  torch::manual_seed(tc.seed);
  Mapper mapper(config);
  mapper->to(device);
  torch::optim::AdamW opt(mapper->parameters(), torch::optim::AdamWOptions(tc.lr).weight_decay(tc.weight_decay).betas({0.9, 0.98}));
  Mapper best(config);  // the parameters of the epoch with the lowest held-out loss
  best->to(device);
  if (resume) load_mapper_state(tc.out, mapper, &opt, &best);
  if (dist) {  // one starting point for every rank: rank 0's parameters
    torch::NoGradGuard no_grad;
    for (auto* m : {&mapper, &best}) {
      auto ps = (*m)->parameters();
      dist->broadcast(ps);
    }
  }
  int best_epoch = 0;  // 0: none yet
  auto improves = [&](double holdout_loss) {
    return best_epoch == 0 || holdout_loss < epochs[static_cast<size_t>(best_epoch - 1)].holdout_loss;
  };
  for (const EpochRecord& e : epochs)
    if (tc.patience > 0 && improves(e.holdout_loss)) best_epoch = e.epoch;
  log << "mapper: " << language << ", encoder " << config.encoder << (config.no_weights ? " (no weights: the floor)" : "")
      << ", target " << config.target << (config.order != "canonical" ? " written " + config.order : std::string())
      << ", split by " << config.split
      << ", " << mapper_parameter_count(mapper) << " parameters; " << train.size() << " train views, " << holdout.size() << " held out, "
      << test.size() << " test views; device " << tc.device << "\n";

  const int64_t steps_per_epoch = (static_cast<int64_t>(train.size()) + tc.batch - 1) / tc.batch;
  int64_t step = static_cast<int64_t>(epochs.size()) * steps_per_epoch;  // for the warmup, across resumes
  auto loss_over = [&](const std::vector<MapperExample>& examples, double* accuracy) {
    torch::NoGradGuard no_grad;
    mapper->eval();
    double loss = 0;
    int64_t tokens = 0, correct = 0;
    for (const auto& batch : batches_of(examples, tc.batch, nullptr)) {
      const BatchResult r = run_batch(mapper, batch, device);
      loss += r.loss.item<double>() * static_cast<double>(r.tokens);
      tokens += r.tokens;
      correct += r.correct;
    }
    if (accuracy) *accuracy = tokens ? static_cast<double>(correct) / static_cast<double>(tokens) : 0;
    return tokens ? loss / static_cast<double>(tokens) : 0;
  };
  for (int epoch = static_cast<int>(epochs.size()) + 1; epoch <= tc.epochs; ++epoch) {
    if (tc.patience > 0 && best_epoch > 0 && epoch - 1 - best_epoch >= tc.patience) {
      log << "stopped early: no lower held-out loss for " << tc.patience << " epochs; the checkpoint keeps epoch "
          << best_epoch << "\n";
      break;
    }
    const auto start = std::chrono::steady_clock::now();
    if (config.augment)  // every train subject with its heads, hidden units and residual permuted afresh
      for (MapperExample& e : train)
        if (!e.subject->arch.compiled())
          e.input = encoder_input(permute_subject(*e.subject, tc.seed * 1000003 + static_cast<uint64_t>(epoch) * 7919 +
                                                                  static_cast<uint64_t>(e.view_id)),
                                  config);
    Rng shuffle(tc.seed * 1000003 + static_cast<uint64_t>(epoch));
    const auto batches = batches_of(train, tc.batch, &shuffle);
    mapper->train();
    double loss_sum = 0;
    int64_t token_sum = 0;
    std::optional<Progress> progress;  // rank 0's
    if (dc.rank == 0) progress.emplace("epoch " + std::to_string(epoch) + "/" + std::to_string(tc.epochs), static_cast<int64_t>(batches.size()));
    for (size_t b = 0; b < batches.size(); ++b, ++step) {
      const double lr = learning_rate(tc.lr_schedule, tc.lr, step, steps_per_epoch * tc.epochs);
      for (auto& group : opt.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
      opt.zero_grad();
      if (!dist) {
        const BatchResult r = run_batch(mapper, batches[b], device, step, tc.seed, &subject_errors);
        r.loss.backward();
        loss_sum += r.loss.item<double>() * static_cast<double>(r.tokens);
        token_sum += r.tokens;
      } else {
        // This rank's share of the global batch: its gradient of the loss summed over its tokens, summed
        // across ranks with the token counts in one all-reduce, then divided by the global batch's token
        // count: the global batch's mean gradient, as in one process.
        const auto mine = share_of(batches[b], dc.rank, dc.world);
        BatchResult r;
        if (!mine.empty()) {
          r = run_batch(mapper, mine, device, step, tc.seed, &subject_errors);
          (r.loss * static_cast<double>(r.tokens)).backward();
        }
        std::vector<torch::Tensor> sums;  // every gradient (reduced in place), then [loss sum, tokens]
        for (auto& p : mapper->parameters()) {
          if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
          sums.push_back(p.grad());
        }
        sums.push_back(torch::tensor({mine.empty() ? 0.0f : r.loss.item<float>() * static_cast<float>(r.tokens),
                                      static_cast<float>(r.tokens)}));
        dist->allreduce_sum(sums);
        const double total = sums.back()[1].item<double>();
        if (total > 0)
          for (size_t k = 0; k + 1 < sums.size(); ++k) sums[k].div_(total);
        loss_sum += sums.back()[0].item<double>();
        token_sum += static_cast<int64_t>(total);
      }
      torch::nn::utils::clip_grad_norm_(mapper->parameters(), 1.0);
      opt.step();
      if (progress) progress->update(static_cast<int64_t>(b + 1), "loss " + std::to_string(loss_sum / static_cast<double>(std::max<int64_t>(1, token_sum))).substr(0, 6));
    }
    if (progress) progress->finish();
    EpochRecord rec;
    rec.epoch = epoch;
    rec.train_loss = loss_sum / static_cast<double>(std::max<int64_t>(1, token_sum));
    // The test and held-out losses: rank 0 computes them, every rank takes its figures (the held-out loss
    // decides the epoch kept and the early stop, on every rank alike).
    if (dc.rank == 0) {
      rec.val_loss = loss_over(test, &rec.val_token_accuracy);
      if (tc.patience > 0) rec.holdout_loss = loss_over(holdout, nullptr);
    }
    if (dist) {
      std::vector<torch::Tensor> figures = {torch::tensor({rec.val_loss, rec.val_token_accuracy, rec.holdout_loss}, torch::kFloat64)};
      dist->broadcast(figures);
      rec.val_loss = figures[0][0].item<double>();
      rec.val_token_accuracy = figures[0][1].item<double>();
      rec.holdout_loss = figures[0][2].item<double>();
    }
    if (tc.patience > 0) {
      if (improves(rec.holdout_loss)) {
        best_epoch = epoch;
        torch::NoGradGuard no_grad;
        const auto from = mapper->parameters();
        auto to = best->parameters();
        for (size_t k = 0; k < from.size(); ++k) to[k].copy_(from[k]);
      }
    }
    rec.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    epochs.push_back(rec);
    if (dc.rank == 0) save_mapper(tc.out, mapper, &opt, epochs, tc.patience > 0 ? &best : nullptr);
    if (dist) dist->barrier();  // the checkpoint is written before any rank goes on
    char line[240];
    std::snprintf(line, sizeof line,
                  "epoch %d/%d: train loss %.4f, held-out loss %.4f%s, test loss %.4f, test token accuracy %.4f "
                  "(teacher-forced), %.1f s\n",
                  epoch, tc.epochs, rec.train_loss, rec.holdout_loss, best_epoch == epoch ? " (best)" : "", rec.val_loss,
                  rec.val_token_accuracy, rec.seconds);
    log << line << std::flush;
  }
  return epochs;
}

}  // namespace mm
