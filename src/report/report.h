// Reports to look at: one self-contained HTML file each (inline CSS and SVG, no script, nothing fetched),
// written by `decompile --report` and `eval --report`. No torch: the pages are drawn from what the
// decompile pipeline and the evaluation already computed, plus the subject's own forward pass (attention).
#pragma once

#include <string>

#include "decompile/pipeline.h"
#include "decompile/verify.h"
#include "subject/model.h"

namespace mm {

struct EvalReport;

struct DecompileReportInput {
  std::string model_path;             // shown in the title
  const SubjectModel* subject = nullptr;
  const Behaviour* behaviour = nullptr;   // the model's outputs on the verification inputs
  const DecompileResult* result = nullptr;  // ranked[0] is the answer
  std::string how;                    // how the candidates were proposed and searched, one line
  std::string truth;                  // the true program's text form ("" = none known)
  std::string truth_from;             // where the true program came from ("--truth t.py", "the model's metadata")
  size_t max_disagreements = 20;      // inputs listed where model and program differ
  size_t attention_inputs = 4096;     // inputs the attention heatmaps average over (the first of the behaviour's)
  int threads = 1;
};

// The decompile page: the program and its fidelity by input length; the first inputs where the model and
// the program disagree; every attention head's mean pattern over (position, token) pairs; each candidate
// tried and its fidelity; the true program, its fidelity and a line diff, where one is known. Throws
// mm::Error when the result holds no program.
std::string decompile_report_html(const DecompileReportInput& in);

// The eval page: methods x metrics for the mapper beside the floor (and the search alone), the rows by
// subject size and program length, and histograms of per-view fidelity.
std::string eval_report_html(const EvalReport& report, const std::string& title);

}  // namespace mm
