#include "mews_export/http.hpp"

namespace mews_export {

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  const auto it = headers.find(std::string(name));
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

}  // namespace mews_export
