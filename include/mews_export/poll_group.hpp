// Jobs that share an access token share their polls: every job waiting for
// one of its exports registers the id, and one getAll per tick (batched by
// 1000 ids) answers all of them, instead of one call per job.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "mews_export/api_client.hpp"
#include "mews_export/clock.hpp"
#include "mews_export/poller.hpp"

namespace mews_export {

class PollGroup {
 public:
  PollGroup(ApiClient& api, Clock& clock, std::chrono::milliseconds interval);
  PollGroup(const PollGroup&) = delete;
  PollGroup& operator=(const PollGroup&) = delete;

  // Like wait_for_exports() for one id (missing_grace, timeout, on_poll as
  // there), but polled together with every other id waiting in this group:
  // whichever waiter finds a tick due asks getAll for all of them and hands
  // out the answers. Thread-safe.
  Result<Export> wait(const std::string& id, const WaitOptions& options);

  // getAll calls made so far (for tests and logs).
  std::uint64_t polls() const;

 private:
  struct Waiter {
    std::optional<Export> latest;  // from the last round that asked for it
    std::uint64_t answered_round = 0;
  };
  // One round as the leader: getAll for every registered id.
  void lead_round(std::unique_lock<std::mutex>& lock);
  // Waits (lock held) until the round after `seen` is over, leading it when due.
  void next_round(std::unique_lock<std::mutex>& lock, std::uint64_t seen);

  ApiClient& api_;
  Clock& clock_;
  std::chrono::milliseconds interval_;
  mutable std::mutex mutex_;
  std::condition_variable done_;
  std::map<std::string, Waiter> waiting_;  // by lower-case id
  bool polling_ = false;
  std::uint64_t round_ = 0;
  std::optional<Error> round_error_;
  std::optional<Clock::time_point> next_poll_;
};

}  // namespace mews_export
