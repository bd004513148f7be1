// Training the mapper on a corpus (paper, section 3.3): teacher-forced causal language-modelling loss
// over the program's tokens, AdamW, on the train split only; every epoch, validation loss and
// teacher-forced token accuracy on the test split, and a checkpoint. Rerunning the same command after a
// kill resumes from the last checkpoint. No torch in this header.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace mm {

struct MapperTrainConfig {
  std::string corpus;                // corpus.sqlite
  std::string out;                   // checkpoint (.pt); resumed from when it exists
  std::string language;              // "" = the corpus's only language
  std::string encoder = "invariant"; // "layergraph" or "invariant"
  int epochs = 30;                   // total epochs (a resumed run trains the rest)
  int batch = 32;                    // subjects per step
  double lr = 1e-3;                  // AdamW learning rate (after a warmup of one epoch's steps / 4)
  double weight_decay = 0.01;        // AdamW
  int d_model = 128;                 // mapper width
  bool no_weights = false;           // train the floor: encoder input zeroed
  uint64_t seed = 0;                 // shuffling and initialisation
  std::string device = "cpu";        // "cpu" or "cuda"
  int threads = 0;                   // torch threads (0 = torch's default)
};

// One epoch's record, as kept in the checkpoint.
struct EpochRecord {
  int epoch = 0;
  double train_loss = 0;
  double val_loss = 0;
  double val_token_accuracy = 0;  // teacher-forced, over target tokens (incl. <eos>)
  double seconds = 0;
};

// Trains (or resumes) and returns the epochs' records. Throws mm::Error on bad input.
std::vector<EpochRecord> train_mapper(const MapperTrainConfig& config, std::ostream& log);

}  // namespace mm
