// The commands whose work needs LibTorch. Loading LibTorch costs ~0.7 s at every start, so there are two
// executables built from the same command-line code: `modelmap` (no torch) runs these by replacing itself
// with `modelmap-torch`, found next to it, with the same arguments; `modelmap-torch` runs them itself.
// Flags are parsed and checked by the same code in both.
#pragma once

#include <string>

#include "corpus/build.h"
#include "mapper/statements.h"
#include "mapper/train.h"
#include "mapper/evaluate.h"

namespace mm::cli {

// The command line as main received it, for the hand-over.
void remember_command_line(int argc, char** argv);

// `modelmap corpus build`; returns the exit code.
int run_corpus_build(const BuildConfig& config, const std::string& out);

// `modelmap mapper train`.
int run_mapper_train(const MapperTrainConfig& config);

// `modelmap mapper statements`.
int run_mapper_statements(const StatementHeadConfig& config);

struct DecompileOptions {
  std::string model;          // subject .safetensors
  std::string mapper;         // mapper checkpoint ("" = search alone)
  std::string search;         // "synth", "repair", "none"; "" = --repair's choice, else the language's default
  double search_seconds = 8;  // synthesis budget: seconds
  int64_t search_expressions = 200'000'000;  // synthesis budget: expressions built and scored
  int64_t search_memory_mb = 1024;           // synthesis: memory for the tables it keeps
  bool heads = true;          // synthesis: the selectors the model's attention heads point at join the search
  int beam = 1;               // 1 = greedy (with candidates = 1)
  int candidates = 1;         // K: beam search of width ceil(K/2) and sampling propose up to K programs
  bool all = false;           // print the ranked list, not only the best
  bool repair = false;        // hill-climb single-token edits on the best few candidates
  int repair_from = 3;        // how many of the ranked candidates are repaired
  int64_t repair_edits = 2000;  // edit budget: edits run against the model
  int repair_structural = -1;  // repair also tries the language's structural edits: 1 yes, 0 no,
                               // -1 the language's default (structural_repair)
  double repair_seconds = 10;   // time budget of the repair
  uint64_t inputs = 10000;    // verification inputs: the domain, or a fixed sample of this many
  uint64_t seed = 1;          // sampling
  int threads = 0;            // torch threads and candidate runs (0 = torch's default)
  std::string device = "cpu";
  std::string report;         // write the HTML report here ("" = none)
  std::string truth;          // the true program's file, for the report ("" = the model's metadata, if any)
};
// `modelmap decompile`.
int run_decompile(const DecompileOptions& options);

// `modelmap eval`; `json` ("" = none) receives the report as JSON, `html` ("" = none) as a page.
int run_eval(const EvalOptions& options, const std::string& json, const std::string& html);

}  // namespace mm::cli
