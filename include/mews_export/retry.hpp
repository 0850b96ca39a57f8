// Retry policy as small pure functions: classify a failure, compute the next
// delay (Retry-After first, else capped exponential backoff with full jitter).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "mews_export/error.hpp"
#include "mews_export/time.hpp"

namespace mews_export {

struct RetryPolicy {
  int max_attempts = 8;                        // including the first
  std::chrono::milliseconds base_delay{1000};  // first backoff ceiling
  std::chrono::milliseconds max_delay{std::chrono::seconds{60}};
  std::chrono::milliseconds max_total{std::chrono::minutes{15}};  // budget across attempts
};

// True when a request that failed with `error` may be sent again: network
// errors, timeouts, 408, 429 and 5xx. Never 400, 401, 403, 404 or local errors.
bool is_retryable(const Error& error);
// True when `http_status` is worth retrying (408, 425, 429, 5xx).
bool is_retryable_status(int http_status);

// Seconds from a Retry-After header value: delta-seconds or HTTP-date (relative
// to `now`). nullopt when malformed; a date in the past gives 0.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, UtcTime now);

// Delay before attempt `attempt` + 1 (`attempt` counts from 1): the server's
// `retry_after` when given (honoured as is; the caller's time budget bounds it),
// else full jitter: `random01` (in [0,1)) times min(max_delay, base_delay * 2^(attempt-1)).
std::chrono::milliseconds next_delay(const RetryPolicy& policy, int attempt,
                                     std::optional<std::chrono::seconds> retry_after, double random01);

}  // namespace mews_export
