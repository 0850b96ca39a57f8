// The API's rate limit: at most N calls per access token within a sliding
// window; beyond it, how long until the oldest call leaves the window.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>

namespace mews_sandbox {

class RateLimiter {
 public:
  RateLimiter(std::uint64_t requests, double window_seconds);

  // Records a call of `token_index` and returns nullopt when it is within the
  // limit; otherwise the whole seconds (>= 1) the caller should wait.
  std::optional<long> admit(std::size_t token_index);

 private:
  using Time = std::chrono::steady_clock::time_point;
  std::uint64_t requests_;
  std::chrono::steady_clock::duration window_;
  std::mutex mu_;
  std::map<std::size_t, std::deque<Time>> calls_;
};

}  // namespace mews_sandbox
