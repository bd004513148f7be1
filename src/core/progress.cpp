// Progress bar / log lines on stderr.
#include "core/progress.h"

#include <cstdio>
#include <unistd.h>

namespace mm {

std::string format_duration(double s) {
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s / 3600), static_cast<int>(s / 60) % 60);
  else if (s >= 60) std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s / 60), static_cast<int>(s) % 60);
  else std::snprintf(buf, sizeof buf, "%.0fs", s);
  return buf;
}

Progress::Progress(std::string label, int64_t total, double log_every_s)
    : label_(std::move(label)), total_(total), tty_(isatty(STDERR_FILENO)), log_every_s_(log_every_s),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

void Progress::update(int64_t done, const std::string& note) {
  done_ = done;
  note_ = note;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  if (since < (tty_ ? 0.2 : log_every_s_)) return;
  last_draw_ = now;
  draw(false);
}

void Progress::finish(const std::string& note) {
  if (!note.empty()) note_ = note;
  if (tty_ || drawn_done_ != done_ || drawn_done_ < 0) draw(true);  // a log line only if it says something new
}

void Progress::draw(bool final_line) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0;
  std::string eta = "?";
  if (rate > 0 && total_ > done_) eta = format_duration(static_cast<double>(total_ - done_) / rate);
  char line[256];
  if (tty_) {
    const int width = 24;
    const int filled = total_ > 0 ? static_cast<int>(width * done_ / total_) : 0;
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(width, '.');
    std::snprintf(line, sizeof line, "\r%s [%s] %lld/%lld  %.2f/s  elapsed %s  eta %s  ", label_.c_str(), bar.c_str(),
                  static_cast<long long>(done_), static_cast<long long>(total_), rate, format_duration(elapsed).c_str(),
                  final_line ? "0s" : eta.c_str());
    std::fputs(line, stderr);
    std::fputs(note_.c_str(), stderr);
    std::fputs(final_line ? "\n" : "\033[K", stderr);
  } else {
    std::snprintf(line, sizeof line, "%s: %lld/%lld done, %.2f/s, elapsed %s, eta %s", label_.c_str(),
                  static_cast<long long>(done_), static_cast<long long>(total_), rate, format_duration(elapsed).c_str(),
                  final_line ? "0s" : eta.c_str());
    std::fprintf(stderr, "%s%s%s\n", line, note_.empty() ? "" : "; ", note_.c_str());
  }
  std::fflush(stderr);
  drawn_done_ = done_;
}

}  // namespace mm
