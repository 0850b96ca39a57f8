#include "rate_limiter.hpp"

#include <algorithm>

namespace mews_sandbox {

RateLimiter::RateLimiter(std::uint64_t requests, double window_seconds)
    : requests_(requests),
      window_(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          std::chrono::duration<double>(window_seconds))) {}

std::optional<long> RateLimiter::admit(std::size_t token_index) {
  std::lock_guard lock(mu_);
  auto now = std::chrono::steady_clock::now();
  auto& q = calls_[token_index];
  while (!q.empty() && q.front() + window_ <= now) q.pop_front();
  if (q.size() >= requests_) {
    auto free_at = q.empty() ? now + window_ : q.front() + window_;  // "requests": 0 refuses every call
    double wait = std::chrono::duration<double>(free_at - now).count();
    return std::max(1L, static_cast<long>(wait + 0.999));
  }
  q.push_back(now);
  return std::nullopt;
}

}  // namespace mews_sandbox
