// The training loop both subject trainers share (header-only, no torch): fill the slots, step them all,
// run a convergence check on the slots whose batch accuracy is near the threshold (every check_every
// steps), take views after convergence, and refill each slot as its model finishes. `Trainer` is
// BatchTrainer (torch, trainer.cpp) or FastTrainer (fast_trainer.h); both expose the same members.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "core/rng.h"
#include "subject/trainer.h"

namespace mm {

// What the loop knows of a slot; each trainer's slot extends it with its own state.
struct SlotProgress {
  bool active = false;
  size_t job = 0;
  Rng data_rng{0};
  int64_t step = 0;
  bool converged = false;
  int64_t converged_step = 0;
  int64_t next_view_step = 0;
  int view_attempts = 0;
  std::chrono::steady_clock::time_point start;
  Accuracy last_full;  // last full evaluation
  double batch_accuracy = 0;
  std::vector<SubjectView> views;
};

template <class Trainer>
TrainStats run_training(Trainer& trainer, const std::vector<SubjectJob>& jobs, const TrainConfig& config,
                        const std::function<void(SubjectResult&&)>& on_done, const std::function<bool()>& stop) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  auto seconds_since = [](Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); };
  size_t next = 0;
  for (int64_t m = 0; m < trainer.slots(); ++m) trainer.fill(m, next++);

  auto finish = [&](int64_t m, const std::string& status) {
    auto& s = trainer.slot(m);
    SubjectResult r;
    r.id = jobs[s.job].id;
    r.status = status;
    r.steps = s.converged ? s.converged_step : s.step;
    r.wall_s = seconds_since(s.start);
    r.accuracy = s.last_full;
    r.views = std::move(s.views);
    on_done(std::move(r));
    if (next < jobs.size()) trainer.fill(m, next++);
    else trainer.deactivate(m);
  };
  auto take_view = [&](int64_t m, const Accuracy& acc) {
    auto& s = trainer.slot(m);
    SubjectView v;
    v.step = s.step;
    v.wall_s = seconds_since(s.start);
    v.accuracy = acc;
    v.model = trainer.snapshot(m);
    s.views.push_back(std::move(v));
  };

  while (true) {
    bool any = false;
    for (int64_t m = 0; m < trainer.slots(); ++m) any |= trainer.slot(m).active;
    if (!any || (stop && stop())) break;
    trainer.step();
    // Which slots evaluate now: a convergence check whose batch accuracy is close enough, or a view.
    std::vector<int64_t> check;
    for (int64_t m = 0; m < trainer.slots(); ++m) {
      const auto& s = trainer.slot(m);
      if (!s.active) continue;
      if (!s.converged ? s.step % config.check_every == 0 && s.batch_accuracy >= config.threshold - config.check_margin
                       : s.step == s.next_view_step)
        check.push_back(m);
    }
    const std::vector<Accuracy> acc = trainer.evaluate(check, /*early_exit=*/true);
    for (size_t c = 0; c < check.size(); ++c) {
      const int64_t m = check[c];
      auto& s = trainer.slot(m);
      s.last_full = acc[c];
      const bool good = acc[c].per_position >= config.threshold;
      if (!s.converged) {
        if (!good) continue;
        s.converged = true;
        s.converged_step = s.step;
        take_view(m, acc[c]);
      } else {
        ++s.view_attempts;
        if (good) take_view(m, acc[c]);
      }
      s.next_view_step = s.step + config.view_every;
    }
    for (int64_t m = 0; m < trainer.slots(); ++m) {
      auto& s = trainer.slot(m);
      if (!s.active) continue;
      if (s.converged && (static_cast<int>(s.views.size()) >= config.views || s.view_attempts >= config.max_view_attempts))
        finish(m, "learned");
      else if (!s.converged && s.step >= config.max_steps) {
        s.last_full = trainer.evaluate({m}, /*early_exit=*/false)[0];  // the accuracy it ended with
        finish(m, "not learned");
      }
    }
    if (next >= jobs.size()) trainer.compact();
  }
  TrainStats st = trainer.stats();
  st.seconds = seconds_since(t0);
  return st;
}

}  // namespace mm
