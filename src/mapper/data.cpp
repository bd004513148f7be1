// Reading the mapper's examples from a corpus (see data.h).
#include "mapper/data.h"

#include <algorithm>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/hash.h"
#include "core/language.h"
#include "core/progress.h"
#include "core/safetensors.h"
#include "corpus/corpus.h"

namespace mm {

namespace {

constexpr const char* kLearnedViews =
    "FROM views v JOIN models m ON m.id = v.model_id JOIN programs p ON p.id = m.program_id "
    "WHERE m.status IN ('learned', 'compiled') AND p.language = ?";

SubjectModel subject_of_view(const std::string& weights, int64_t view_id) {
  const std::string what = "view " + std::to_string(view_id);
  return subject_from_safetensors(safetensors_decode(weights, what), what);
}

// The target ids of a program spelled `spelled`, then <eos>; `what` names it where a token is not in the
// vocabulary.
std::vector<int64_t> target_ids(const std::vector<std::string>& spelled, const Language& lang, const std::string& what) {
  const auto& vocab = lang.vocabulary();
  std::vector<int64_t> ids;
  for (const std::string& t : spelled) {
    const auto it = std::find(vocab.begin(), vocab.end(), t);
    if (it == vocab.end()) throw Error(what + ": token '" + t + "' is not in the " + std::string(lang.name()) + " vocabulary");
    ids.push_back(it - vocab.begin());
  }
  ids.push_back(kEosId);
  return ids;
}

}  // namespace

std::string view_split(const std::string& program_hash, int64_t model_seed, int64_t ordinal) {
  // FNV-1a's last byte barely reaches the residue mod 5 (ordinals 0, 1, 2 gave residues 2, 3, 4 for every
  // program tried), so the hash is mixed once more before the split is taken.
  return split_of(hex64(mix64(fnv1a64("view " + program_hash + " " + std::to_string(model_seed) + " " + std::to_string(ordinal)))));
}

std::string corpus_language(Corpus& corpus) {
  Statement q(corpus.db(), "SELECT DISTINCT p.language FROM programs p JOIN models m ON m.program_id = p.id "
                           "WHERE m.status IN ('learned', 'compiled')");
  std::vector<std::string> langs;
  while (q.step()) langs.push_back(q.text(0));
  if (langs.empty()) throw Error("'" + corpus.path() + "' holds no learned models");
  if (langs.size() > 1) throw Error("'" + corpus.path() + "' holds several languages; name one with --lang");
  return langs[0];
}

FeatureSpec corpus_feature_spec(Corpus& corpus, const std::string& language) {
  Statement q(corpus.db(), std::string("SELECT v.id, v.weights ") + kLearnedViews);
  q.bind(1, language);
  FeatureSpec spec{1, 1, 1, 1};
  bool any = false;
  while (q.step()) {
    const SubjectModel m = subject_of_view(q.blob(1), q.int64(0));
    const FeatureSpec one = feature_spec_for({&m});
    spec.vocab = std::max(spec.vocab, one.vocab);
    spec.max_len = std::max(spec.max_len, one.max_len);
    spec.classes = std::max(spec.classes, one.classes);
    spec.node_width = std::max(spec.node_width, one.node_width);
    any = true;
  }
  if (!any) throw Error("'" + corpus.path() + "' holds no learned " + language + " models");
  return spec;
}

std::vector<MapperExample> load_examples(Corpus& corpus, const MapperConfig& config, const std::string& split,
                                         bool keep_subjects) {
  const Language& lang = language_by_name(config.language);
  const Language& written = written_language(config);  // the order the target is spelled in
  // By program, SQL selects the split; by view, every view is read and its split computed first.
  const bool by_program = config.split == "program";
  std::string sql = std::string("SELECT v.id, p.id, p.split, m.params, p.tokens, v.weights, p.reduced_tokens, p.hash, m.seed, "
                                "v.ordinal ") + kLearnedViews;
  if (!split.empty() && by_program) sql += " AND p.split = ?";
  if (config.views_per_model > 0) sql += " AND v.ordinal < " + std::to_string(config.views_per_model);
  sql += " ORDER BY v.id";
  int64_t total = 0;
  {
    Statement c(corpus.db(), "SELECT count(*) " + sql.substr(sql.find("FROM")));
    c.bind(1, config.language);
    if (!split.empty() && by_program) c.bind(2, split);
    c.step();
    total = c.int64(0);
  }
  Statement q(corpus.db(), sql);
  q.bind(1, config.language);
  if (!split.empty() && by_program) q.bind(2, split);
  Progress progress("loading " + (split.empty() ? std::string("all") : split) + " views", total);
  std::vector<MapperExample> out;
  int64_t read = 0;
  while (q.step()) {
    ++read;
    MapperExample e;
    e.view_id = q.int64(0);
    e.program_id = q.int64(1);
    e.split = by_program ? q.text(2) : view_split(q.text(7), q.int64(8), q.int64(9));
    if (!split.empty() && e.split != split) {
      progress.update(read);
      continue;
    }
    e.params = q.int64(3);
    e.sampled = split_tokens(q.text(4));
    e.reduced = split_tokens(q.text(6));
    if (e.reduced.empty()) throw Error("view " + std::to_string(e.view_id) + ": its program has no reduced form in the corpus");
    e.tokens = config.target == "sampled" ? e.sampled : e.reduced;
    std::vector<std::string> spelled = e.tokens;
    if (&written != &lang) {
      try {
        spelled = written.spell(*lang.detokenize(e.tokens));
      } catch (const ParseError& err) {
        throw Error("view " + std::to_string(e.view_id) + ": its program's tokens do not read: " + err.what());
      }
    }
    e.target = target_ids(spelled, lang, "view " + std::to_string(e.view_id));
    const SubjectModel m = subject_of_view(q.blob(5), e.view_id);
    e.input = encoder_input(m, config);
    if (keep_subjects) e.subject = std::make_shared<const SubjectModel>(m);
    out.push_back(std::move(e));
    progress.update(read);
  }
  progress.finish();
  return out;
}

InputDomain corpus_domain(Corpus& corpus, const std::string& language) {
  Statement q(corpus.db(), std::string("SELECT v.id, v.weights ") + kLearnedViews + " ORDER BY v.id LIMIT 1");
  q.bind(1, language);
  if (!q.step()) throw Error("'" + corpus.path() + "' holds no learned " + language + " models");
  return subject_of_view(q.blob(1), q.int64(0)).domain;
}

void hold_out_tenth(std::vector<MapperExample> all, const MapperConfig& config, bool hold, std::vector<MapperExample>& fit,
                    std::vector<MapperExample>& held_out) {
  auto unit = [&](const MapperExample& e) { return config.split == "view" ? e.view_id : e.program_id; };
  std::vector<int64_t> ids;
  for (const MapperExample& e : all) ids.push_back(unit(e));
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  for (MapperExample& e : all) {
    const auto rank = std::lower_bound(ids.begin(), ids.end(), unit(e)) - ids.begin();
    (hold && rank % 10 == 0 ? held_out : fit).push_back(std::move(e));
  }
}

SyntheticSet load_synthetic(const std::string& path, const MapperConfig& config, const InputDomain& domain,
                            const std::set<std::string>& excluded, int64_t limit) {
  const Language& lang = language_by_name(config.language);
  const Language& written = written_language(config);
  std::ifstream in(path);
  if (!in) throw Error("cannot read '" + path + "'");
  std::vector<std::string> lines;
  for (std::string line; (limit <= 0 || static_cast<int64_t>(lines.size()) < limit) && std::getline(in, line);)
    if (!line.empty()) lines.push_back(std::move(line));
  if (lines.empty()) throw Error("'" + path + "' holds no programs");
  SyntheticSet out;
  Progress progress("synthetic programs", static_cast<int64_t>(lines.size()));
  for (size_t k = 0; k < lines.size(); ++k) {
    const std::string where = path + ":" + std::to_string(k + 1) + ": ";
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(lines[k]);
    } catch (const nlohmann::json::exception&) {
      throw Error(where + "not a JSON record");
    }
    if (!j.is_object() || !j.contains("source") || !j["source"].is_string())
      throw Error(where + "no \"source\" (make the file with modelmap sample --jsonl)");
    if (j.contains("lang") && j["lang"] != config.language)
      throw Error(where + "a " + j["lang"].dump() + " program; the mapper writes " + config.language);
    if (config.target == "reduced" && !(j.contains("reduced") && j["reduced"] == true))
      throw Error(where + "not marked reduced; the mapper learns reduced forms (make the file with modelmap sample --reduce --jsonl)");
    std::unique_ptr<Program> program;
    try {
      program = lang.parse(j["source"].get<std::string>());
    } catch (const ParseError& e) {
      throw Error(where + "the program does not parse: " + e.what());
    }
    MapperExample e;
    e.view_id = e.program_id = -static_cast<int64_t>(k + 1);
    e.split = "train";
    e.tokens = e.sampled = e.reduced = program->tokens();
    if (excluded.count(join_tokens(e.tokens))) {
      ++out.excluded;
      progress.update(static_cast<int64_t>(k + 1));
      continue;
    }
    e.target = target_ids(written.spell(*program), lang, where + "the program");
    e.input.functional.behaviour = program_behaviour(*program, domain, config.features);
    out.examples.push_back(std::move(e));
    progress.update(static_cast<int64_t>(k + 1));
  }
  progress.finish();
  return out;
}

