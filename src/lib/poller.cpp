#include "mews_export/poller.hpp"

#include <algorithm>
#include <map>

#include "mews_export/cancel.hpp"
#include "mews_export/time.hpp"

namespace mews_export {

Result<std::vector<Export>> wait_for_exports(ApiClient& api, Clock& clock, std::span<const std::string> ids,
                                             const WaitOptions& options) {
  const auto deadline = clock.now() + options.timeout;
  for (;;) {
    auto answer = api.get_exports(ids);
    if (!answer) return std::unexpected(answer.error());
    std::map<std::string, Export> by_id;
    for (auto& e : *answer) by_id.emplace(e.id, std::move(e));

    std::vector<Export> current;
    std::vector<std::string> unfinished;
    for (const auto& id : ids) {
      const auto it = by_id.find(id);
      if (it == by_id.end()) {
        return fail(ErrorKind::NotFound, "export " + id + " was not found (unknown id, or another token's export)");
      }
      current.push_back(it->second);
      if (!is_terminal(it->second.status)) unfinished.push_back(id);
    }
    if (options.on_poll) options.on_poll(current);
    if (unfinished.empty()) return current;

    const auto now = clock.now();
    if (now >= deadline) {
      std::string list;
      for (const auto& id : unfinished) list += (list.empty() ? "" : " ") + id;
      Error error{.kind = ErrorKind::WaitTimeout,
                  .message = "timed out after " + format_duration(options.timeout) +
                             " waiting for export(s) to finish: " + list};
      return std::unexpected(error);
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    if (!clock.sleep_for(std::min(options.interval, left))) {
      return std::unexpected(
          Error{.kind = ErrorKind::Interrupted, .message = "interrupted", .signal = cancel_signal()});
    }
  }
}

}  // namespace mews_export
