#include "mews_export/retry.hpp"

#include <algorithm>
#include <charconv>
#include <random>

namespace mews_export {

bool is_retryable_status(int http_status) {
  return http_status == 408 || http_status == 425 || http_status == 429 || (http_status >= 500 && http_status <= 599);
}

bool is_retryable(const Error& error) {
  switch (error.kind) {
    case ErrorKind::Network:
    case ErrorKind::Timeout: return true;
    case ErrorKind::Api:
    case ErrorKind::Http: return is_retryable_status(error.http_status);
    default: return false;
  }
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, UtcTime now) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  // Longer waits are treated as a year (and would overflow milliseconds).
  constexpr std::chrono::seconds kLongest = std::chrono::hours{24 * 365};
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    long long seconds = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec == std::errc::result_out_of_range) return kLongest;
    if (ec != std::errc{} || end != value.data() + value.size()) return std::nullopt;
    return std::min(std::chrono::seconds{seconds}, kLongest);
  }
  const auto when = parse_http_date(value);
  if (!when) return std::nullopt;
  return std::clamp(std::chrono::duration_cast<std::chrono::seconds>(*when - now), std::chrono::seconds{0}, kLongest);
}

std::chrono::milliseconds next_delay(const RetryPolicy& policy, int attempt,
                                     std::optional<std::chrono::seconds> retry_after, double random01) {
  if (retry_after) return *retry_after;
  const int exponent = std::clamp(attempt - 1, 0, 30);
  const double ceiling =
      std::min(static_cast<double>(policy.max_delay.count()),
               static_cast<double>(policy.base_delay.count()) * static_cast<double>(1LL << exponent));
  const double r = std::clamp(random01, 0.0, 1.0);
  return std::chrono::milliseconds{static_cast<long long>(ceiling * r)};
}

double random01() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

RetryBudget::RetryBudget(const RetryPolicy& policy, Clock& clock, std::function<double()> random)
    : policy_(policy), clock_(clock), random_(std::move(random)), started_(clock.now()) {}

int RetryBudget::max_attempts() const { return std::max(1, policy_.max_attempts); }

std::optional<std::chrono::milliseconds> RetryBudget::next_delay(std::optional<std::chrono::seconds> retry_after) {
  ++failures_;
  if (failures_ >= max_attempts()) {
    reason_ = "after " + std::to_string(failures_) + " attempts";
    return std::nullopt;
  }
  const auto delay = mews_export::next_delay(policy_, failures_, retry_after, random_());
  if (clock_.now() - started_ + delay <= policy_.max_total) return delay;
  const auto budget = format_duration(policy_.max_total);
  if (retry_after && delay > policy_.max_total) {
    reason_ = "the server asked to wait " + format_duration(delay) +
              " (Retry-After), longer than the retry budget of " + budget +
              "; try again later or raise --retry-max-time";
  } else {
    reason_ = "retry budget of " + budget + " spent after " + std::to_string(failures_) + " attempts";
  }
  return std::nullopt;
}

void RetryBudget::progress() {
  failures_ = 0;
  started_ = clock_.now();
}

std::optional<std::chrono::seconds> retry_after_of(const Error& error) {
  if (error.retry_after_seconds < 0) return std::nullopt;
  return std::chrono::seconds{error.retry_after_seconds};
}

std::optional<Error> RetryBudget::retry_or_give_up(Error error, const std::string& what,
                                                   const RetryCallback& on_retry) {
  if (error.kind == ErrorKind::Interrupted || !is_retryable(error)) {
    if (failures_ > 0) error.message += " (after " + std::to_string(failures_ + 1) + " attempts)";
    return error;
  }
  const auto delay = next_delay(retry_after_of(error));
  if (!delay) {
    error.message += " (" + reason_ + ")";
    return error;
  }
  if (on_retry) {
    on_retry(RetryNotice{
        .what = what, .error = error, .attempt = failures_ + 1, .max_attempts = max_attempts(), .delay = *delay});
  }
  if (!clock_.sleep_for(*delay)) return interrupted_error();
  return std::nullopt;
}

}  // namespace mews_export
