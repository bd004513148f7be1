// Building a corpus: the program list (sampled from a seed, or read from a JSON-lines file), this shard's
// part of it, one subject model per program trained in batches, each stored as soon as it finishes.
// Rerunning the same build skips every program that already has its model: that is how a killed build
// resumes, and how shards built on several machines stay disjoint.
#pragma once

#include <functional>
#include <string>

#include "corpus/corpus.h"
#include "subject/trainer.h"

namespace mm {

struct BuildConfig {
  std::string origin = "trained";  // "trained" (train a model per program) or "compiled" (src/compile; RASP)
  std::string language = "rasp";
  int64_t programs = 100;     // how many distinct programs to sample (ignored with `from`)
  std::string from;           // a JSON-lines file of {"source": ...} to train on instead
  uint64_t seed = 0;          // program sampling and model seeds
  int shard_index = 0;        // this shard: programs whose list index % shard_count == shard_index
  int shard_count = 1;
  InputDomain domain;         // inputs the programs are sampled and trained on
  SizePolicy size;            // architecture per program
  TrainConfig train;
};

struct BuildSummary {
  int64_t listed = 0;        // programs in the list
  int64_t in_shard = 0;      // of those, this shard's
  int64_t already = 0;       // already had their model
  int64_t refused = 0;       // could not be trained (raise on the domain, too many outputs)
  int64_t trained = 0;       // trained now
  int64_t learned = 0;       // of those, learned
  bool interrupted = false;  // stopped before the end
  TrainStats stats;
};

// A program of this shard that has no model yet.
struct PendingProgram {
  int64_t program_id;
  std::string hash;
  std::shared_ptr<const Program> program;
};

// The seed of a program's model in a build of `build_seed`: from the program's hash, so that it does not
// depend on the list's order, the shard or what else is built. Trained and compiled builds share it.
uint64_t model_seed(const std::string& program_hash, uint64_t build_seed);

// The program list of a build, in order, deduplicated by canonical tokens.
std::vector<std::shared_ptr<const Program>> build_program_list(const BuildConfig& config);

// Throws mm::Error on bad configuration or unreadable input. `log` receives one-line notes (refused
// programs); `stop` is polled between training steps.
BuildSummary corpus_build(Corpus& corpus, const BuildConfig& config, const std::function<bool()>& stop,
                          const std::function<void(const std::string&)>& log);

// --origin compiled (build_compiled.cpp): each pending program compiled, checked against the evaluator on
// every input, and stored with train.views views (the model, then rotations of its residual basis) under
// origin and preset "compiled", status "compiled" (or "inexact" if the check failed: a compiler bug).
// Counts into `summary`: refused = outside the compiler's subset, trained = compiled, learned = exact.
void build_compiled(Corpus& corpus, const BuildConfig& config, const std::vector<PendingProgram>& pending,
                    BuildSummary& summary, const std::function<bool()>& stop,
                    const std::function<void(const std::string&)>& log);

}  // namespace mm
