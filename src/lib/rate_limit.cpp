#include "mews_export/rate_limit.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "mews_export/time.hpp"

namespace mews_export {

std::optional<RateLimit> parse_rate_limit(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  int requests = 0;
  const auto count = text.substr(0, slash);
  const auto [end, ec] = std::from_chars(count.data(), count.data() + count.size(), requests);
  if (ec != std::errc{} || end != count.data() + count.size() || requests < 1) return std::nullopt;
  const auto window = parse_duration(text.substr(slash + 1));
  if (!window || window->count() <= 0) return std::nullopt;
  return RateLimit{.requests = requests, .window = *window};
}

RequestBudget::RequestBudget(RateLimit limit) {
  const double usable = std::max(1.0, std::floor(limit.requests * 0.95));
  burst_ = std::max(1.0, std::floor(usable / 5));
  per_ms_ = (usable - burst_) / static_cast<double>(limit.window.count());
  tokens_ = burst_;
}

Clock::duration RequestBudget::take_or_wait(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (last_ && now > *last_) {
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(now - *last_).count();
    tokens_ = std::min(burst_, tokens_ + static_cast<double>(elapsed) * per_ms_);
  }
  last_ = std::max(now, last_.value_or(now));
  if (tokens_ >= 1.0) {
    tokens_ -= 1.0;
    return Clock::duration::zero();
  }
  return Clock::duration{static_cast<long long>(std::ceil((1.0 - tokens_) / per_ms_))};
}

bool RequestBudget::acquire(Clock& clock) {
  for (;;) {
    const auto wait = take_or_wait(clock.now());
    if (wait == Clock::duration::zero()) return true;
    if (!clock.sleep_for(wait)) return false;
  }
}

}  // namespace mews_export
