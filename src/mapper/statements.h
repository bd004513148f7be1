// `modelmap mapper statements`: a statement head for a trained mapper. The mapper's greedy programs have
// the target's number of statements only a quarter of the time, and most of the token accuracy it loses is
// the shift that an added or dropped statement causes (docs/results.md, session 19); held to the target's
// own count (`eval --statements oracle`), greedy decoding gains several points. The head predicts that
// count from what the decoder knows before its first token (MapperImpl::statement_features), so that
// decoding can be held to a count the mapper chose itself (`eval --statements head`).
//
// Data flow: the mapper read (its best epoch), frozen -> the features of every train example (the corpus's
// train split, less the mapper's own held-out tenth, plus the first N synthetic programs when given) and of
// the held-out tenth -> a small MLP (2 d_model -> d_model -> classes) trained with cross-entropy on the
// targets' counts, the epoch with the lowest held-out loss kept -> the mapper with its head, in a new
// checkpoint. The test split is only scored. No torch in this header.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

namespace mm {

struct StatementHeadConfig {
  std::string mapper;             // a trained mapper checkpoint (read, not changed)
  std::string corpus;             // the corpus it was trained on
  std::string synthetic;          // its synthetic programs' file ("" = none; behaviour mappers)
  int64_t synthetic_programs = 20000;  // how many of the file's first lines are read
  std::string out;                // the mapper with its head (a new checkpoint)
  int epochs = 40;                // passes over the features
  double lr = 1e-3;               // AdamW
  uint64_t seed = 1;
  int threads = 0;
  std::string device = "cpu";
};

struct StatementHeadReport {
  int classes = 0;
  int64_t train = 0, holdout = 0, test = 0;  // examples
  int best_epoch = 0;
  double holdout_accuracy = 0, test_accuracy = 0;  // the head's count exactly right
  double test_majority_accuracy = 0;               // always the train examples' most common count
};

StatementHeadReport train_statement_head(const StatementHeadConfig& config, std::ostream& log);

}  // namespace mm
