#include "mews_export/poll_group.hpp"

#include <algorithm>
#include <cctype>

#include "mews_export/time.hpp"

namespace mews_export {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

PollGroup::PollGroup(ApiClient& api, Clock& clock, std::chrono::milliseconds interval)
    : api_(api), clock_(clock), interval_(interval) {}

std::uint64_t PollGroup::polls() const {
  std::lock_guard lock(mutex_);
  return round_;
}

void PollGroup::lead_round(std::unique_lock<std::mutex>& lock) {
  polling_ = true;
  std::vector<std::string> ids;
  for (const auto& [id, waiter] : waiting_) ids.push_back(id);
  lock.unlock();
  auto answer = api_.get_exports(ids);
  lock.lock();
  ++round_;
  round_error_.reset();
  if (!answer) round_error_ = answer.error();
  for (auto& [id, waiter] : waiting_) {
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) continue;  // registered after the call went out
    waiter.answered_round = round_;
    waiter.latest.reset();
    if (!answer) continue;
    for (auto& e : *answer) {
      if (lower(e.id) == id) waiter.latest = e;
    }
  }
  next_poll_ = clock_.now() + interval_;
  polling_ = false;
  done_.notify_all();
}

void PollGroup::next_round(std::unique_lock<std::mutex>& lock, std::uint64_t seen) {
  while (round_ == seen) {
    if (polling_) {
      done_.wait(lock, [&] { return !polling_; });
      continue;
    }
    const auto now = clock_.now();
    if (!next_poll_ || now >= *next_poll_) {
      lead_round(lock);
      continue;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*next_poll_ - now);
    lock.unlock();
    const bool slept = clock_.sleep_for(left);
    lock.lock();
    if (!slept) return;
  }
}

Result<Export> PollGroup::wait(const std::string& given_id, const WaitOptions& options) {
  const std::string id = lower(given_id);
  const auto deadline = clock_.now() + options.timeout;
  std::optional<Clock::time_point> missing_since;
  std::unique_lock lock(mutex_);
  auto& me = waiting_[id];
  const auto leave = [&](Result<Export> result) {
    waiting_.erase(id);
    return result;
  };
  for (std::uint64_t seen = 0;;) {
    while (me.answered_round == seen) {  // until a round has asked for this id
      const auto before = round_;
      next_round(lock, before);
      if (round_ == before) return leave(std::unexpected(interrupted_error()));  // the sleep was cut short
    }
    seen = me.answered_round;
    if (round_error_) return leave(std::unexpected(*round_error_));
    const auto now = clock_.now();
    if (!me.latest) {
      if (!missing_since) missing_since = now;
      if (now - *missing_since >= options.missing_grace) {
        return leave(
            fail(ErrorKind::NotFound, "export " + given_id + " was not found (unknown id, or another token's export)"));
      }
    } else {
      missing_since.reset();
      if (options.on_poll) options.on_poll({*me.latest});
      if (is_terminal(me.latest->status)) return leave(std::move(*me.latest));
    }
    if (now >= deadline) {
      return leave(fail(ErrorKind::WaitTimeout, "timed out after " + format_duration(options.timeout) +
                                                    " waiting for export(s) to finish: " + given_id));
    }
  }
}

}  // namespace mews_export
