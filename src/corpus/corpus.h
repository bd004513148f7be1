// The corpus: one SQLite file (WAL) holding programs, the models trained (or compiled) on them, and each
// model's views with their weights as safetensors blobs. A program's split (train/test, 80/20) is fixed
// by its content hash, so every view of a program lands on one side. Programs are deduplicated by their
// canonical tokens; each is stored with its reduced form (core/reduce.h: the shortest equivalent program
// the language's shrinking moves reach), which is what a mapper learns to write. Writes of one model and its views are one transaction: a killed build loses at most
// the models in flight. No torch here.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "corpus/sqlite.h"

namespace mm {

constexpr const char* kCorpusFormat = "modelmap-corpus";
// Version 2 added each program's reduced form; `corpus_migrate` brings a version-1 corpus up to it.
constexpr int kCorpusFormatVersion = 2;

struct ProgramRecord {
  int64_t id = 0;
  std::string language;
  std::string source;
  std::string tokens;  // canonical tokens, space-separated
  std::string hash;    // 16 hex digits: fnv1a64(language + "\n" + tokens)
  std::string split;   // "train" or "test"
  std::string reduced_source, reduced_tokens;  // the reduced form (equal to source/tokens when nothing reduces)
};

struct ViewRecord {
  int64_t id = 0;
  int64_t model_id = 0;
  int ordinal = 0;
  int64_t step = 0;
  double wall_s = 0;
  double accuracy = 0;
  double seq_accuracy = 0;
  std::string weights;  // safetensors bytes
};

struct ModelRecord {
  int64_t id = 0;
  int64_t program_id = 0;
  std::string origin = "trained";  // "trained"; the compiler adds "compiled"
  std::string preset;
  std::string architecture;        // JSON
  int64_t params = 0;
  int64_t seed = 0;
  std::string status;              // "learned" or "not learned"
  int64_t steps = 0;
  double wall_s = 0;
  double accuracy = 0;
  double seq_accuracy = 0;
  std::string config;              // JSON of the training settings
};

// A program's canonical tokens as the corpus stores them: space-separated.
std::string join_tokens(const std::vector<std::string>& tokens);
// Its inverse: the whitespace-separated tokens of `text`.
std::vector<std::string> split_tokens(const std::string& text);

// "train" or "test" for a program hash: test when hash mod 5 == 0.
std::string split_of(const std::string& hash_hex);
std::string program_hash(const std::string& language, const std::string& tokens);

class Corpus {
 public:
  // Opens an existing corpus (refusing files that are not one, or of another format version) or, with
  // `create`, makes a new one.
  static std::unique_ptr<Corpus> open(const std::string& path, bool create, bool readonly = false);

  Db& db() { return db_; }
  const std::string& path() const { return db_.path(); }

  // The id of the program with these tokens, if stored.
  std::optional<int64_t> find_program(const std::string& language, const std::string& tokens);
  // The id of the program with these tokens, adding it (with its reduced form) if new.
  int64_t add_program(const std::string& language, const std::string& source, const std::string& tokens,
                      const std::string& reduced_source, const std::string& reduced_tokens);
  std::optional<ProgramRecord> program(int64_t id);
  // Whether a model of this program, origin and preset exists (any seed).
  bool has_model(int64_t program_id, const std::string& origin, const std::string& preset);
  // Adds a model and its views atomically and returns its id; if the same model (program, origin, preset,
  // seed) is already stored, leaves it and returns its id.
  int64_t add_model(const ModelRecord& model, const std::vector<ViewRecord>& views);
  std::optional<ViewRecord> view(int64_t id);
  std::vector<int64_t> view_ids();

 private:
  explicit Corpus(const std::string& path, bool create, bool readonly) : db_(path, create, readonly) {}
  Db db_;
};

// Copies every program, model and view of `source` into `target`; a program already in `target` is
// matched by its tokens, and a model whose program already has a model of the same origin and preset is
// skipped. Returns (programs added, models added).
std::pair<int64_t, int64_t> corpus_merge(Corpus& target, const std::string& source_path);

// The format version of a corpus file (0 when it is not a modelmap corpus).
int corpus_format_version(const std::string& path);

// Brings a version-1 corpus to version 2 in place: adds the reduced-form columns and reduces every program
// on the domain its models were trained on (read from the first stored view; the language's default domain
// for a program with none), `threads` programs at a time, each batch one transaction. A killed migration
// resumes where it stopped; the version is raised only when every program has its reduced form. Returns
// the programs reduced now (0 for a corpus already at version 2). `log` gets progress lines.
int64_t corpus_migrate(const std::string& path, int threads, const std::function<void(const std::string&)>& log);

}  // namespace mm
