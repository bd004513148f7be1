// Scoring a mapper on the test split (see evaluate.h). Data flow: test examples (with their subject
// models) -> per view: evaluation inputs, the true program's outputs (cached per program), the subject's
// predictions (and, for candidates, its behaviour on the verification inputs) -> per method, an answer
// from the mapper (and the floor) -> score -> the view's record (appended to the views file, if any; a
// view already there is read back instead) -> sums per row.
#include "mapper/evaluate.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/parallel.h"
#include "core/progress.h"
#include "corpus/corpus.h"
#include "eval/gpt2_bpe.h"
#include "decompile/pipeline.h"
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

DecompileConfig pipeline_config(const EvalOptions& o, SearchKind search, int threads, const HeadPatterns* heads = nullptr) {
  DecompileConfig c;
  c.search = search;
  c.threads = threads;
  c.repair_from = o.repair_from;
  c.repair = {o.repair_edits, o.repair_seconds, threads, o.repair_structural == 1};
  c.synth.max_seconds = o.search_seconds;
  c.synth.max_expressions = o.search_expressions;
  c.synth.memory_mb = o.search_memory_mb;
  c.synth.threads = threads;
  c.synth.heads = heads;
  return c;
}

// Methods after greedy, from one verification of the proposals (the decompile pipeline): best of K (the
// proposals verified), then repair and synthesis, each a search from that ranking.
// `perfect` (eval --perfect-subjects), when given, is what a behaviour encoder reads instead of the subject's
// outputs. `statements` > 0 holds the first method's decoding to that many statements (eval --statements).
Answers answer(Mapper& mapper, const SubjectModel& subject, const EvalOptions& o, const Behaviour* behaviour,
               const HeadPatterns* heads, double behaviour_seconds, int threads, torch::Device device,
               const BehaviourInput* perfect, int statements) {
  const Language& lang = language_by_name(mapper->config().language);
  Answers a;
  auto t = Clock::now();
  EncoderInput in;
  if (perfect && mapper->config().encoder == "behaviour") in.functional.behaviour = *perfect;
  else in = encoder_input(subject, mapper->config());
  torch::NoGradGuard no_grad;
  const Memory memory = mapper->encode(collate({&in}, mapper->config(), device));
  const double encode_seconds = since(t);
  if (o.statements == "head") statements = mapper->predicted_statements(memory)[0];
  const std::vector<Decoded> top = decode_program(mapper, memory, o.beam, statements);
  a.tokens.push_back(top.empty() ? std::vector<std::string>{} : top[0].tokens);
  a.seconds.push_back(since(t));
  if (o.candidates <= 1 && !o.synth) return a;
  t = Clock::now();
  std::vector<Candidate> proposals;
  if (o.candidates > 1) {
    for (const Decoded& d : propose_candidates(mapper, memory, o.candidates, o.seed))
      proposals.push_back(Candidate::proposed(d.tokens, d.logprob, d.origin));
  } else if (!top.empty()) {
    proposals.push_back(Candidate::proposed(top[0].tokens, top[0].logprob, "greedy"));
  }
  const double propose_seconds = encode_seconds + since(t);
  auto first = [](const std::vector<Candidate>& ranked) { return ranked.empty() ? std::vector<std::string>{} : ranked[0].tokens; };
  // The pipeline's two stages: the proposals verified once (rank_candidates), then each later method a
  // search from that one ranking (search_ranked).
  t = Clock::now();
  const std::vector<Candidate> verified = rank_candidates(lang, std::move(proposals), *behaviour, threads);
  const double verified_seconds = propose_seconds + behaviour_seconds + since(t);
  if (o.candidates > 1) {
    a.tokens.push_back(first(verified));
    a.seconds.push_back(verified_seconds);
    if (o.repair) {
      const DecompileResult r = search_ranked(lang, *behaviour, subject.domain, verified, pipeline_config(o, SearchKind::Repair, threads));
      a.tokens.push_back(first(r.ranked));
      a.seconds.push_back(verified_seconds + r.search_seconds);
      a.repair_edits = r.repair.tried;
    }
  }
  if (o.synth) {
    DecompileConfig c = pipeline_config(o, SearchKind::Synth, threads, heads);
    c.synth.logprob = [&](const std::vector<std::string>& tokens) { return program_logprob(mapper, memory, tokens); };
    const DecompileResult r = search_ranked(lang, *behaviour, subject.domain, verified, c);
    a.tokens.push_back(first(r.ranked));
    a.seconds.push_back(verified_seconds + r.search_seconds);
  }
  return a;
}

