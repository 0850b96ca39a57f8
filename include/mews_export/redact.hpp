// Redact once: the log-safe forms of URLs and tokens.
#pragma once

#include <string>
#include <string_view>

namespace mews_export {

// `url` without its query string, fragment and user information
// ("https://u:pw@h/p?sig=x#f" -> "https://h/p"): what may be logged of a URL.
std::string redact_url(std::string_view url);
// A short, stable, non-reversible fingerprint of a token (first 12 hex digits of
// its SHA-256), for the journal and for telling tokens apart in logs.
std::string token_fingerprint(std::string_view token);

}  // namespace mews_export
