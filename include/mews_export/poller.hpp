// Polls exports/getAll until every export is terminal, with an injected clock.
#pragma once

#include <chrono>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "mews_export/api_client.hpp"
#include "mews_export/clock.hpp"

namespace mews_export {

// Default polling interval: the API documentation calls 5 minutes reasonable.
inline constexpr std::chrono::milliseconds kDefaultPollInterval = std::chrono::minutes{5};
inline constexpr std::chrono::milliseconds kDefaultWaitTimeout = std::chrono::hours{24};

// How long `run` keeps asking for an export it has just created when getAll
// does not list it yet.
inline constexpr std::chrono::milliseconds kNewExportGrace = std::chrono::minutes{10};

struct WaitOptions {
  std::chrono::milliseconds interval = kDefaultPollInterval;
  std::chrono::milliseconds timeout = kDefaultWaitTimeout;
  // How long an id missing from getAll's answer is asked for again (after 1 s,
  // 2 s, 4 s, ... up to `interval`) before it is NotFound; zero: at once.
  std::chrono::milliseconds missing_grace{0};
  // Called after each getAll with the current state of every export.
  std::function<void(const std::vector<Export>&)> on_poll;
};

// One getAll per tick for all `ids` until each is terminal (Success, Failed,
// Expired). Returns the exports in the order of `ids` (ids compared without
// regard to case). Errors: NotFound when an id stays missing from the answers
// longer than `missing_grace`, WaitTimeout when `timeout` passes first
// (the error message lists the ids still unfinished), Interrupted on
// cancellation, and whatever get_exports() fails with after its retries.
// A Failed/Expired export is not an error here: the caller decides.
Result<std::vector<Export>> wait_for_exports(ApiClient& api, Clock& clock, std::span<const std::string> ids,
                                             const WaitOptions& options);

}  // namespace mews_export
