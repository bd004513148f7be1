// `modelmap eval`: the mapper on a corpus's test split — decode every held-out view, score it (see
// eval/metrics.h) and sum the scores per parameter-count bucket and per program length, beside the same
// figures for the floor (a mapper trained with its weight input zeroed), when one is given.
#pragma once

#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "eval/metrics.h"

namespace mm {

struct EvalOptions {
  std::string corpus;         // corpus.sqlite (its test split is scored)
  std::string mapper;         // mapper checkpoint
  std::string floor;          // the floor's checkpoint ("" = none)
  int beam = 1;               // 1 = greedy
  int limit = 0;              // score at most this many test views (0 = all)
  std::string device = "cpu";
  int threads = 0;            // torch threads (0 = torch's default)
};

struct EvalReport {
  std::string language, encoder;
  std::vector<std::string> rows;                // "all", then the buckets present, in order
  std::map<std::string, ScoreSummary> mapper;   // by row
  std::map<std::string, ScoreSummary> floor;    // by row; empty without a floor
  double seconds_per_view = 0;                  // decoding and scoring, mapper only
};

EvalReport evaluate_mapper(const EvalOptions& options, std::ostream& log);
std::string format_report(const EvalReport& report);  // a Markdown table
std::string report_json(const EvalReport& report);

}  // namespace mm
