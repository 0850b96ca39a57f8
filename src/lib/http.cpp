#include "mews_export/http.hpp"

namespace mews_export {

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  const auto it = headers.find(std::string(name));
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

BodyAction BodySink::decide(const HttpResponse& head) const {
  if (on_head) return on_head(head);
  return head.status >= 200 && head.status < 300 ? BodyAction::Receive : BodyAction::Collect;
}

}  // namespace mews_export
