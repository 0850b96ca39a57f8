// UTC timestamps, dates and durations as the API and the CLI spell them.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace mews_export {

using UtcTime = std::chrono::sys_seconds;

// "2026-11-28T10:00:00Z". Accepts also fractional seconds ("...:00.123Z") and
// "+00:00" as the API may send them; fractions are truncated.
std::optional<UtcTime> parse_utc(std::string_view text);
// "YYYY-MM-DD" -> midnight UTC; nullopt when malformed or not a real date.
std::optional<UtcTime> parse_date(std::string_view text);
// A CLI time argument: either of the two forms above.
std::optional<UtcTime> parse_time_arg(std::string_view text);

std::string format_utc(UtcTime t);   // "YYYY-MM-DDThh:mm:ssZ"
std::string format_date(UtcTime t);  // "YYYY-MM-DD"

// "500ms", "30s", "5m", "24h", "1h30m"; a bare number means seconds.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);
std::string format_duration(std::chrono::milliseconds d);  // "5m", "1h30m", "250ms"

// RFC 7231 IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), for Retry-After.
std::optional<UtcTime> parse_http_date(std::string_view text);
std::string format_http_date(UtcTime t);

}  // namespace mews_export
