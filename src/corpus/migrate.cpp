// Version 1 -> 2: each program's reduced form (see corpus.h). Data flow: the columns added if missing ->
// programs still without a reduced form, in id order -> each one's domain (its first view's metadata, or
// the language's default) -> reduced on that domain, `threads` at a time -> stored, one transaction per
// batch -> the version raised when none is left.
#include <algorithm>
#include <map>

#include "core/error.h"
#include "core/parallel.h"
#include "core/reduce.h"
#include "corpus/corpus.h"
#include "subject/model.h"

namespace mm {

int corpus_format_version(const std::string& path) {
  try {
    Db db(path, /*create=*/false, /*readonly=*/true);
    Statement q(db, "SELECT key, value FROM meta WHERE key IN ('format', 'format_version')");
    std::string format, version;
    while (q.step()) (q.text(0) == "format" ? format : version) = q.text(1);
    if (format != kCorpusFormat) return 0;
    return std::stoi(version);
  } catch (const std::exception&) {
    return 0;
  }
}

int64_t corpus_migrate(const std::string& path, int threads, const std::function<void(const std::string&)>& log) {
  const int version = corpus_format_version(path);
  if (version == 0) {
    Corpus::open(path, /*create=*/false, /*readonly=*/true);  // throws naming why it is not a corpus
    throw Error("'" + path + "' is not a modelmap corpus");
  }
  if (version == kCorpusFormatVersion) {
    log("'" + path + "' is already at format version " + std::to_string(version) + "; nothing to migrate");
    return 0;
  }
  if (version != 1)
    throw Error("'" + path + "' is a modelmap corpus of format version " + std::to_string(version) +
                "; this modelmap migrates version 1 to " + std::to_string(kCorpusFormatVersion));
  Db db(path, /*create=*/false, /*readonly=*/false);
  db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL");
  {
    bool has = false;
    Statement cols(db, "SELECT name FROM pragma_table_info('programs') WHERE name = 'reduced_tokens'");
    has = cols.step();
    if (!has) {
      Db::Transaction t(db);
      db.exec("ALTER TABLE programs ADD COLUMN reduced_source TEXT; ALTER TABLE programs ADD COLUMN reduced_tokens TEXT");
      t.commit();
    }
  }
  struct Todo {
    int64_t id;
    std::string language, source, tokens, weights;
    std::string reduced_source, reduced_tokens, error;
  };
  std::vector<Todo> todo;
  {
    Statement q(db, "SELECT id, language, source, tokens FROM programs WHERE reduced_tokens IS NULL ORDER BY id");
    while (q.step()) todo.push_back({q.int64(0), q.text(1), q.text(2), q.text(3), "", "", "", ""});
  }
  // A program's first stored view (its weights carry the domain it was trained on), read a batch at a time.
  Statement first_view(db,
                       "SELECT v.weights FROM models m JOIN views v ON v.model_id = m.id WHERE m.program_id = ? "
                       "ORDER BY m.id, v.ordinal LIMIT 1");
  log("migrating '" + path + "' to format version " + std::to_string(kCorpusFormatVersion) + ": reducing " +
      std::to_string(todo.size()) + " programs");
  const size_t batch = static_cast<size_t>(std::max(threads, 1)) * 16;
  int64_t done = 0, reduced = 0;
  for (size_t start = 0; start < todo.size(); start += batch) {
    const size_t end = std::min(todo.size(), start + batch);
    for (size_t k = start; k < end; ++k) {
      first_view.bind(1, todo[k].id);
      if (first_view.step()) todo[k].weights = first_view.blob(0);
      first_view.reset();
    }
    parallel_for(end - start, threads, [&](size_t k) {
      Todo& t = todo[start + k];
      try {
        const Language& lang = language_by_name(t.language);
        const InputDomain domain =
            t.weights.empty() ? lang.default_domain()
                              : subject_from_safetensors(safetensors_decode(t.weights, "program " + std::to_string(t.id) + "'s view"),
                                                         "program " + std::to_string(t.id) + "'s view").domain;
        const auto program = lang.parse(t.source);
        Reduction r = reduce_program(lang, *program, reduction_inputs(domain));
        t.reduced_source = r.program->text();
        t.reduced_tokens = join_tokens(r.program->tokens());
        t.weights.clear();
      } catch (const std::exception& e) {
        t.error = e.what();
      }
    });
    Db::Transaction tx(db);
    Statement up(db, "UPDATE programs SET reduced_source = ?, reduced_tokens = ? WHERE id = ?");
    for (size_t k = start; k < end; ++k) {
      const Todo& t = todo[k];
      if (!t.error.empty()) throw Error("'" + path + "': program " + std::to_string(t.id) + " could not be reduced: " + t.error);
      up.bind(1, t.reduced_source).bind(2, t.reduced_tokens).bind(3, t.id).run();
      reduced += t.tokens != t.reduced_tokens;
    }
    tx.commit();
    done += static_cast<int64_t>(end - start);
    log("  " + std::to_string(done) + " of " + std::to_string(todo.size()) + " programs (" + std::to_string(reduced) +
        " shorter)");
  }
  Db::Transaction tx(db);
  db.exec("UPDATE meta SET value = '" + std::to_string(kCorpusFormatVersion) + "' WHERE key = 'format_version'");
  tx.commit();
  log("'" + path + "' is now at format version " + std::to_string(kCorpusFormatVersion) + ": " + std::to_string(reduced) +
      " of " + std::to_string(done) + " programs reduced");
  return done;
}

}  // namespace mm
