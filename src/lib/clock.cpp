#include "mews_export/clock.hpp"

#include <algorithm>
#include <thread>

#include "mews_export/cancel.hpp"

namespace mews_export {

UtcTime utc_now(Clock& clock) { return std::chrono::floor<std::chrono::seconds>(clock.now()); }

Clock::time_point SystemClock::now() { return std::chrono::system_clock::now(); }

bool SystemClock::sleep_for(duration d) {
  // Sleep in short slices so that a signal stops the wait promptly.
  constexpr duration kSlice{100};
  const auto deadline = std::chrono::steady_clock::now() + d;
  while (!cancel_requested()) {
    const auto left = std::chrono::duration_cast<duration>(deadline - std::chrono::steady_clock::now());
    if (left <= duration::zero()) return true;
    std::this_thread::sleep_for(std::min(left, kSlice));
  }
  return false;
}

}  // namespace mews_export
