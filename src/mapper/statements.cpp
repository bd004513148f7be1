// Training a mapper's statement head (see statements.h): features from the frozen mapper, then the head.
#include "mapper/statements.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"
#include "core/language.h"
#include "core/progress.h"
#include "core/rng.h"
#include "corpus/corpus.h"
#include "mapper/checkpoint.h"
#include "mapper/data.h"
#include "mapper/device.h"

namespace mm {

namespace {

// The head's input for every example, (N, 2 d_model), from the frozen mapper, in batches.
torch::Tensor features_of(Mapper& mapper, const std::vector<MapperExample>& examples, torch::Device device,
                          const std::string& what) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  Progress progress(what, static_cast<int64_t>(examples.size()));
  const size_t batch = 64;
  for (size_t i = 0; i < examples.size(); i += batch) {
    std::vector<const EncoderInput*> inputs;
    for (size_t k = i; k < std::min(examples.size(), i + batch); ++k) inputs.push_back(&examples[k].input);
    parts.push_back(mapper->statement_features(mapper->encode(collate(inputs, mapper->config(), device))).to(torch::kCPU));
    progress.update(static_cast<int64_t>(std::min(examples.size(), i + batch)));
  }
  progress.finish();
  return torch::cat(parts, 0);
}

// The targets' numbers of statements (the language's count of the canonical tokens), capped at `cap`.
torch::Tensor counts_of(const Language& lang, const std::vector<MapperExample>& examples, int cap) {
  std::vector<int64_t> c;
  for (const MapperExample& e : examples) c.push_back(std::min(cap, lang.statement_count(e.tokens)));
  return torch::tensor(c, torch::kInt64);
}

double accuracy(const torch::Tensor& logits, const torch::Tensor& labels) {
  if (labels.numel() == 0) return 0;
  return predicted_counts(logits).eq(labels).to(torch::kFloat64).mean().item<double>();
}

}  // namespace