// ---------------------------------------------------------------------------------------------------
// Per-view records. A record holds, per method, the mapper's (and the floor's) program, its scores and
// the seconds it took: everything the report sums, so a report from records read back is the same.

nlohmann::json score_json(const ProgramScore& s, const std::vector<std::string>& tokens) {
  nlohmann::json j = {{"program", join_tokens(tokens)}, {"token_accuracy", s.token_accuracy}, {"exact", s.exact},
                      {"parses", s.parses}, {"equivalent", s.equivalent}, {"fidelity_position", s.fidelity_position},
                      {"fidelity_sequence", s.fidelity_sequence}};
  if (s.bpe_token_accuracy >= 0) j["bpe_token_accuracy"] = s.bpe_token_accuracy;
  if (s.output_first_token_accuracy >= 0) j["output_first_token_accuracy"] = s.output_first_token_accuracy;
  if (s.has_sampled) j["sampled_token_accuracy"] = s.sampled_token_accuracy, j["sampled_exact"] = s.sampled_exact;
  return j;
}

ProgramScore score_of(const nlohmann::json& j) {
  ProgramScore s;
  s.token_accuracy = j.at("token_accuracy").get<double>();
  s.bpe_token_accuracy = j.value("bpe_token_accuracy", -1.0);
  s.output_first_token_accuracy = j.value("output_first_token_accuracy", -1.0);
  s.exact = j.at("exact").get<bool>();
  if (j.contains("sampled_token_accuracy")) {
    s.has_sampled = true;
    s.sampled_token_accuracy = j.at("sampled_token_accuracy").get<double>();
    s.sampled_exact = j.at("sampled_exact").get<bool>();
  }
  s.parses = j.at("parses").get<bool>();
  s.equivalent = j.at("equivalent").get<bool>();
  s.fidelity_position = j.at("fidelity_position").get<double>();
  s.fidelity_sequence = j.at("fidelity_sequence").get<double>();
  return s;
}

// What decides a view's record: a views file is resumed only under the same.
nlohmann::json record_options(const EvalOptions& o) {
  nlohmann::json j = {{"corpus", o.corpus}, {"mapper", o.mapper}, {"floor", o.floor}, {"beam", o.beam},
          {"candidates", o.candidates}, {"repair", o.repair}, {"repair_from", o.repair_from},
          {"repair_edits", o.repair_edits}, {"repair_seconds", o.repair_seconds},
          {"repair_structural", o.repair_structural == 1}, {"inputs", o.inputs}, {"seed", o.seed},
          {"synth", o.synth}, {"search_seconds", o.search_seconds}, {"search_expressions", o.search_expressions},
          {"search_memory_mb", o.search_memory_mb}, {"heads", o.heads},
          {"token_target", "reduced"}};  // token accuracy and exact match are against the reduced form
  if (o.perfect_subjects) j["perfect_subjects"] = true;  // absent otherwise, so files from before it resume
  if (!o.statements.empty()) j["statements"] = o.statements;  // likewise
  // RASP synthesis runs one search per thread: what it returns depends on the count, so a resumed run
  // must use the same one.
  if (o.synth) j["threads"] = o.threads;
  return j;
}

