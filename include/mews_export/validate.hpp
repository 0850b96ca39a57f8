// Turns the user's add/run arguments into an AddExportRequest, rejecting
// invalid input locally (ErrorKind::Usage) before any request is sent.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "mews_export/error.hpp"
#include "mews_export/model.hpp"
#include "mews_export/time.hpp"

namespace mews_export {

inline constexpr std::size_t kMaxScopeIds = 1000;
inline constexpr auto kMinEndAge = std::chrono::minutes{5};
inline constexpr auto kMaxUpdatedSpan = std::chrono::days{180};
// Subtracted from "five minutes ago" for the default --updated-to (clock skew).
inline constexpr auto kClockSkewMargin = std::chrono::minutes{1};

// The add/run arguments as the user typed them.
struct AddArguments {
  std::string entity;
  std::vector<std::string> enterprise_ids;
  std::vector<std::string> chain_ids;
  std::optional<std::string> updated_from;
  std::optional<std::string> updated_to;
  std::optional<std::string> posting_from;
  std::optional<std::string> posting_to;
};

// Validates `args` against the API's rules at time `now` and builds the request.
// The error message says what to change.
Result<AddExportRequest> build_add_request(const AddArguments& args, UtcTime now);

}  // namespace mews_export
