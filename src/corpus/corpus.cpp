// The corpus schema, opening with validation, and record IO.
#include "corpus/corpus.h"

#include <filesystem>
#include <sstream>

#include "core/error.h"
#include "core/hash.h"

namespace mm {

namespace {

const char* kSchema = R"(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE programs(
  id INTEGER PRIMARY KEY,
  language TEXT NOT NULL,
  source TEXT NOT NULL,
  tokens TEXT NOT NULL,
  hash TEXT NOT NULL,
  split TEXT NOT NULL CHECK (split IN ('train', 'test')),
  reduced_source TEXT,
  reduced_tokens TEXT,
  UNIQUE(language, tokens));
CREATE TABLE models(
  id INTEGER PRIMARY KEY,
  program_id INTEGER NOT NULL REFERENCES programs(id),
  origin TEXT NOT NULL,
  preset TEXT NOT NULL,
  architecture TEXT NOT NULL,
  params INTEGER NOT NULL,
  seed INTEGER NOT NULL,
  status TEXT NOT NULL,
  steps INTEGER NOT NULL,
  wall_s REAL NOT NULL,
  accuracy REAL NOT NULL,
  seq_accuracy REAL NOT NULL,
  config TEXT NOT NULL,
  UNIQUE(program_id, origin, preset, seed));
CREATE TABLE views(
  id INTEGER PRIMARY KEY,
  model_id INTEGER NOT NULL REFERENCES models(id),
  ordinal INTEGER NOT NULL,
  step INTEGER NOT NULL,
  wall_s REAL NOT NULL,
  accuracy REAL NOT NULL,
  seq_accuracy REAL NOT NULL,
  weights BLOB NOT NULL,
  UNIQUE(model_id, ordinal));
CREATE INDEX models_by_program ON models(program_id);
CREATE INDEX views_by_model ON views(model_id);
)";

}  // namespace

std::string program_hash(const std::string& language, const std::string& tokens) {
  return hex64(fnv1a64(language + "\n" + tokens));
}

std::string join_tokens(const std::vector<std::string>& tokens) {
  std::string s;
  for (const auto& t : tokens) s += (s.empty() ? "" : " ") + t;
  return s;
}

std::vector<std::string> split_tokens(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream words(text);
  for (std::string t; words >> t;) out.push_back(t);
  return out;
}

std::string split_of(const std::string& hash_hex) {
  return std::stoull(hash_hex, nullptr, 16) % 5 == 0 ? "test" : "train";
}

std::unique_ptr<Corpus> Corpus::open(const std::string& path, bool create, bool readonly) {
  const bool exists = std::filesystem::exists(path);
  if (!exists && !create) throw Error("'" + path + "' does not exist");
  std::unique_ptr<Corpus> c(new Corpus(path, create && !exists, readonly));
  Db& db = c->db_;
  const std::string not_corpus = "'" + path + "' is not a modelmap corpus";
  bool fresh = false;
  try {
    Statement q(db, "SELECT count(*) FROM sqlite_master");
    q.step();
    fresh = q.int64(0) == 0;
  } catch (const Error&) {
    throw Error(not_corpus + " (not an SQLite database)");
  }
  if (fresh) {
    if (!create || exists) {
      if (!create) throw Error(not_corpus + " (an empty SQLite database)");
    }
    if (readonly) throw Error(not_corpus + " (an empty SQLite database)");
    db.exec("PRAGMA journal_mode=WAL");
    Db::Transaction t(db);
    db.exec(kSchema);
    Statement m(db, "INSERT INTO meta(key, value) VALUES (?, ?)");
    m.bind(1, std::string("format")).bind(2, std::string(kCorpusFormat)).run();
    m.bind(1, std::string("format_version")).bind(2, std::to_string(kCorpusFormatVersion)).run();
    t.commit();
  } else {
    std::string format, version;
    try {
      Statement q(db, "SELECT key, value FROM meta WHERE key IN ('format', 'format_version')");
      while (q.step()) (q.text(0) == "format" ? format : version) = q.text(1);
    } catch (const Error&) {
      throw Error(not_corpus + " (it has no meta table)");
    }
    if (format != kCorpusFormat) throw Error(not_corpus + " (format '" + format + "')");
    if (version == "1")
      throw Error("'" + path + "' is a modelmap corpus of format version 1, which lacks the programs' reduced forms; " +
                  "run `modelmap corpus migrate " + path + "` to add them (this modelmap reads version " +
                  std::to_string(kCorpusFormatVersion) + ")");
    if (version != std::to_string(kCorpusFormatVersion))
      throw Error("'" + path + "' is a modelmap corpus of format version " + version + "; this modelmap reads version " +
                  std::to_string(kCorpusFormatVersion) + " (rebuild it, or use a matching modelmap)");
    if (!readonly) db.exec("PRAGMA journal_mode=WAL");
  }
  if (!readonly) db.exec("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON");
  return c;
}