// The views file: a header line {"modelmap_eval_views": 1, "options": {...}}, then one record per line,
// each flushed as it is written. An unfinished last line (a killed run) is dropped on reading.
class ViewsFile {
 public:
  ViewsFile(const EvalOptions& o, std::ostream& log) : path_(o.views_file) {
    if (path_.empty()) return;
    const nlohmann::json options = record_options(o);
    std::error_code ec;
    const bool exists = std::filesystem::exists(path_, ec) && std::filesystem::file_size(path_, ec) > 0;
    const bool has_header = exists && read(path_, options, log, /*writable=*/true);
    out_.open(path_, std::ios::app | std::ios::binary);
    if (!out_) throw Error("cannot write the views file '" + path_ + "'");
    if (!has_header) write({{"modelmap_eval_views", 1}, {"options", options}});
  }
  const nlohmann::json* find(int64_t view) const {
    const auto it = done_.find(view);
    return it == done_.end() ? nullptr : &it->second;
  }
  void append(const nlohmann::json& record) {
    if (!path_.empty()) write(record);
  }
  // `eval --merge`: the records of another views file (a shard's), read only; its options must be these.
  void absorb(const std::string& path, const EvalOptions& o, std::ostream& log) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) throw Error("--merge: '" + path + "' does not exist");
    if (!read(path, record_options(o), log, /*writable=*/false))
      throw Error("--merge: '" + path + "' is not a views file of `eval --views-file` (no header line)");
  }
  size_t size() const { return done_.size(); }

 private:
  void write(const nlohmann::json& j) {
    out_ << j.dump() << '\n';
    out_.flush();
    if (!out_) throw Error("cannot write the views file '" + path_ + "'");
  }
  // Reads the records of `path`; whether the file holds its header line. An unfinished last line is cut
  // off the file when `writable` (the run resumes after it), else only skipped.
  bool read(const std::string& path_, const nlohmann::json& options, std::ostream& log, bool writable) {
    std::ifstream in(path_, std::ios::binary);
    if (!in) throw Error("cannot read the views file '" + path_ + "'");
    std::string line;
    std::streamoff good = 0;  // the end of the last complete line read
    int64_t number = 0;
    while (std::getline(in, line)) {
      ++number;
      const bool complete = !in.eof();  // a line ended by its newline
      nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      const bool ok = complete && !j.is_discarded() &&
                      (number == 1 ? j.contains("modelmap_eval_views") : j.contains("view") && j.contains("methods"));
      if (!ok) {
        if (in.peek() != std::char_traits<char>::eof() && complete)
          throw Error("the views file '" + path_ + "' is corrupt at line " + std::to_string(number));
        log << "views file: " << (writable ? "dropping" : "skipping") << " an unfinished last line of '" << path_ << "'\n";
        in.close();
        if (writable) std::filesystem::resize_file(path_, static_cast<uintmax_t>(good));
        break;
      }
      good = in.tellg();
      if (number == 1) {
        if (j["options"] != options) {
          std::string differ;
          for (const auto& [key, value] : options.items())
            if (!j["options"].contains(key) || j["options"][key] != value) differ += (differ.empty() ? "" : ", ") + key;
          throw Error("the views file '" + path_ + "' was written by an evaluation with other options (" + differ +
                      "); give another file or remove it");
        }
        continue;
      }
      if (!j["view"].is_number_integer())
        throw Error("the views file '" + path_ + "' is corrupt at line " + std::to_string(number));
      const int64_t view = j["view"].get<int64_t>();
      done_[view] = std::move(j);
    }
    return good > 0;
  }

  std::string path_;
  std::ofstream out_;
  std::map<int64_t, nlohmann::json> done_;
};

}  // namespace

