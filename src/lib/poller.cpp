#include "mews_export/poller.hpp"

#include <algorithm>
#include <map>
#include <optional>

#include "mews_export/cancel.hpp"
#include "mews_export/time.hpp"

namespace mews_export {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kFirstMissingDelay{1000};

// One getAll answer sorted against the ids asked for.
struct PollState {
  std::vector<Export> current;  // in the order of the ids (only when none is missing)
  std::vector<std::string> unfinished;
  std::vector<std::string> missing;
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

PollState sort_answer(std::span<const std::string> ids, std::vector<Export> answer) {
  std::map<std::string, Export> by_id;
  for (auto& e : answer) by_id.emplace(lower(e.id), std::move(e));
  PollState state;
  for (const auto& id : ids) {
    const auto it = by_id.find(lower(id));
    if (it == by_id.end()) {
      state.missing.push_back(id);
      continue;
    }
    state.current.push_back(it->second);
    if (!is_terminal(it->second.status)) state.unfinished.push_back(id);
  }
  return state;
}

std::string joined(const std::vector<std::string>& ids) {
  std::string list;
  for (const auto& id : ids) list += (list.empty() ? "" : " ") + id;
  return list;
}

Error not_found(const std::vector<std::string>& missing) {
  return Error{.kind = ErrorKind::NotFound,
               .message = "export " + joined(missing) + " was not found (unknown id, or another token's export)"};
}

Error timed_out(const WaitOptions& options, const std::vector<std::string>& unfinished) {
  return Error{.kind = ErrorKind::WaitTimeout,
               .message = "timed out after " + format_duration(options.timeout) +
                          " waiting for export(s) to finish: " + joined(unfinished)};
}

// The pause before asking again for ids that are missing: 1 s, 2 s, 4 s, ...
// never longer than the poll interval.
milliseconds missing_delay(int misses, milliseconds interval) {
  const int exponent = std::clamp(misses - 1, 0, 20);
  return std::min(interval, milliseconds{kFirstMissingDelay.count() << exponent});
}

}  // namespace

Result<std::vector<Export>> wait_for_exports(ApiClient& api, Clock& clock, std::span<const std::string> ids,
                                             const WaitOptions& options) {
  const auto deadline = clock.now() + options.timeout;
  std::optional<Clock::time_point> missing_since;
  int misses = 0;
  for (;;) {
    auto answer = api.get_exports(ids);
    if (!answer) return std::unexpected(answer.error());
    PollState state = sort_answer(ids, std::move(*answer));
    const auto now = clock.now();
    milliseconds pause = options.interval;
    if (!state.missing.empty()) {
      if (!missing_since) missing_since = now;
      if (now - *missing_since >= options.missing_grace) return std::unexpected(not_found(state.missing));
      pause = missing_delay(++misses, options.interval);
    } else {
      missing_since.reset();
      misses = 0;
      if (options.on_poll) options.on_poll(state.current);
      if (state.unfinished.empty()) return std::move(state.current);
    }
    if (now >= deadline)
      return std::unexpected(timed_out(options, state.missing.empty() ? state.unfinished : state.missing));
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - now);
    if (!clock.sleep_for(std::min(pause, left))) {
      return std::unexpected(interrupted_error());
    }
  }
}

}  // namespace mews_export
