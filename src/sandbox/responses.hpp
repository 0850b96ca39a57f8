// Response helpers shared by the sandbox's handlers: the API's JSON error body
// with the response's Request-Id, and the Host a client addressed.
#pragma once

#include <string>

#include <httplib.h>

namespace mews_sandbox {

// The Request-Id header already set on `res` (by the pre-routing handler).
std::string request_id(const httplib::Response& res);
// Sets `status` and the body {"Message": `message`, "RequestId": <Request-Id>}.
void send_error(httplib::Response& res, int status, const std::string& message);
// The request's Host header, or `fallback` when it has none.
std::string host_of(const httplib::Request& req, const std::string& fallback);

}  // namespace mews_sandbox
