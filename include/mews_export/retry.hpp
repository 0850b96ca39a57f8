// Retry policy as small pure functions: classify a failure, compute the next
// delay (Retry-After first, else capped exponential backoff with full jitter).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "mews_export/clock.hpp"
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

// One retry about to happen, for the caller to report (the library does not log).
struct RetryNotice {
  std::string what;  // "exports/getAll", "part-002.jsonl (https://host/path)": secret-free
  Error error;       // why the last attempt failed
  int attempt = 0;   // the attempt that comes next (2 for the first retry)
  int max_attempts = 0;
  std::chrono::milliseconds delay{0};
};
using RetryCallback = std::function<void(const RetryNotice&)>;

// A uniformly distributed number in [0, 1) (thread-safe), for jitter.
double random01();

// The retries left to one operation (an API call, a file transfer): attempts
// and time since the last progress, both from a RetryPolicy. The API client
// and the downloader share it.
class RetryBudget {
 public:
  RetryBudget(const RetryPolicy& policy, Clock& clock, std::function<double()> random = random01);

  // Counts one failure. Returns the delay before the next attempt (the
  // server's `retry_after` when given, else backoff with jitter), or nullopt
  // when no attempt is left: exhausted_reason() then says why.
  std::optional<std::chrono::milliseconds> next_delay(std::optional<std::chrono::seconds> retry_after);
  // Progress was made: the attempts and the time budget start again.
  void progress();
  // After a failed attempt at `what`: the error to give up with (not
  // retryable, interrupted, or no attempt left — the message then says how
  // many were made or why the budget ran out), or nullopt once the retry has
  // been reported to `on_retry` (may be empty) and its delay slept through
  // the clock.
  std::optional<Error> retry_or_give_up(Error error, const std::string& what, const RetryCallback& on_retry);

  int failures() const { return failures_; }
  int max_attempts() const;
  // Why next_delay() gave up: "after 8 attempts", "retry budget of 15m spent",
  // or "the server asked to wait 2h (Retry-After), longer than the retry budget of 15m".
  const std::string& exhausted_reason() const { return reason_; }

 private:
  RetryPolicy policy_;
  Clock& clock_;
  std::function<double()> random_;
  Clock::time_point started_;
  int failures_ = 0;
  std::string reason_;
};

// The Retry-After of `error` (set from a response), or nullopt.
std::optional<std::chrono::seconds> retry_after_of(const Error& error);

}  // namespace mews_export
