// API faults that leave the request processed but change its answer: nested
// values in each Export object, a huge padding field, file URLs replaced, or
// exports left out.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "scenario.hpp"

namespace mews_sandbox {

// True when `fault` is an omit: getAll lists no export.
bool omits_exports(const std::optional<Fault>& fault);
// With a file_url fault, sets every file's Url in `export_object` to its url.
void apply_file_url(const std::optional<Fault>& fault, nlohmann::json& export_object);
// The text of `answer` ({"Export": …} or {"Exports": […]}) with a nested or
// pad fault applied; plain answer.dump() otherwise.
std::string render_answer(nlohmann::json answer, const std::optional<Fault>& fault);

// "[V, V, …]" (`count` values), V being `depth` levels of containers that
// alternate array and object, starting with an array: depth 3 -> [{"a":[0]}].
std::string nested_json(std::uint64_t depth, std::uint64_t count);

}  // namespace mews_sandbox
