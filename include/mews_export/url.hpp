// URLs are parsed with libcurl's URL API, never by hand: the scheme and host
// rules for the API address, export file URLs and the redirects they answer.
#pragma once

#include <string>
#include <string_view>

#include "mews_export/error.hpp"

namespace mews_export {

struct UrlParts {
  std::string scheme;  // lower case: "https"
  std::string host;    // lower case, IPv6 without brackets: "::1"
};

// The scheme and host of the absolute URL `text`. Protocol error when it is
// empty, relative or malformed.
Result<UrlParts> parse_url(std::string_view text);

// True for 127.0.0.0/8, ::1 and localhost.
bool is_loopback_host(std::string_view host);
// True when `url` parses and its host is a loopback address.
bool is_loopback_url(std::string_view url);

// `reference` (a Location header: absolute or relative) resolved against
// `base`. Protocol error when the result is not a URL.
Result<std::string> resolve_url(std::string_view base, std::string_view reference);

// Whether an export file may be fetched from `url` (or a redirect followed to
// it): https, or plain http to a loopback host (to any host with
// `allow_insecure_http`). Otherwise a Protocol error that names the redacted
// URL and says why; such a URL is never retried.
Status check_download_url(std::string_view url, bool allow_insecure_http);

}  // namespace mews_export
