// Everything a server sends is untrusted input: JSON is bounded in depth before
// it is used, text is escaped before it reaches a terminal, ids are checked
// before they name a file, and URLs before anything is fetched from them.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "mews_export/error.hpp"

namespace mews_export {

// The deepest nesting of arrays and objects accepted in an API answer.
inline constexpr int kMaxJsonDepth = 64;
// The largest successful API answer read (a getAll of 1000 exports with
// thousands of long signed URLs stays far below it).
inline constexpr std::size_t kMaxApiAnswerBytes = std::size_t{256} << 20;

// Parses `text` as one JSON document. Returns a Protocol error when it is not
// JSON, or when arrays and objects nest deeper than `max_depth` levels.
Result<nlohmann::json> parse_untrusted_json(std::string_view text, int max_depth = kMaxJsonDepth);

// `value` as text for people and scripts: indented for the first
// `pretty_levels` levels, compact below, so that the text grows linearly with
// the value however deeply it nests. Invalid UTF-8 is replaced.
std::string to_display_json(const nlohmann::json& value, int pretty_levels = 4);
// `value` on one line (invalid UTF-8 replaced).
std::string to_compact_json(const nlohmann::json& value);

// `text` safe to print on a terminal: control characters (C0, DEL and the C1
// range) become visible escapes ("\n", "\r", "\t", "\e", "\0", "\x07",
// "\u009b"); everything else is kept as is.
std::string escape_for_terminal(std::string_view text);

// True when `id` may name a file or directory: 1 to 64 ASCII letters, digits
// and hyphens (every UUID is one). Rejects empty ids, dots, slashes, spaces,
// control characters and NUL.
bool is_valid_export_id(std::string_view id);
// Export ids (UUIDs) compared without regard to letter case.
bool same_export_id(std::string_view a, std::string_view b);

}  // namespace mews_export
