#include "mews_export/redact.hpp"

#include "sha256.hpp"

namespace mews_export {

std::string redact_url(std::string_view url) {
  const auto cut = url.find_first_of("?#");
  return std::string(url.substr(0, cut));
}

std::string token_fingerprint(std::string_view token) { return detail::sha256_hex(token).substr(0, 12); }

}  // namespace mews_export
