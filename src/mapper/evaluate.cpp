// Scoring a mapper on the test split (see evaluate.h). Data flow: test examples (with their subject
// models) -> per view: evaluation inputs, the true program's outputs (cached per program), the subject's
// predictions (and, for candidates, its behaviour on the verification inputs) -> per method, an answer
// from the mapper (and the floor) -> score -> sums per row.
#include "mapper/evaluate.h"

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/parallel.h"
#include "core/progress.h"
#include "corpus/corpus.h"
#include "eval/gpt2_bpe.h"
#include "decompile/repair.h"
#include "mapper/checkpoint.h"
#include "mapper/data.h"
#include "mapper/decode.h"
#include "mapper/device.h"
#include "subject/trainer.h"

namespace mm {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The answers of one mapper for one subject, one per method, with the seconds each took to produce
// (cumulative: best of K includes the model's run; repair includes best of K).
struct Answers {
  std::vector<std::vector<std::string>> tokens;  // per method
  std::vector<double> seconds;                   // per method
  int64_t repair_edits = 0;
};

Answers answer(Mapper& mapper, const SubjectModel& subject, const EvalOptions& o, const Behaviour* behaviour,
               double behaviour_seconds, int threads, torch::Device device) {
  const Language& lang = language_by_name(mapper->config().language);
  Answers a;
  auto t = Clock::now();
  const EncoderInput in = encoder_input(subject, mapper->config());
  torch::NoGradGuard no_grad;
  const Memory memory = mapper->encode(collate({&in}, mapper->config(), device));
  const double encode_seconds = since(t);
  const std::vector<Decoded> top = decode_program(mapper, memory, o.beam);
  a.tokens.push_back(top.empty() ? std::vector<std::string>{} : top[0].tokens);
  a.seconds.push_back(since(t));
  if (o.candidates <= 1) return a;
  t = Clock::now();
  std::vector<Candidate> candidates;
  for (const Decoded& d : propose_candidates(mapper, memory, o.candidates, o.seed)) candidates.push_back(Candidate::proposed(d.tokens, d.logprob, d.origin));
  std::vector<Candidate> ranked = rank_candidates(lang, std::move(candidates), *behaviour, threads);
  a.tokens.push_back(ranked.empty() ? std::vector<std::string>{} : ranked[0].tokens);
  const double best_seconds = encode_seconds + behaviour_seconds + since(t);
  a.seconds.push_back(best_seconds);
  if (!o.repair) return a;
  t = Clock::now();
  RepairStats stats;
  ranked = repair_best(lang, ranked, o.repair_from, *behaviour, {o.repair_edits, o.repair_seconds, threads, o.repair_structural}, threads, &stats);
  a.tokens.push_back(ranked.empty() ? std::vector<std::string>{} : ranked[0].tokens);
  a.seconds.push_back(best_seconds + since(t));
  a.repair_edits = stats.tried;
  return a;
}

}  // namespace