std::optional<int64_t> Corpus::find_program(const std::string& language, const std::string& tokens) {
  Statement find(db_, "SELECT id FROM programs WHERE language = ? AND tokens = ?");
  find.bind(1, language).bind(2, tokens);
  if (find.step()) return find.int64(0);
  return std::nullopt;
}

int64_t Corpus::add_program(const std::string& language, const std::string& source, const std::string& tokens,
                            const std::string& reduced_source, const std::string& reduced_tokens) {
  if (const auto id = find_program(language, tokens)) return *id;
  const std::string hash = program_hash(language, tokens);
  Statement ins(db_,
                "INSERT INTO programs(language, source, tokens, hash, split, reduced_source, reduced_tokens) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)");
  ins.bind(1, language).bind(2, source).bind(3, tokens).bind(4, hash).bind(5, split_of(hash));
  ins.bind(6, reduced_source).bind(7, reduced_tokens).run();
  return db_.last_insert_id();
}

std::optional<ProgramRecord> Corpus::program(int64_t id) {
  Statement q(db_, "SELECT id, language, source, tokens, hash, split, reduced_source, reduced_tokens FROM programs WHERE id = ?");
  q.bind(1, id);
  if (!q.step()) return std::nullopt;
  return ProgramRecord{q.int64(0), q.text(1), q.text(2), q.text(3), q.text(4), q.text(5), q.text(6), q.text(7)};
}

bool Corpus::has_model(int64_t program_id, const std::string& origin, const std::string& preset) {
  Statement q(db_, "SELECT 1 FROM models WHERE program_id = ? AND origin = ? AND preset = ? LIMIT 1");
  q.bind(1, program_id).bind(2, origin).bind(3, preset);
  return q.step();
}

