// The sandbox's shutdown signal: a flag that background indexers poll and an
// interruptible pause for stalled and trickled responses.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace mews_sandbox {

class Stopper {
 public:
  // Sets the flag and wakes every pause(); safe from any thread.
  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
  }
  bool stopping() const { return stopping_.load(); }
  // The flag itself, for loops that check it (index_file).
  const std::atomic<bool>* flag() const { return &stopping_; }
  // Waits `seconds` unless stop() comes first; false when stopping.
  bool pause(double seconds) {
    std::unique_lock lock(mu_);
    return !cv_.wait_for(lock, std::chrono::duration<double>(seconds), [this] { return stopping_.load(); });
  }

 private:
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace mews_sandbox
