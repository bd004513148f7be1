// Training the mapper on a corpus (paper, section 3.3): teacher-forced causal language-modelling loss
// over the program's tokens, AdamW, on the train split only, less a held-out tenth of its programs (every
// tenth in id order, the first included) that picks the epoch kept and stops training once it stops improving;
// every epoch, loss and teacher-forced token accuracy on the test split (reported, never used to
// choose), and a checkpoint. Rerunning the same command after a
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
  std::string encoder = "invariant"; // "layergraph", "invariant", "behaviour" or "probe"
  int epochs = 30;                   // total epochs (a resumed run trains the rest)
  int patience = 3;                  // stop after this many epochs without a better held-out loss (0 = never)
  int batch = 32;                    // subjects per step
  double lr = 1e-3;                  // AdamW learning rate (after a warmup of one epoch's steps / 4)
  double weight_decay = 0.01;        // AdamW
  std::string lr_schedule = "constant";  // after the warmup: "constant", or "cosine" down to a tenth of --lr
                                         // at the last of --epochs' steps
  int d_model = 128;                 // mapper width
  int d_ff = 32;                     // decoder feed-forward width (the paper's 32)
  int layers = 3;                    // decoder layers (the paper's 3)
  bool no_weights = false;           // train the floor: encoder input zeroed
  std::string order = "canonical";   // the target's token order: canonical or (RASP) output-first
  std::string target = "reduced";    // "reduced" (the program's reduced form) or "sampled"
  std::string split = "program";     // "program" (ours) or "view" (the paper's protocol; config.h)
  bool augment = false;              // layergraph: permute each subject's heads, hidden units and residual
                                     // dimensions afresh every epoch (the same function, other weights)
  int example_layers = 0;            // behaviour, probe: self-attention layers within each probe input (config.h)
  int probe_sample = 0;              // behaviour, probe: probe inputs read per subject (0 = all; config.h)
  bool io_pairs = false;             // behaviour, probe: embed each position's (input, output) pair too (config.h)
  std::string synthetic;             // behaviour: a `sample --reduce --jsonl` file of programs trained on as
                                     // their own behaviour, beside the corpus's subjects (data.h)
  bool synthetic_noise = false;      // their tables given a random train subject's errors at every step (config.h)
  int views = 0;                     // at most this many views of each model (lowest ordinals; 0 = all)
  int64_t programs = 0;              // train on the first this many programs of the train split, in id
                                     // order (0 = all): the scaling curve's corpus sizes, one test split
  uint64_t seed = 0;                 // shuffling and initialisation
  std::string device = "cpu";        // "cpu" or "cuda"
  int threads = 0;                   // torch threads (0 = torch's default)
  // Data-parallel training (distributed.h): world > 1 trains one job across processes; --batch stays the
  // global batch (each rank runs its share of every step), so the result does not depend on the world.
  int world = 0;                     // 0: WORLD_SIZE, else 1
  int rank = -1;                     // -1: RANK, else 0
  std::string master;                // "": MASTER_ADDR:MASTER_PORT, else 127.0.0.1:29500
  double timeout_s = 300;            // connecting and every collective
  int procs = 1;                     // the launcher: spawn this many local ranks (cli/torch_run.cpp)
};

// One epoch's record, as kept in the checkpoint.
struct EpochRecord {
  int epoch = 0;
  double train_loss = 0;
  double val_loss = 0;
  double val_token_accuracy = 0;  // teacher-forced, over target tokens (incl. <eos>)
  double seconds = 0;
  double holdout_loss = 0;        // on the held-out slice of the train split (early stopping)
};

// The learning rate at optimizer step `step` (0-based) of `total_steps`: a linear warmup over the first 100
// steps, then `base` ("constant") or a half cosine from `base` to base / 10 at the last step ("cosine").
double learning_rate(const std::string& schedule, double base, int64_t step, int64_t total_steps);

// Trains (or resumes) and returns the epochs' records. Throws mm::Error on bad input.
std::vector<EpochRecord> train_mapper(const MapperTrainConfig& config, std::ostream& log);

}  // namespace mm
