#include "mews_export/redact.hpp"

#include "sha256.hpp"

namespace mews_export {

std::string redact_url(std::string_view url) {
  // Query and fragment carry signatures; "user:password@" carries credentials.
  url = url.substr(0, url.find_first_of("?#"));
  const auto scheme_end = url.find("://");
  const auto authority = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
  const auto path = url.find('/', authority);
  const auto at = url.substr(0, path).rfind('@');
  if (at == std::string_view::npos || at < authority) return std::string(url);
  return std::string(url.substr(0, authority)) + std::string(url.substr(at + 1));
}

std::string token_fingerprint(std::string_view token) { return detail::sha256_hex(token).substr(0, 12); }

}  // namespace mews_export
