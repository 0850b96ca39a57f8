#include "mews_export/retry.hpp"

#include <algorithm>
#include <charconv>

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

}  // namespace mews_export
