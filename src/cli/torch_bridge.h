// The commands whose work needs LibTorch. Loading LibTorch costs ~0.7 s at every start, so there are two
// executables built from the same command-line code: `modelmap` (no torch) runs these by replacing itself
// with `modelmap-torch`, found next to it, with the same arguments; `modelmap-torch` runs them itself.
// Flags are parsed and checked by the same code in both.
#pragma once

#include <string>

#include "corpus/build.h"
#include "mapper/train.h"
#include "mapper/evaluate.h"

namespace mm::cli {

// The command line as main received it, for the hand-over.
void remember_command_line(int argc, char** argv);

// `modelmap corpus build`; returns the exit code.
int run_corpus_build(const BuildConfig& config, const std::string& out);

// `modelmap mapper train`.
int run_mapper_train(const MapperTrainConfig& config);

struct DecompileOptions {
  std::string model;          // subject .safetensors
  std::string mapper;         // mapper checkpoint
  int beam = 1;               // 1 = greedy
  std::string device = "cpu";
};
// `modelmap decompile`.
int run_decompile(const DecompileOptions& options);

// `modelmap eval`; `json` ("" = none) receives the report as JSON.
int run_eval(const EvalOptions& options, const std::string& json);

}  // namespace mm::cli
