// The fast CPU subject trainer (no torch): a forward and backward pass written for the "trained" subject
// architecture, one model at a time per thread, the models of a batch spread over the threads. Every
// model keeps its own parameters, gradients and AdamW moments, so a model's numbers never depend on which
// models share its batch or how many threads run. Padding costs nothing: the inputs of a batch are packed
// row after row and attention runs within each input.
// Internal to the subject stage: train_subjects (trainer.h) chooses it for --device cpu.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/rng.h"
#include "subject/domain_data.h"
#include "subject/train_loop.h"
#include "subject/trainer.h"

namespace mm {

// Where each parameter of one model lives in its flat buffer; the head's class axis padded to a multiple
// of 8 (the padding columns stay zero and are never read as classes).
struct FastLayout {
  SubjectArch arch;  // the job's own (n_classes real classes)
  int cp = 0;        // padded class count
  struct Layer {
    size_t ln1g, ln1b, wqkv, bqkv, wout, bout, ln2g, ln2b, wfc, bfc, wproj, bproj;
  };
  size_t tok = 0, pos = 0, lnfg = 0, lnfb = 0, whead = 0, bhead = 0, total = 0;
  std::vector<Layer> layers;
  std::vector<ParamSpec> specs;   // as stored (head unpadded)
  std::vector<size_t> offsets;    // of each spec in the buffer
  std::vector<float> decay;       // per element: 1 where weight decay applies (matrices)

  explicit FastLayout(const SubjectArch& a);
};

// One model's parameters in a FastLayout buffer, from SubjectModel weights or the job's initial weights.
std::vector<float> pack_weights(const FastLayout& lay, const std::map<std::string, Tensor>& weights);
std::map<std::string, Tensor> unpack_weights(const FastLayout& lay, const std::vector<float>& w);

// A batch of inputs, packed: row r is position pos[r] of input seq(r); inputs occupy consecutive rows.
struct PackedBatch {
  std::vector<int> start, len;   // per input
  std::vector<int32_t> id, pos;  // per row: token id, position
  std::vector<int32_t> target;   // per row: class index, or -1 (no target)
  int rows() const { return static_cast<int>(id.size()); }
  void clear() { start.clear(), len.clear(), id.clear(), pos.clear(), target.clear(); }
  void add(const InputDomain& domain, const Input& x, const int32_t* targets);  // targets: len values or null
};

// The fast trainer's forward and backward pass of one model. `loss_and_gradients` fills `grad` (the
// layout's size) with the gradient of the mean cross-entropy over the rows with a target, and returns
// the loss; `correct` and `counted` get the rows argmax got right and the rows with a target.
struct FastPass;  // workspace
double loss_and_gradients(const FastLayout& lay, const std::vector<float>& w, const PackedBatch& b,
                          std::vector<float>& grad, int64_t* correct = nullptr, int64_t* counted = nullptr);
// Logits (rows, n_classes) of a batch.
std::vector<float> fast_logits(const FastLayout& lay, const std::vector<float>& w, const PackedBatch& b);

struct FastSlot : SlotProgress {
  bool needs_init = false;  // filled but not yet initialised (that runs in the parallel step)
  const DomainData* data = nullptr;
  std::unique_ptr<Labeller> labels;
  std::vector<int32_t> eval_targets;  // (evaluation inputs, max_len), -1 where none
  double eval_positions = 0;
  std::unique_ptr<FastLayout> layout;
  std::vector<float> w, g, m, v;
};

class FastTrainer {
 public:
  FastTrainer(const std::vector<SubjectJob>& jobs, const TrainConfig& config);
  int64_t slots() const { return static_cast<int64_t>(slots_.size()); }
  FastSlot& slot(int64_t m) { return slots_[static_cast<size_t>(m)]; }
  const TrainStats& stats() const { return stats_; }
  void fill(int64_t m, size_t job);
  void deactivate(int64_t m) { slot(m).active = false; }
  void compact() {}  // an inactive slot costs nothing
  std::vector<double> step();
  std::vector<Accuracy> evaluate(const std::vector<int64_t>& which, bool early_exit);
  SubjectModel snapshot(int64_t m);

 private:
  void init(FastSlot& s);

  const std::vector<SubjectJob>& jobs_;
  const TrainConfig& config_;
  int threads_ = 1;
  std::vector<FastSlot> slots_;
  DomainCache domains_{config_};
  TrainStats stats_;
};

}  // namespace mm