StatementHeadReport train_statement_head(const StatementHeadConfig& c, std::ostream& log) {
  if (c.mapper.empty() || c.corpus.empty() || c.out.empty()) throw Error("mapper statements: --mapper, --corpus and -o are required");
  if (c.out == c.mapper) throw Error("mapper statements: -o must name a new file, not the mapper read");
  if (c.epochs < 1) throw Error("--epochs must be 1 or more");
  const torch::Device device = parse_device(c.device);
  if (c.threads > 0) torch::set_num_threads(c.threads);
  const MapperCheckpoint checkpoint = read_mapper_checkpoint(c.mapper);
  Mapper base = load_mapper(c.mapper, "", device);
  MapperConfig config = base->config();
  const Language& lang = language_by_name(config.language);
  if (config.train_programs > 0)
    throw Error("mapper statements: '" + c.mapper + "' was trained on a prefix of the train split (--programs); not supported");
  if (!c.synthetic.empty() && config.synthetic.empty())
    throw Error("mapper statements: '" + c.mapper + "' was trained without synthetic programs; leave out --synthetic");

  auto corpus = Corpus::open(c.corpus, /*create=*/false, /*readonly=*/true);
  // The mapper's own split: its held-out tenth (every tenth program, or view, in id order) checks the head.
  std::vector<MapperExample> train, holdout;
  hold_out_tenth(load_examples(*corpus, config, "train"), config, /*hold=*/true, train, holdout);
  const std::vector<MapperExample> test = load_examples(*corpus, config, "test");
  if (train.empty() || holdout.empty()) throw Error("'" + c.corpus + "' has too few train views to hold a tenth out");
  if (!c.synthetic.empty()) {
    std::set<std::string> held_out;
    for (const MapperExample& e : test) held_out.insert({join_tokens(e.reduced), join_tokens(e.sampled)});
    SyntheticSet s = load_synthetic(c.synthetic, config, corpus_domain(*corpus, config.language), held_out, c.synthetic_programs);
    log << "synthetic: " << s.examples.size() << " programs from the first " << c.synthetic_programs << " lines of "
        << c.synthetic << " (" << s.excluded << " left out: the test split's)\n";
    for (MapperExample& e : s.examples) train.push_back(std::move(e));
  }

  int most = 0;
  for (const auto* part : {&train, &holdout})
    for (const MapperExample& e : *part) most = std::max(most, lang.statement_count(e.tokens));
  if (most == 0) throw Error("mapper statements: " + config.language + " programs have no statements to count (RASP only)");
  config.statement_classes = most + 2;  // counts 0..most, and one above for any longer program
  const int cap = config.statement_classes - 1;

  base->eval();
  const torch::Tensor x_train = features_of(base, train, device, "features (train)");
  const torch::Tensor x_holdout = features_of(base, holdout, device, "features (held out)");
  const torch::Tensor x_test = features_of(base, test, device, "features (test)");
  const torch::Tensor y_train = counts_of(lang, train, cap), y_holdout = counts_of(lang, holdout, cap),
                      y_test = counts_of(lang, test, cap);

  // The mapper with a head: every trained parameter copied by name, the head initialised afresh.
  torch::manual_seed(c.seed);
  Mapper mapper(config);
  {
    torch::NoGradGuard no_grad;
    const auto from = base->named_parameters();
    for (auto& p : mapper->named_parameters())
      if (const auto* q = from.find(p.key())) p.value().copy_(*q);
  }
  std::vector<torch::Tensor> head;
  for (auto& p : mapper->named_parameters())
    if (p.key().rfind("statement_", 0) == 0) head.push_back(p.value());
  torch::optim::AdamW opt(head, torch::optim::AdamWOptions(c.lr).weight_decay(0.01));
  std::vector<torch::Tensor> best;
  for (const auto& p : head) best.push_back(p.detach().clone());

  StatementHeadReport r;
  r.classes = config.statement_classes;
  r.train = x_train.size(0), r.holdout = x_holdout.size(0), r.test = x_test.size(0);
  double best_loss = 1e30;
  Rng shuffle(c.seed);
  const int64_t N = x_train.size(0), batch = 256;
  for (int epoch = 1; epoch <= c.epochs; ++epoch) {
    std::vector<int64_t> order(static_cast<size_t>(N));
    std::iota(order.begin(), order.end(), 0);
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[shuffle.index(i)]);
    const auto perm = torch::tensor(order, torch::kInt64);
    double loss_sum = 0;
    for (int64_t i = 0; i < N; i += batch) {
      const auto rows = perm.slice(0, i, std::min(N, i + batch));
      const auto loss = torch::nn::functional::cross_entropy(mapper->statement_logits(x_train.index_select(0, rows)),
                                                             y_train.index_select(0, rows));
      opt.zero_grad();
      loss.backward();
      opt.step();
      loss_sum += loss.item<double>() * static_cast<double>(rows.size(0));
    }
    torch::NoGradGuard no_grad;
    const auto logits = mapper->statement_logits(x_holdout);
    const double held = torch::nn::functional::cross_entropy(logits, y_holdout).item<double>();
    const double acc = accuracy(logits, y_holdout);
    const bool better = held < best_loss;
    if (better) {
      best_loss = held;
      r.best_epoch = epoch;
      r.holdout_accuracy = acc;
      for (size_t k = 0; k < head.size(); ++k) best[k].copy_(head[k]);
    }
    char line[200];
    std::snprintf(line, sizeof line, "epoch %d/%d: train loss %.4f, held-out loss %.4f%s, held-out count accuracy %.4f\n", epoch,
                  c.epochs, loss_sum / static_cast<double>(N), held, better ? " (best)" : "", acc);
    log << line << std::flush;
  }
  {
    torch::NoGradGuard no_grad;
    for (size_t k = 0; k < head.size(); ++k) head[k].copy_(best[k]);
    r.test_accuracy = accuracy(mapper->statement_logits(x_test), y_test);
    const auto majority = std::get<0>(at::mode(y_train)).item<int64_t>();
    r.test_majority_accuracy = y_test.eq(majority).to(torch::kFloat64).mean().item<double>();
  }
  save_mapper(c.out, mapper, nullptr, checkpoint.epochs, nullptr);
  return r;
}

}  // namespace mm
