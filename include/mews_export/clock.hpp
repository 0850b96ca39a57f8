// The clock and sleeper seam: production code waits through a Clock so tests
// can run a 5-minute poll or a Retry-After in microseconds with a fake
// (tests/support/fake_clock.hpp).
#pragma once

#include <chrono>

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

}  // namespace mews_export
