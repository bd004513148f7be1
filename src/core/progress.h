// Progress of long jobs: a one-line bar with rate and ETA, redrawn in place when stderr is a terminal;
// plain log lines at most every `log_every_s` seconds otherwise (CI logs, files, pipes).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace mm {

class Progress {
 public:
  Progress(std::string label, int64_t total, double log_every_s = 10.0);
  // Reports that `done` of `total` are finished; `note` is appended (e.g. "learned 12, failed 1").
  void update(int64_t done, const std::string& note = "");
  void finish(const std::string& note = "");

 private:
  void draw(bool final_line);

  std::string label_;
  int64_t total_, done_ = 0;
  int64_t drawn_done_ = -1;  // done_ at the last line drawn
  std::string note_;
  bool tty_;
  double log_every_s_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

std::string format_duration(double seconds);  // "1h02m", "3m05s", "12s"

}  // namespace mm
