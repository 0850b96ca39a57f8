// The clock and sleeper seam: production code waits through a Clock so tests
// can run a 5-minute poll or a Retry-After in microseconds with FakeClock.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <vector>

#include "mews_export/time.hpp"

namespace mews_export {

class Clock {
 public:
  using time_point = std::chrono::system_clock::time_point;
  using duration = std::chrono::milliseconds;
  virtual ~Clock() = default;
  virtual time_point now() = 0;
  // Sleeps `d`; returns false early when cancellation was requested (see cancel.hpp).
  virtual bool sleep_for(duration d) = 0;
};

// `clock`'s now, in whole seconds.
UtcTime utc_now(Clock& clock);

// Real time; sleeps wake up early on cancellation (SIGINT/SIGTERM).
class SystemClock final : public Clock {
 public:
  time_point now() override;
  bool sleep_for(duration d) override;
};

// Deterministic time for tests: sleep_for advances now() and records the sleep.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(time_point start = time_point{std::chrono::seconds{1'800'000'000}});
  time_point now() override;
  bool sleep_for(duration d) override;
  void advance(duration d);
  std::vector<duration> sleeps() const;

 private:
  mutable std::mutex mutex_;
  time_point now_;
  std::vector<duration> sleeps_;
};

}  // namespace mews_export