std::vector<int32_t> wrong_cells(const BehaviourInput& subject, const BehaviourInput& program, int max_len) {
  const size_t W = static_cast<size_t>(max_len);
  if (subject.n != program.n || subject.io.size() != program.io.size() || subject.io.size() != static_cast<size_t>(subject.n) * 2 * W)
    throw Error("a subject's table and its program's are not of one probe set (" + std::to_string(subject.n) + " and " +
                std::to_string(program.n) + " probe inputs)");
  std::vector<int32_t> out;
  for (size_t s = 0; s < static_cast<size_t>(subject.n); ++s)
    for (size_t k = 0; k < W; ++k)
      if (subject.io[s * 2 * W + W + k] != program.io[s * 2 * W + W + k]) out.push_back(static_cast<int32_t>(s * W + k));
  return out;
}

BehaviourInput with_errors(const BehaviourInput& table, const std::vector<int32_t>& cells, int max_len, Rng& rng) {
  const size_t W = static_cast<size_t>(max_len);
  BehaviourInput out = table;
  if (cells.empty()) return out;
  std::vector<int16_t> shown;  // the values the table shows, each once
  for (size_t s = 0; s < static_cast<size_t>(table.n); ++s)
    for (size_t k = 0; k < W; ++k)
      if (table.io[s * 2 * W + k] != 0) shown.push_back(table.io[s * 2 * W + W + k]);
  std::sort(shown.begin(), shown.end());
  shown.erase(std::unique(shown.begin(), shown.end()), shown.end());
  if (shown.size() < 2) return out;
  for (int32_t cell : cells) {
    const size_t s = static_cast<size_t>(cell) / W, k = static_cast<size_t>(cell) % W;
    if (cell < 0 || s >= static_cast<size_t>(table.n) || table.io[s * 2 * W + k] == 0) continue;
    int16_t& v = out.io[s * 2 * W + W + k];
    // The cell holds a position, so its value is among `shown`: at its index.
    const size_t at = static_cast<size_t>(std::lower_bound(shown.begin(), shown.end(), v) - shown.begin());
    size_t pick = rng.index(shown.size() - 1);  // any shown value but the true one
    if (pick >= at) ++pick;
    v = shown[pick];
  }
  return out;
}

int longest_target(const std::vector<MapperExample>& examples) {
  size_t n = 0;
  for (const auto& e : examples) n = std::max(n, e.target.size());
  return static_cast<int>(n);
}

}  // namespace mm
