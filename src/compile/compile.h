// RASP -> transformer weights that compute the program exactly on a finite input domain: what tracr does,
// written for our subject-model format (block kind "compiled", see subject/arch.h). No training, no torch.
//
// The pipeline (compiling.cpp) reads like tracr's: validate and trace the program over every input of the
// domain (rasp_to_graph), place each operation in a sublayer by the longest path to it (graph_to_layers),
// then write the residual layout, embeddings, attention heads, lookup-table MLPs and output head
// (layers_to_model). Where we differ from tracr, and why, is in docs/compiler.md.
#pragma once

#include <string>
#include <vector>

#include "core/domain.h"
#include "core/error.h"
#include "rasp/ast.h"
#include "subject/model.h"

namespace mm::compile {

// A program outside what the compiler handles, with the reason ("v4: a categorical Aggregate averages
// differing values on input [1, 2]; ..."). Like tracr's validator, it names the statement.
class CompileError : public Error {
 public:
  explicit CompileError(const std::string& message) : Error(message) {}
};

struct CompileOptions {
  float softmax_sharpness = 100;   // attention score of a selected key; BOS gets half (Aggregate)
  float bos_self_score = 1000;     // score of BOS attending to itself, so that BOS's stream stays known
  uint64_t max_inputs = 100'000;   // the domain is enumerated; larger domains are refused
  int max_residual = 4096;         // residual dimensions (SubjectArch's limit)
  int max_mlp = 65536;             // hidden units of one MLP layer
  bool tracr_strict = false;       // also refuse what tracr refuses though we compile it exactly: numerical
                                   // Aggregates of non-0/1 values or with a default other than 0, categorical
                                   // ones with a default, numerical inputs to Select and SequenceMap
};

struct Compiled {
  SubjectModel model;                 // block "compiled"; info["residual"] holds the dimension labels
  std::vector<std::string> residual;  // label of each residual dimension: "bos", "tokens:3", "v2:1", "v5"
  std::string output_label;           // the output s-op's label ("v5"); numerical: one dimension so named
  bool output_numerical = false;
  int attention_heads = 0;            // heads that do work (before padding every layer to n_heads)
  int mlp_units = 0;                  // hidden units that do work
};

// How a compiled model agrees with the evaluator over every input of its domain.
struct CompileCheck {
  int64_t positions = 0;        // positions over all inputs
  int64_t agreeing = 0;         // where the model's prediction equals the program's output
  int64_t sequences = 0;        // inputs
  int64_t sequences_agreeing = 0;  // inputs where every position agrees
  double max_number_error = 0;  // numerical output: largest |residual - output| over positions
  std::string first_disagreement;  // "input [1, 2], position 1: model 3, program 2"; empty if none
  bool exact() const { return agreeing == positions && max_number_error <= 1e-3; }
  double position_rate() const { return positions ? static_cast<double>(agreeing) / static_cast<double>(positions) : 0; }
  double sequence_rate() const {
    return sequences ? static_cast<double>(sequences_agreeing) / static_cast<double>(sequences) : 0;
  }
};
CompileCheck check_compiled(const rasp::Program& program, const Compiled& compiled);
// The same for any compiled model (a rotated view, a file read back); `number_dim` >= 0: also compare that
// residual dimension with a numerical output.
CompileCheck check_compiled_model(const rasp::Program& program, const SubjectModel& model, int number_dim = -1);

// The same model in a random orthogonal basis of its residual stream (seeded): it computes the same
// function (up to float rounding), but its dimensions no longer each mean one label; info records the
// seed ("residual_rotation"), and the "residual" labels describe the basis before the rotation.
SubjectModel rotate_residual(const SubjectModel& m, uint64_t seed);

// Throws CompileError for a program outside the subset (the reason names the statement), mm::Error for
// a domain too large to enumerate.
Compiled compile_program(const rasp::Program& program, const InputDomain& domain, const CompileOptions& options = {});

}  // namespace mm::compile
