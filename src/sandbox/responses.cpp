#include "responses.hpp"

#include <nlohmann/json.hpp>

namespace mews_sandbox {

std::string request_id(const httplib::Response& res) { return res.get_header_value("Request-Id"); }

void send_error(httplib::Response& res, int status, const std::string& message) {
  res.status = status;
  res.set_content(nlohmann::json{{"Message", message}, {"RequestId", request_id(res)}}.dump(), "application/json");
}

std::string host_of(const httplib::Request& req, const std::string& fallback) {
  std::string host = req.get_header_value("Host");
  return host.empty() ? fallback : host;
}

}  // namespace mews_sandbox
