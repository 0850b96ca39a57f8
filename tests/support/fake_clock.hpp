// Deterministic time for unit tests, beside FakeTransport: sleep_for()
// advances now() at once and records the sleep, so a 5-minute poll or a
// Retry-After of an hour runs in microseconds and its delays can be asserted.
#pragma once

#include <mutex>
#include <vector>

#include "mews_export/cancel.hpp"
#include "mews_export/clock.hpp"

namespace mews_export {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(time_point start = time_point{std::chrono::seconds{1'800'000'000}}) : now_(start) {}

  time_point now() override {
    std::lock_guard lock(mutex_);
    return now_;
  }
  // Returns false (as SystemClock does) when cancellation was requested.
  bool sleep_for(duration d) override {
    std::lock_guard lock(mutex_);
    now_ += d;
    sleeps_.push_back(d);
    return !cancel_requested();
  }
  void advance(duration d) {
    std::lock_guard lock(mutex_);
    now_ += d;
  }
  std::vector<duration> sleeps() const {
    std::lock_guard lock(mutex_);
    return sleeps_;
  }

 private:
  mutable std::mutex mutex_;
  time_point now_;
  std::vector<duration> sleeps_;
};

}  // namespace mews_export