EvalReport evaluate_mapper(const EvalOptions& options, std::ostream& log) {
  EvalOptions o = options;
  if (o.beam < 1) throw Error("--beam must be at least 1");
  if (o.candidates < 1) throw Error("--candidates must be at least 1");
  if (o.repair && o.candidates < 2) throw Error("--repair repairs the best of the candidates: give --candidates 2 or more");
  if (o.shard_count < 1 || o.shard_index < 0 || o.shard_index >= o.shard_count)
    throw Error("--shard must be i/N with 0 <= i < N");
  if (o.shard_count > 1 && o.views_file.empty())
    throw Error("--shard scores part of the test split: give --views-file FILE to keep it for `eval --merge`");
  if (o.shard_count > 1 && !o.merge.empty()) throw Error("--merge reads the shards' files; leave out --shard");
  const auto t_start = Clock::now();
  const torch::Device device = parse_device(o.device);
  if (o.threads > 0) torch::set_num_threads(o.threads);
  const int threads = o.threads > 0 ? o.threads : torch::get_num_threads();
  auto corpus = Corpus::open(o.corpus, /*create=*/false, /*readonly=*/true);
  if (o.mapper.empty() && !o.synth) throw Error("give --mapper, or --search synth to evaluate the search alone");
  Mapper mapper{nullptr};
  MapperConfig no_mapper;  // without a mapper: the corpus's language, and the features its views need
  if (!o.mapper.empty()) {
    mapper = load_mapper(o.mapper, "", device);
  } else {
    no_mapper.language = corpus_language(*corpus);
    no_mapper.features = corpus_feature_spec(*corpus, no_mapper.language);
  }
  const MapperConfig& config = mapper ? mapper->config() : no_mapper;
  Mapper floor{nullptr};
  if (!o.floor.empty()) {
    if (!mapper) throw Error("--floor is compared with a mapper: give --mapper too");
    floor = load_mapper(o.floor, config.language, device);
    if (!floor->config().no_weights)
      log << "warning: '" << o.floor << "' was trained with weights; it is not a no-weights floor\n";
    if (floor->config().split != config.split)
      throw Error("'" + o.floor + "' was trained on the split by " + floor->config().split + ", the mapper on the split by " +
                  config.split + ": their test splits differ");
  }
  if (!o.statements.empty() && o.statements != "oracle" && o.statements != "head")
    throw Error("--statements must be 'head' or 'oracle' (got '" + o.statements + "')");
  if (!o.statements.empty() && !mapper) throw Error("--statements holds the mapper's decoding to a size: give --mapper");
  if (o.statements == "head")
    for (auto [m, path] : {std::pair{&mapper, o.mapper}, std::pair{&floor, o.floor}})
      if (*m && (*m)->config().statement_classes <= 0)
        throw Error("--statements head: '" + path + "' has no statement head (give it one with `modelmap mapper statements`)");
  if (o.perfect_subjects && (!mapper || config.encoder != "behaviour"))
    throw Error("--perfect-subjects replaces the subject outputs that a behaviour encoder reads: give a mapper trained with "
                "--encoder behaviour" + (mapper ? " (this one's encoder is " + config.encoder + ")" : std::string()));
  const Language& lang = language_by_name(config.language);
  o.repair_structural = structural_repair(lang, o.repair_structural) ? 1 : 0;
  std::unique_ptr<Gpt2Bpe> bpe;
  if (config.language == "python") bpe = std::make_unique<Gpt2Bpe>(Gpt2Bpe::load(Gpt2Bpe::default_dir()));

  std::vector<MapperExample> test = load_examples(*corpus, config, "test", /*keep_subjects=*/true);
  if (test.empty()) throw Error("'" + o.corpus + "' has no learned " + config.language + " views in its test split");
  if (o.limit > 0 && static_cast<size_t>(o.limit) < test.size()) test.resize(static_cast<size_t>(o.limit));
  if (o.shard_count > 1) {  // views k, k + N, k + 2N, ... of the (limited) test split
    std::vector<MapperExample> mine;
    for (size_t k = static_cast<size_t>(o.shard_index); k < test.size(); k += static_cast<size_t>(o.shard_count))
      mine.push_back(std::move(test[k]));
    test = std::move(mine);
    log << "shard " << o.shard_index << "/" << o.shard_count << ": " << test.size() << " test views\n";
  }
  // Two programs sampled apart can reduce to one program, and the split is by the sampled program: a test
  // program's reduced form may be one the mapper learned to write. Split by program, each view is also
  // counted in a row that says whether its reduced form was among the mapper's training programs' (the
  // train split, or the prefix it trained on).
  std::set<std::string> trained_reduced;
  if (config.split == "program") {
    Statement q(corpus->db(),
                "SELECT DISTINCT p.id, p.reduced_tokens FROM programs p JOIN models m ON m.program_id = p.id "
                "WHERE p.split = 'train' AND p.language = ? AND m.status IN ('learned', 'compiled') ORDER BY p.id");
    q.bind(1, config.language);
    int64_t n = 0;
    while (q.step() && (config.train_programs == 0 || n++ < config.train_programs)) trained_reduced.insert(q.text(1));
  }

  EvalReport r;
  r.language = config.language;
  r.encoder = mapper ? config.encoder : "";
  r.order = mapper ? config.order : "";
  r.split = config.split;
  r.repair_structural = o.repair_structural == 1;
  auto add_method = [&](std::string name) {
    r.methods.emplace_back();
    r.methods.back().name = std::move(name);
  };
  if (mapper) {
    add_method(o.beam == 1 ? "greedy" : "beam " + std::to_string(o.beam));
    if (o.candidates > 1) add_method("best of " + std::to_string(o.candidates));
    if (o.repair) add_method("repair");
  }
  if (o.synth) add_method("synthesis");
  std::map<int64_t, Outputs> truth_of;  // by program id
  const TrainConfig defaults;
  ViewsFile views(o, log);
  for (const std::string& part : o.merge) views.absorb(part, o, log);
  if (!o.merge.empty()) {
    size_t found = 0;
    for (const MapperExample& e : test) found += views.find(e.view_id) != nullptr;
    if (found < test.size())
      throw Error("--merge: the files hold " + std::to_string(found) + " of the " + std::to_string(test.size()) +
                  " test views; run the missing shards (or finish them: a killed shard resumes from its views file)");
  }
  size_t resumed = 0;
  for (const MapperExample& e : test) resumed += views.find(e.view_id) != nullptr;
  if (resumed > 0 && o.merge.empty()) log << "resuming: " << resumed << " of " << test.size() << " views read back from '" << o.views_file << "'\n";
  // A record summed into each method's table: the mapper's, the floor's, and the search alone's. A record
  // written before output-first token accuracy was measured gets it from its program and the view's target.
  auto tally = [&](const nlohmann::json& record, const std::vector<std::string>& rows, const MapperExample& e) {
    const auto& methods = record.at("methods");
    if (methods.size() != r.methods.size()) throw Error("a record of view " + record.at("view").dump() + " has the wrong number of methods");
    auto scored = [&](const nlohmann::json& j) {
      ProgramScore s = score_of(j);
      if (s.output_first_token_accuracy < 0)
        s.output_first_token_accuracy = output_first_token_accuracy(lang, split_tokens(j.at("program").get<std::string>()), e.reduced);
      return s;
    };
    for (size_t k = 0; k < r.methods.size(); ++k) {
      MethodReport& method = r.methods[k];
      const auto& m = methods[k];
      if (mapper) {
        const ProgramScore s = scored(m.at("mapper"));
        for (const auto& row : rows) method.mapper[row].add(s);
        method.mapper_fidelity.push_back(s.fidelity_position);
        method.seconds_per_view += m.at("seconds").get<double>();
      }
      if (floor) {
        const ProgramScore s = scored(m.at("floor"));
        for (const auto& row : rows) method.floor[row].add(s);
        method.floor_fidelity.push_back(s.fidelity_position);
        method.floor_seconds_per_view += m.at("floor_seconds").get<double>();
      }
      if (m.contains("alone")) {
        const ProgramScore s = scored(m.at("alone"));
        for (const auto& row : rows) method.alone[row].add(s);
        method.alone_fidelity.push_back(s.fidelity_position);
        method.alone_seconds_per_view += m.at("alone_seconds").get<double>();
      }
      if (method.name == "repair") method.repair_edits_tried += record.at("repair_edits").get<int64_t>();
    }
  };
  Progress progress("eval", static_cast<int64_t>(test.size()));
  int64_t done = 0;
  for (const MapperExample& e : test) {
    std::vector<std::string> rows = {"all", "params " + params_bucket(e.params), "tokens " + length_bucket(e.sampled.size())};
    if (config.split == "program") {
      rows.push_back(trained_reduced.count(join_tokens(e.reduced)) ? "reduced form trained on" : "reduced form unseen");
    }
    if (const nlohmann::json* record = views.find(e.view_id)) {
      try {
        tally(*record, rows, e);
      } catch (const nlohmann::json::exception& x) {
        throw Error("the views file '" + o.views_file + "' has a malformed record of view " + std::to_string(e.view_id) +
                    " (" + x.what() + ")");
      }
      progress.update(++done);
      continue;
    }
    const SubjectModel& subject = *e.subject;
    const std::vector<Input> inputs = evaluation_inputs(subject.domain, defaults);
    auto [it, fresh] = truth_of.try_emplace(e.program_id);
    if (fresh) it->second = run_on(*lang.detokenize(e.sampled), inputs);
    Outputs predicted(inputs.size());
    parallel_for(inputs.size(), threads, [&](size_t i) { predicted[i] = subject_predict(subject, inputs[i]); });
    std::optional<BehaviourInput> perfect;  // --perfect-subjects: the program's own outputs on the probe set
    if (o.perfect_subjects) perfect = program_behaviour(*lang.detokenize(e.sampled), subject.domain, config.features);
    // The model's behaviour on the verification inputs: run once, shared by every candidate of both mappers.
    std::unique_ptr<Behaviour> behaviour;
    HeadPatterns heads;
    double behaviour_seconds = 0;
    if (o.candidates > 1 || o.synth) {
      const auto t = Clock::now();
      behaviour = std::make_unique<Behaviour>(model_behaviour(subject, o.inputs, threads));
      // The attention heads, read on the same inputs, for RASP synthesis (counted with the behaviour).
      if (o.synth && o.heads && lang.name() == "rasp") heads = read_heads(subject, behaviour->inputs, threads);
      behaviour_seconds = since(t);
    }
    // --statements oracle: the reduced target's count (the same in either token order).
    const int statements = o.statements == "oracle" ? lang.statement_count(e.reduced) : 0;
    auto score = [&](const std::vector<std::string>& tokens) {
      return score_json(score_program(lang, tokens, e.reduced, inputs, it->second, predicted, bpe.get(), &e.sampled), tokens);
    };
    nlohmann::json record = {{"view", e.view_id}, {"methods", nlohmann::json::array()}, {"repair_edits", 0}};
    for (size_t k = 0; k < r.methods.size(); ++k) record["methods"].push_back(nlohmann::json::object());
    if (mapper) {
      const Answers m = answer(mapper, subject, o, behaviour.get(), &heads, behaviour_seconds, threads, device,
                                perfect ? &*perfect : nullptr, statements);
      for (size_t k = 0; k < m.tokens.size(); ++k) {
        record["methods"][k]["mapper"] = score(m.tokens[k]);
        record["methods"][k]["seconds"] = m.seconds[k];
      }
      record["repair_edits"] = m.repair_edits;
    }
    if (floor) {
      const Answers f = answer(floor, subject, o, behaviour.get(), &heads, behaviour_seconds, threads, device,
                                perfect ? &*perfect : nullptr, statements);
      for (size_t k = 0; k < f.tokens.size(); ++k) {
        record["methods"][k]["floor"] = score(f.tokens[k]);
        record["methods"][k]["floor_seconds"] = f.seconds[k];
      }
    }
    if (o.synth) {  // the search alone: no proposals
      const DecompileResult a = decompile_behaviour(lang, *behaviour, subject.domain, {}, pipeline_config(o, SearchKind::Synth, threads, &heads));
      auto& m = record["methods"][r.methods.size() - 1];
      m["alone"] = score(a.ranked.empty() ? std::vector<std::string>{} : a.ranked[0].tokens);
      m["alone_seconds"] = behaviour_seconds + a.verify_seconds + a.search_seconds;
    }
    views.append(record);
    tally(record, rows, e);
    progress.update(++done);
  }
  progress.finish();
  r.views = static_cast<int64_t>(test.size());
  for (MethodReport& m : r.methods) {
    m.seconds_per_view /= static_cast<double>(test.size());
    m.floor_seconds_per_view /= static_cast<double>(test.size());
    m.alone_seconds_per_view /= static_cast<double>(test.size());
  }
  const auto& any = mapper ? r.methods.front().mapper : r.methods.front().alone;
  r.rows.push_back("all");
  for (const char* b : {"<10K", "10K-100K", "100K-1M", "1M-10M", ">10M"})
    if (any.count(std::string("params ") + b)) r.rows.push_back(std::string("params ") + b);
  for (const char* b : {"1-16", "17-32", "33-64", "65-128", "129+"})
    if (any.count(std::string("tokens ") + b)) r.rows.push_back(std::string("tokens ") + b);
  for (const char* b : {"reduced form unseen", "reduced form trained on"})
    if (any.count(b)) r.rows.push_back(b);
  r.seconds = since(t_start);
  return r;
}

