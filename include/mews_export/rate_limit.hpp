// The API's rate limit, kept by the client: a token bucket per access token
// that every job using that token draws from, so that together they stay
// under the limit instead of making the server answer 429.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string_view>

#include "mews_export/clock.hpp"

namespace mews_export {

// "N requests per W" (the API's: 200 per 30 s per access token).
struct RateLimit {
  int requests = 200;
  std::chrono::milliseconds window{std::chrono::seconds{30}};
};
inline constexpr RateLimit kApiRateLimit{};

// "200/30s" -> {200, 30 s}; nullopt when malformed.
std::optional<RateLimit> parse_rate_limit(std::string_view text);

// A token bucket sized so that no window of `limit.window` ever holds more
// than `limit.requests` requests: a burst of a fifth of them, the rest
// refilled evenly (with a 5 % margin). Thread-safe.
class RequestBudget {
 public:
  explicit RequestBudget(RateLimit limit = kApiRateLimit);

  // Takes one request's token, sleeping through `clock` until one is there.
  // Returns false when the sleep was cut short (cancellation).
  bool acquire(Clock& clock);

 private:
  // The wait before a token is there at `now` (zero: taken).
  Clock::duration take_or_wait(Clock::time_point now);

  std::mutex mutex_;
  double burst_;
  double per_ms_;
  double tokens_;
  std::optional<Clock::time_point> last_;
};

}  // namespace mews_export
