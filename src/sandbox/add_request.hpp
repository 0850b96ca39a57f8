// Validation of an exports/add body (entity type, scope, filters) into an
// ExportRequest, with the API's limits and 400 messages.
#pragma once

#include <cstdint>
#include <expected>
#include <string>

#include <nlohmann/json.hpp>

#include "export_store.hpp"

namespace mews_sandbox {

// The request of `body` for access token `token_index`, or the message of the
// 400 answer. `now` (Unix s) bounds Filters.UpdatedUtc.EndUtc.
std::expected<ExportRequest, std::string> parse_add_request(const nlohmann::json& body, std::size_t token_index,
                                                            std::int64_t now);

}  // namespace mews_sandbox
