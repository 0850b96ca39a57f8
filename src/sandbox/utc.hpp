// Time as text for the sandbox: Unix seconds to and from the API's UTC
// datetimes ("YYYY-MM-DDThh:mm:ssZ"), dates ("YYYY-MM-DD") and HTTP dates.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mews_sandbox {

// Unix seconds as "YYYY-MM-DDThh:mm:ssZ".
std::string format_utc(std::int64_t unix_seconds);
// "YYYY-MM-DDThh:mm:ssZ" (a fraction and "+00:00" are accepted) as Unix
// seconds; nullopt when malformed.
std::optional<std::int64_t> parse_utc(std::string_view text);
// The UTC date of `unix_seconds` as "YYYY-MM-DD".
std::string format_date(std::int64_t unix_seconds);
// "YYYY-MM-DD" as Unix seconds at midnight UTC; nullopt when malformed.
std::optional<std::int64_t> parse_date(std::string_view text);
// Unix seconds as an HTTP date (IMF-fixdate): "Sun, 06 Nov 1994 08:49:37 GMT".
std::string format_http_date(std::int64_t unix_seconds);
// An IMF-fixdate as Unix seconds; nullopt when malformed (the obsolete RFC 850
// and asctime forms included).
std::optional<std::int64_t> parse_http_date(std::string_view text);

}  // namespace mews_sandbox
