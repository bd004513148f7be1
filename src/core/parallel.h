// One parallel loop for the CPU-bound work that is not torch's (running candidate programs, the subject
// model's plain C++ forward pass): indices handed out one at a time from a shared counter, so uneven work
// balances itself. Not a thread pool: threads are started per call, which costs microseconds against the
// milliseconds each call does.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace mm {

// Calls fn(i) once for every i in [0, n), on up to `threads` threads (<= 1: in this thread, in order).
// The first exception thrown by fn is rethrown here after every thread has stopped.
template <class F>
void parallel_for(size_t n, int threads, F&& fn) {
  const size_t workers = std::min(n, static_cast<size_t>(std::max(threads, 1)));
  if (workers <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&] {
    for (size_t i = next++; i < n; i = next++) {
      try {
        fn(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        next = n;
      }
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < workers; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace mm
