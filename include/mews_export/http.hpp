// The HTTP transport seam: the API client and the downloader speak HTTP only
// through HttpTransport, implemented with libcurl (CurlTransport) and by fakes
// in tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "mews_export/error.hpp"

namespace mews_export {

struct HttpRequest {
  std::string method = "GET";  // "GET", "POST", "PUT" (with `body`), "DELETE", "HEAD"
  std::string url;             // may be a signed URL: never log it, log redact_url(url)
  std::map<std::string, std::string> headers;
  std::string body;
  // When set, asks for bytes [range_from, end] with a Range header, or for
  // [range_from, range_to] (inclusive) when range_to is set too.
  std::optional<std::uint64_t> range_from;
  std::optional<std::uint64_t> range_to;
  // Whole-request limit; zero means none (downloads rely on the stall limit).
  std::chrono::milliseconds timeout{0};
  std::chrono::milliseconds connect_timeout{std::chrono::seconds{30}};
  // Abort (Timeout) when no byte arrives for `low_speed_time` (a stalled transfer).
  std::chrono::seconds low_speed_time{60};
  // The most bytes of the body read from the connection at once; zero means
  // the transport's own choice. Larger means fewer reads per MiB, and more
  // memory per connection.
  std::size_t receive_buffer = 0;
};

struct HttpResponse {
  int status = 0;
  // Header names in lower case; the last value wins.
  std::map<std::string, std::string> headers;
  // The body when it was collected (see BodyAction), else empty.
  std::string body;

  // Value of header `name` (lower case), or nullopt.
  std::optional<std::string> header(std::string_view name) const;
};

// The most bytes of a collected body kept (error answers); the transfer stops
// after that many.
inline constexpr std::size_t kMaxCollectedBody = 64 * 1024;

// What a sink wants done with a response's body, decided from its head.
enum class BodyAction {
  Receive,  // the body goes to BodySink::on_data as it arrives
  Collect,  // the body is kept in HttpResponse::body (at most kMaxCollectedBody)
  Abort,    // the transfer stops now; perform() returns an Io error
};

// Receives a response head first, then (when it asked to) its body.
struct BodySink {
  // Called once the final response's status and headers are known, before its
  // first body byte (also when the body is empty). Unset: Receive for 2xx,
  // Collect otherwise.
  std::function<BodyAction(const HttpResponse& head)> on_head;
  // The next bytes of a received body; returning false stops the transfer
  // (perform() returns an Io error).
  std::function<bool(std::string_view chunk)> on_data;

  // on_head's answer for `head` (the default when on_head is unset).
  BodyAction decide(const HttpResponse& head) const;
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // Performs `request` and returns the response. Redirects are never followed
  // here: a 3xx comes back like any other status (see resolve_url). Without a
  // `sink`, bodies are collected. Returns an error only when no complete
  // response was received (Network, Timeout, Io when the sink stopped the
  // transfer, Interrupted); any HTTP status, including 4xx/5xx, is a
  // successful Result.
  virtual Result<HttpResponse> perform(const HttpRequest& request, const BodySink* sink = nullptr) = 0;
};

struct CurlOptions {
  std::string user_agent;  // e.g. "mews-export/0.1.0"
  std::string ca_bundle;   // extra CA file; empty for the system default
  bool verbose = false;
};

// libcurl implementation: one easy handle per thread, reused so connections
// stay alive (perform() may be called from several threads at once), TLS
// verification always on, redirects never followed, gzip/deflate decoded
// transparently.
std::unique_ptr<HttpTransport> make_curl_transport(const CurlOptions& options = {});

}  // namespace mews_export