std::string format_report(const EvalReport& r) {
  std::string out;
  for (const MethodReport& method : r.methods) {
    // Columns present: the mapper's, the floor's "(...)", the search alone's "[...]".
    const bool mapper = !method.mapper.empty(), floor = !method.floor.empty(), alone = !method.alone.empty();
    const auto& main = mapper ? method.mapper : method.alone;
    const bool bpe = main.at("all").has_bpe;
    if (mapper) {
      out += "mapper (" + r.language + ", encoder " + r.encoder + ", writes " + r.order + ") on the test split" +
             (r.split == "view" ? " (split by view)" : "") + ", " + method.name;
      if (floor) out += "; in brackets: the no-weights floor";
      if (alone) out += "; in square brackets: the search with no mapper";
    } else {
      out += "no mapper (" + r.language + ") on the test split, " + method.name + " (the search alone)";
    }
    out += "\n\n| subjects | n | token acc. |";
    if (bpe) out += " GPT-2 token acc. |";
    const bool output_first = main.at("all").has_output_first;
    if (output_first) out += " token acc. (output first) |";
    const bool sampled = main.at("all").has_sampled;
    out += " exact |";
    if (sampled) out += " token acc. (as sampled) | exact (as sampled) |";
    out += " parses | func. equiv. | fidelity (pos.) | fidelity (seq.) |\n|---|---|---|";
    if (bpe) out += "---|";
    if (output_first) out += "---|";
    if (sampled) out += "---|---|";
    out += "---|---|---|---|---|\n";
    auto cell = [&](double m, double f, double a) {
      char b[96];
      std::string c = " ";
      if (mapper) {
        std::snprintf(b, sizeof b, "%.1f%%", 100 * m);
        c += b;
        if (floor) {
          std::snprintf(b, sizeof b, " (%.1f%%)", 100 * f);
          c += b;
        }
        if (alone) {
          std::snprintf(b, sizeof b, " [%.1f%%]", 100 * a);
          c += b;
        }
      } else {
        std::snprintf(b, sizeof b, "%.1f%%", 100 * a);
        c += b;
      }
      return c + " |";
    };
    for (const auto& row : r.rows) {
      const ScoreSummary m = mapper ? method.mapper.at(row).mean() : ScoreSummary{};
      const ScoreSummary f = floor ? method.floor.at(row).mean() : ScoreSummary{};
      const ScoreSummary a = alone ? method.alone.at(row).mean() : ScoreSummary{};
      out += "| " + row + " | " + std::to_string(mapper ? m.n : a.n) + " |" + cell(m.token_accuracy, f.token_accuracy, a.token_accuracy);
      if (bpe) out += cell(m.bpe_token_accuracy, f.bpe_token_accuracy, a.bpe_token_accuracy);
      if (output_first)
        out += cell(m.output_first_token_accuracy, f.output_first_token_accuracy, a.output_first_token_accuracy);
      out += cell(m.exact, f.exact, a.exact);
      if (sampled) out += cell(m.sampled_token_accuracy, f.sampled_token_accuracy, a.sampled_token_accuracy) +
                          cell(m.sampled_exact, f.sampled_exact, a.sampled_exact);
      out += cell(m.parses, f.parses, a.parses) + cell(m.equivalent, f.equivalent, a.equivalent) +
             cell(m.fidelity_position, f.fidelity_position, a.fidelity_position) +
             cell(m.fidelity_sequence, f.fidelity_sequence, a.fidelity_sequence) + "\n";
    }
    char b[200];
    out += "\n";
    std::vector<std::string> parts;
    if (mapper) {
      std::snprintf(b, sizeof b, "mapper %.3f s", method.seconds_per_view);
      parts.push_back(b);
    }
    if (floor) {
      std::snprintf(b, sizeof b, "floor %.3f s", method.floor_seconds_per_view);
      parts.push_back(b);
    }
    if (alone) {
      std::snprintf(b, sizeof b, "no mapper %.3f s", method.alone_seconds_per_view);
      parts.push_back(b);
    }
    out += "s per view to produce the answer:";
    for (size_t k = 0; k < parts.size(); ++k) out += (k ? "; " : " ") + parts[k];
    if (method.name == "repair") {
      std::snprintf(b, sizeof b, "; %.1f edits run per view (mapper; %s)",
                    static_cast<double>(method.repair_edits_tried) / static_cast<double>(std::max<int64_t>(r.views, 1)),
                    r.repair_structural ? "single-token and structural edits" : "single-token edits");
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
    if (m.has_output_first) j["output_first_token_accuracy"] = m.output_first_token_accuracy;
    if (m.has_sampled) j["sampled_token_accuracy"] = m.sampled_token_accuracy, j["sampled_exact"] = m.sampled_exact;
    return j;
  };
  auto method_json = [&](const MethodReport& method) {
    nlohmann::json j = {{"name", method.name}, {"seconds_per_view", method.seconds_per_view}};
    for (const auto& row : r.rows) {
      if (!method.mapper.empty()) j["mapper"][row] = summary(method.mapper.at(row));
      if (!method.floor.empty()) {
        j["floor"][row] = summary(method.floor.at(row));
        j["floor_seconds_per_view"] = method.floor_seconds_per_view;
      }
      if (!method.alone.empty()) {
        j["alone"][row] = summary(method.alone.at(row));
        j["alone_seconds_per_view"] = method.alone_seconds_per_view;
      }
    }
    if (method.name == "repair") {
      j["repair_edits_tried"] = method.repair_edits_tried;
      j["repair_structural"] = r.repair_structural;
    }
    return j;
  };
  // The first method's table at the top level (as before candidates existed), every method under "methods".
  nlohmann::json j = method_json(r.methods.front());
  j.erase("name");
  j["language"] = r.language;
  j["encoder"] = r.encoder;
  j["order"] = r.order;
  j["split"] = r.split;
  j["views"] = r.views;
  j["seconds"] = r.seconds;
  for (const MethodReport& m : r.methods) j["methods"].push_back(method_json(m));
  return j.dump(2);
}

}  // namespace mm
