// A trained (or compiled) subject model as data: architecture, weights, the output classes, and what it
// was trained on. Converts to and from the safetensors file format, and runs a plain C++ forward pass —
// the reference that the batched torch trainer is checked against, and what `modelmap predict` uses (so
// predicting needs no torch).
#pragma once

#include <map>
#include <span>
#include <string>
#include <vector>

#include "core/domain.h"
#include "core/safetensors.h"
#include "core/value.h"
#include "subject/arch.h"

namespace mm {

constexpr const char* kSubjectFormat = "modelmap-subject";
constexpr int kSubjectFormatVersion = 1;

struct SubjectModel {
  SubjectArch arch;
  InputDomain domain;                     // the inputs it was trained on
  std::vector<Value> classes;             // output class k means classes[k]
  std::string language;                   // "rasp" or "python"
  std::string program;                    // the program's source, in its text form
  std::map<std::string, Tensor> weights;  // by ParamSpec name
  std::map<std::string, std::string> info;  // extra metadata: accuracy, steps, view, ... (strings)

  // Token ids of an input: PAD = 0, value v -> 1 + (v - domain.value_min). Throws mm::Error outside the
  // domain.
  std::vector<int64_t> encode(std::span<const int64_t> input) const;
};

SafeTensors subject_to_safetensors(const SubjectModel& m);
// Validates the metadata (format, version, architecture, classes, domain) and that every parameter is
// present with its shape; throws mm::Error naming `what` and the problem.
SubjectModel subject_from_safetensors(const SafeTensors& st, const std::string& what);

// The model's output on one input: per position, the class with the largest logit, as its value.
std::vector<Value> subject_predict(const SubjectModel& m, std::span<const int64_t> input);
// The same from logits already computed (positions, classes), row-major.
std::vector<Value> predict_from_logits(const SubjectModel& m, const std::vector<float>& logits);
// Logits (positions, classes) of one input, row-major.
std::vector<float> subject_logits(const SubjectModel& m, std::span<const int64_t> input);
// A compiled model's residual stream after its last block, (positions, d_model) row-major, BOS dropped:
// what its labelled dimensions (metadata "residual") hold. Throws mm::Error for a trained model.
std::vector<float> subject_residual(const SubjectModel& m, std::span<const int64_t> input);

// Every attention head's probabilities on one input: (layers, heads, n, n) row-major, query rows, key
// columns. A compiled model's BOS is dropped from both sides (a row's mass short of 1 went to BOS).
std::vector<float> subject_attention(const SubjectModel& m, std::span<const int64_t> input);

// One forward pass with what it computes inside: the logits (n, classes), every head's attention as
// subject_attention gives it (layers, heads, n, n), and every MLP's hidden activations after its
// nonlinearity (layers, n, d_mlp). What the probe encoder reads.
struct SubjectTrace {
  std::vector<float> logits, attention, mlp;
};
SubjectTrace subject_trace(const SubjectModel& m, std::span<const int64_t> input);

// Per-position accuracy over all positions, and whole-sequence accuracy, of `m` against `program`
// outputs `expected[i]` on `inputs[i]`.
struct Accuracy {
  double per_position = 0;
  double per_sequence = 0;
};
Accuracy subject_accuracy(const SubjectModel& m, const std::vector<Input>& inputs,
                          const std::vector<std::vector<Value>>& expected);

}  // namespace mm