EvalReport evaluate_mapper(const EvalOptions& o, std::ostream& log) {
  if (o.beam < 1) throw Error("--beam must be at least 1");
  if (o.candidates < 1) throw Error("--candidates must be at least 1");
  if (o.repair && o.candidates < 2) throw Error("--repair repairs the best of the candidates: give --candidates 2 or more");
  const auto t_start = Clock::now();
  const torch::Device device = parse_device(o.device);
  if (o.threads > 0) torch::set_num_threads(o.threads);
  const int threads = o.threads > 0 ? o.threads : torch::get_num_threads();
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
  auto add_method = [&](std::string name) {
    r.methods.emplace_back();
    r.methods.back().name = std::move(name);
  };
  add_method(o.beam == 1 ? "greedy" : "beam " + std::to_string(o.beam));
  if (o.candidates > 1) add_method("best of " + std::to_string(o.candidates));
  if (o.repair) add_method("repair");
  std::map<int64_t, Outputs> truth_of;  // by program id
  const TrainConfig defaults;
  Progress progress("eval", static_cast<int64_t>(test.size()));
  int64_t done = 0;
  for (const MapperExample& e : test) {
    const SubjectModel& subject = *e.subject;
    const std::vector<Input> inputs = evaluation_inputs(subject.domain, defaults);
    auto [it, fresh] = truth_of.try_emplace(e.program_id);
    if (fresh) it->second = run_on(*lang.detokenize(e.tokens), inputs);
    Outputs predicted(inputs.size());
    parallel_for(inputs.size(), threads, [&](size_t i) { predicted[i] = subject_predict(subject, inputs[i]); });
    // The model's behaviour on the verification inputs: run once, shared by every candidate of both mappers.
    std::unique_ptr<Behaviour> behaviour;
    double behaviour_seconds = 0;
    if (o.candidates > 1) {
      const auto t = Clock::now();
      behaviour = std::make_unique<Behaviour>(model_behaviour(subject, o.inputs, threads));
      behaviour_seconds = since(t);
    }
    const std::vector<std::string> rows = {"all", "params " + params_bucket(e.params), "tokens " + length_bucket(e.tokens.size())};
    auto score = [&](const std::vector<std::string>& tokens) {
      return score_program(lang, tokens, e.tokens, inputs, it->second, predicted, bpe.get());
    };
    // Each method's answer scored into its table: the mapper's, or the floor's.
    auto tally = [&](const Answers& a, bool is_floor) {
      for (size_t k = 0; k < r.methods.size(); ++k) {
        MethodReport& method = r.methods[k];
        const ProgramScore s = score(a.tokens[k]);
        for (const auto& row : rows) (is_floor ? method.floor : method.mapper)[row].add(s);
        (is_floor ? method.floor_seconds_per_view : method.seconds_per_view) += a.seconds[k];
      }
    };
    const Answers m = answer(mapper, subject, o, behaviour.get(), behaviour_seconds, threads, device);
    tally(m, false);
    r.methods.back().repair_edits_tried += m.repair_edits;
    if (floor) tally(answer(floor, subject, o, behaviour.get(), behaviour_seconds, threads, device), true);
    progress.update(++done);
  }
  progress.finish();
  r.views = static_cast<int64_t>(test.size());
  for (MethodReport& m : r.methods) {
    m.seconds_per_view /= static_cast<double>(test.size());
    m.floor_seconds_per_view /= static_cast<double>(test.size());
  }
  const auto& any = r.methods.front().mapper;
  r.rows.push_back("all");
  for (const char* b : {"<10K", "10K-100K", "100K-1M", "1M-10M", ">10M"})
    if (any.count(std::string("params ") + b)) r.rows.push_back(std::string("params ") + b);
  for (const char* b : {"1-16", "17-32", "33-64", "65-128", "129+"})
    if (any.count(std::string("tokens ") + b)) r.rows.push_back(std::string("tokens ") + b);
  r.seconds = since(t_start);
  return r;
}

std::string format_report(const EvalReport& r) {
  std::string out;
  for (const MethodReport& method : r.methods) {
    const bool floor = !method.floor.empty();
    const bool bpe = method.mapper.at("all").has_bpe;
    out += "mapper (" + r.language + ", encoder " + r.encoder + ") on the test split, " + method.name +
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
      const ScoreSummary m = method.mapper.at(row).mean();
      const ScoreSummary f = floor ? method.floor.at(row).mean() : ScoreSummary{};
      out += "| " + row + " | " + std::to_string(m.n) + " |" + cell(m.token_accuracy, f.token_accuracy);
      if (bpe) out += cell(m.bpe_token_accuracy, f.bpe_token_accuracy);
      out += cell(m.exact, f.exact) + cell(m.parses, f.parses) + cell(m.equivalent, f.equivalent) +
             cell(m.fidelity_position, f.fidelity_position) + cell(m.fidelity_sequence, f.fidelity_sequence) + "\n";
    }
    char b[200];
    std::snprintf(b, sizeof b, "\n%.3f s per view to produce the answer (mapper", method.seconds_per_view);
    out += b;
    if (floor) {
      std::snprintf(b, sizeof b, "; floor %.3f s", method.floor_seconds_per_view);
      out += b;
    }
    out += ")";
    if (method.name == "repair") {
      std::snprintf(b, sizeof b, "; %.1f edits run per view (mapper)",
                    static_cast<double>(method.repair_edits_tried) / static_cast<double>(std::max<int64_t>(r.views, 1)));
      out += b;
    }
    out += "\n\n";
  }
  char b[96];
  std::snprintf(b, sizeof b, "%lld views in %.1f s\n", static_cast<long long>(r.views), r.seconds);
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
  auto method_json = [&](const MethodReport& method) {
    nlohmann::json j = {{"name", method.name}, {"seconds_per_view", method.seconds_per_view}};
    for (const auto& row : r.rows) {
      j["mapper"][row] = summary(method.mapper.at(row));
      if (!method.floor.empty()) {
        j["floor"][row] = summary(method.floor.at(row));
        j["floor_seconds_per_view"] = method.floor_seconds_per_view;
      }
    }
    if (method.name == "repair") j["repair_edits_tried"] = method.repair_edits_tried;
    return j;
  };
  // The first method's table at the top level (as before candidates existed), every method under "methods".
  nlohmann::json j = method_json(r.methods.front());
  j.erase("name");
  j["language"] = r.language;
  j["encoder"] = r.encoder;
  j["views"] = r.views;
  j["seconds"] = r.seconds;
  for (const MethodReport& m : r.methods) j["methods"].push_back(method_json(m));
  return j.dump(2);
}

}  // namespace mm