int64_t Corpus::add_model(const ModelRecord& m, const std::vector<ViewRecord>& views) {
  Db::Transaction t(db_);
  // Another build writing to this file may have stored this model meanwhile: builds are deterministic,
  // so the one stored is the same model; keep it.
  Statement existing(db_, "SELECT id FROM models WHERE program_id = ? AND origin = ? AND preset = ? AND seed = ?");
  existing.bind(1, m.program_id).bind(2, m.origin).bind(3, m.preset).bind(4, m.seed);
  if (existing.step()) return existing.int64(0);
  Statement ins(db_,
                "INSERT INTO models(program_id, origin, preset, architecture, params, seed, status, steps, wall_s, "
                "accuracy, seq_accuracy, config) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  ins.bind(1, m.program_id).bind(2, m.origin).bind(3, m.preset).bind(4, m.architecture).bind(5, m.params);
  ins.bind(6, m.seed).bind(7, m.status).bind(8, m.steps).bind(9, m.wall_s).bind(10, m.accuracy);
  ins.bind(11, m.seq_accuracy).bind(12, m.config).run();
  const int64_t model_id = db_.last_insert_id();
  Statement vins(db_,
                 "INSERT INTO views(model_id, ordinal, step, wall_s, accuracy, seq_accuracy, weights) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?)");
  for (const ViewRecord& v : views) {
    vins.bind(1, model_id).bind(2, static_cast<int64_t>(v.ordinal)).bind(3, v.step).bind(4, v.wall_s);
    vins.bind(5, v.accuracy).bind(6, v.seq_accuracy).bind_blob(7, v.weights).run();
  }
  t.commit();
  return model_id;
}

std::optional<ViewRecord> Corpus::view(int64_t id) {
  Statement q(db_, "SELECT id, model_id, ordinal, step, wall_s, accuracy, seq_accuracy, weights FROM views WHERE id = ?");
  q.bind(1, id);
  if (!q.step()) return std::nullopt;
  return ViewRecord{q.int64(0), q.int64(1), static_cast<int>(q.int64(2)), q.int64(3), q.real(4), q.real(5), q.real(6),
                    q.blob(7)};
}

std::vector<int64_t> Corpus::view_ids() {
  std::vector<int64_t> ids;
  Statement q(db_, "SELECT id FROM views ORDER BY id");
  while (q.step()) ids.push_back(q.int64(0));
  return ids;
}

std::pair<int64_t, int64_t> corpus_merge(Corpus& target, const std::string& source_path) {
  // Validate the source as a corpus first, then read it through ATTACH in one transaction.
  { Corpus::open(source_path, /*create=*/false, /*readonly=*/true); }
  Db& db = target.db();
  Statement attach(db, "ATTACH DATABASE ? AS src");
  attach.bind(1, source_path).run();
  struct Detach {
    Db& db;
    ~Detach() {
      try {
        db.exec("DETACH DATABASE src");
      } catch (const Error&) {
      }
    }
  } detach{db};
  Db::Transaction t(db);
  Statement count(db, "SELECT (SELECT count(*) FROM programs), (SELECT count(*) FROM models)");
  count.step();
  const int64_t programs_before = count.int64(0), models_before = count.int64(1);
  count.reset();
  db.exec(R"(
    INSERT OR IGNORE INTO programs(language, source, tokens, hash, split, reduced_source, reduced_tokens)
      SELECT language, source, tokens, hash, split, reduced_source, reduced_tokens FROM src.programs ORDER BY id;
    CREATE TEMP TABLE model_map AS
      SELECT sm.id AS src_id, p.id AS program_id, sm.origin, sm.preset
      FROM src.models sm JOIN src.programs sp ON sp.id = sm.program_id
      JOIN main.programs p ON p.language = sp.language AND p.tokens = sp.tokens
      WHERE NOT EXISTS (SELECT 1 FROM main.models m
                        WHERE m.program_id = p.id AND m.origin = sm.origin AND m.preset = sm.preset)
      ORDER BY sm.id;
  )");
  Statement rows(db, "SELECT src_id, program_id FROM temp.model_map ORDER BY src_id");
  Statement copy_model(db,
                       "INSERT INTO models(program_id, origin, preset, architecture, params, seed, status, steps, wall_s, "
                       "accuracy, seq_accuracy, config) SELECT ?, origin, preset, architecture, params, seed, status, "
                       "steps, wall_s, accuracy, seq_accuracy, config FROM src.models WHERE id = ?");
  Statement copy_views(db,
                       "INSERT INTO views(model_id, ordinal, step, wall_s, accuracy, seq_accuracy, weights) "
                       "SELECT ?, ordinal, step, wall_s, accuracy, seq_accuracy, weights FROM src.views "
                       "WHERE model_id = ? ORDER BY ordinal");
  std::vector<std::pair<int64_t, int64_t>> todo;
  while (rows.step()) todo.emplace_back(rows.int64(0), rows.int64(1));
  rows.reset();
  for (const auto& [src_id, program_id] : todo) {
    copy_model.bind(1, program_id).bind(2, src_id).run();
    const int64_t new_id = db.last_insert_id();
    copy_views.bind(1, new_id).bind(2, src_id).run();
  }
  db.exec("DROP TABLE temp.model_map");
  count.step();
  const auto added = std::make_pair(count.int64(0) - programs_before, count.int64(1) - models_before);
  count.reset();
  t.commit();
  return added;
}

}  // namespace mm
