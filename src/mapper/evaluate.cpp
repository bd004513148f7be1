// Scoring a mapper on the test split (see evaluate.h). Data flow: test examples (with their subject
// models) -> per view: evaluation inputs, the true program's outputs (cached per program), the subject's
// predictions -> decode with the mapper (and the floor) -> score -> sums per row.
#include "mapper/evaluate.h"

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/progress.h"
#include "corpus/corpus.h"
#include "eval/gpt2_bpe.h"
#include "mapper/checkpoint.h"
#include "mapper/data.h"
#include "mapper/decode.h"
#include "mapper/device.h"
#include "subject/trainer.h"

namespace mm {

namespace {

std::vector<std::string> decode_one(Mapper& mapper, const SubjectModel& subject, int beam, torch::Device device) {
  const EncoderInput in = encoder_input(subject, mapper->config());
  torch::NoGradGuard no_grad;
  const Memory memory = mapper->encode(collate({&in}, mapper->config(), device));
  const std::vector<Decoded> out = decode_program(mapper, memory, beam);
  return out.empty() ? std::vector<std::string>{} : out[0].tokens;
}

}  // namespace

EvalReport evaluate_mapper(const EvalOptions& o, std::ostream& log) {
  if (o.beam < 1) throw Error("--beam must be at least 1");
  const torch::Device device = parse_device(o.device);
  if (o.threads > 0) torch::set_num_threads(o.threads);
  auto corpus = Corpus::open(o.corpus, /*create=*/false, /*readonly=*/true);
  Mapper mapper = load_mapper(o.mapper, "", device);
  const MapperConfig& config = mapper->config();
  Mapper floor{nullptr};
  if (!o.floor.empty()) {
    floor = load_mapper(o.floor, config.language, device);
    if (!floor->config().no_weights)
      log << "warning: '" << o.floor << "' was trained with weights; it is not a no-weights floor\n";
  }
  const Language& lang = language_by_name(config.language);
  std::unique_ptr<Gpt2Bpe> bpe;
  if (config.language == "python") bpe = std::make_unique<Gpt2Bpe>(Gpt2Bpe::load(Gpt2Bpe::default_dir()));

  std::vector<MapperExample> test = load_examples(*corpus, config, "test", /*keep_subjects=*/true);
  if (test.empty()) throw Error("'" + o.corpus + "' has no learned " + config.language + " views in its test split");
  if (o.limit > 0 && static_cast<size_t>(o.limit) < test.size()) test.resize(static_cast<size_t>(o.limit));

  EvalReport r;
  r.language = config.language;
  r.encoder = config.encoder;
  std::map<int64_t, Outputs> truth_of;  // by program id
  const TrainConfig defaults;
  double mapper_seconds = 0;
  Progress progress("eval", static_cast<int64_t>(test.size()));
  int64_t done = 0;
  for (const MapperExample& e : test) {
    const SubjectModel& subject = *e.subject;
    const std::vector<Input> inputs = evaluation_inputs(subject.domain, defaults);
    auto [it, fresh] = truth_of.try_emplace(e.program_id);
    if (fresh) it->second = run_on(*lang.detokenize(e.tokens), inputs);
    Outputs predicted;
    predicted.reserve(inputs.size());
    for (const Input& x : inputs) predicted.push_back(subject_predict(subject, x));
    const std::vector<std::string> rows = {"all", "params " + params_bucket(e.params), "tokens " + length_bucket(e.tokens.size())};
    const auto start = std::chrono::steady_clock::now();
    const ProgramScore s = score_program(lang, decode_one(mapper, subject, o.beam, device), e.tokens, inputs, it->second,
                                         predicted, bpe.get());
    mapper_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (const auto& row : rows) r.mapper[row].add(s);
    if (floor) {
      const ProgramScore f = score_program(lang, decode_one(floor, subject, o.beam, device), e.tokens, inputs, it->second,
                                           predicted, bpe.get());
      for (const auto& row : rows) r.floor[row].add(f);
    }
    progress.update(++done);
  }
  progress.finish();
  r.seconds_per_view = mapper_seconds / static_cast<double>(test.size());
  r.rows.push_back("all");
  for (const char* b : {"<10K", "10K-100K", "100K-1M", "1M-10M", ">10M"})
    if (r.mapper.count(std::string("params ") + b)) r.rows.push_back(std::string("params ") + b);
  for (const char* b : {"1-16", "17-32", "33-64", "65-128", "129+"})
    if (r.mapper.count(std::string("tokens ") + b)) r.rows.push_back(std::string("tokens ") + b);
  return r;
}

std::string format_report(const EvalReport& r) {
  const bool floor = !r.floor.empty();
  const bool bpe = r.mapper.at("all").has_bpe;
  std::string out = "mapper (" + r.language + ", encoder " + r.encoder + ") on the test split" +
                    (floor ? "; in brackets: the no-weights floor" : "") + "\n\n";
  out += "| subjects | n | token acc. |";
  if (bpe) out += " GPT-2 token acc. |";
  out += " exact | parses | func. equiv. | fidelity (pos.) | fidelity (seq.) |\n|---|---|---|";
  if (bpe) out += "---|";
  out += "---|---|---|---|---|\n";
  auto cell = [&](double v, double f) {
    char b[64];
    if (floor) std::snprintf(b, sizeof b, " %.1f%% (%.1f%%) |", 100 * v, 100 * f);
    else std::snprintf(b, sizeof b, " %.1f%% |", 100 * v);
    return std::string(b);
  };
  for (const auto& row : r.rows) {
    const ScoreSummary m = r.mapper.at(row).mean();
    const ScoreSummary f = floor ? r.floor.at(row).mean() : ScoreSummary{};
    out += "| " + row + " | " + std::to_string(m.n) + " |" + cell(m.token_accuracy, f.token_accuracy);
    if (bpe) out += cell(m.bpe_token_accuracy, f.bpe_token_accuracy);
    out += cell(m.exact, f.exact) + cell(m.parses, f.parses) + cell(m.equivalent, f.equivalent) +
           cell(m.fidelity_position, f.fidelity_position) + cell(m.fidelity_sequence, f.fidelity_sequence) + "\n";
  }
  char b[96];
  std::snprintf(b, sizeof b, "\n%.3f s per view (decoding and scoring)\n", r.seconds_per_view);
  return out + b;
}

std::string report_json(const EvalReport& r) {
  auto summary = [](const ScoreSummary& s) {
    const ScoreSummary m = s.mean();
    nlohmann::json j = {{"n", m.n}, {"token_accuracy", m.token_accuracy}, {"exact", m.exact}, {"parses", m.parses},
                        {"equivalent", m.equivalent}, {"fidelity_position", m.fidelity_position},
                        {"fidelity_sequence", m.fidelity_sequence}};
    if (m.has_bpe) j["bpe_token_accuracy"] = m.bpe_token_accuracy;
    return j;
  };
  nlohmann::json j = {{"language", r.language}, {"encoder", r.encoder}, {"seconds_per_view", r.seconds_per_view}};
  for (const auto& row : r.rows) {
    j["mapper"][row] = summary(r.mapper.at(row));
    if (!r.floor.empty()) j["floor"][row] = summary(r.floor.at(row));
  }
  return j.dump(2);
}

}  // namespace mm
