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
  std::string method = "GET";  // "GET", "POST", "HEAD"
  std::string url;             // may be a signed URL: never log it, log redact_url(url)
  std::map<std::string, std::string> headers;
  std::string body;
  // When set, asks for bytes [range_from, end] with a Range header.
  std::optional<std::uint64_t> range_from;
  // Whole-request limit; zero means none (downloads rely on the stall limit).
  std::chrono::milliseconds timeout{0};
  std::chrono::milliseconds connect_timeout{std::chrono::seconds{30}};
  // Abort (Timeout) when no byte arrives for `low_speed_time` (a stalled transfer).
  std::chrono::seconds low_speed_time{60};
};

struct HttpResponse {
  int status = 0;
  // Header names in lower case; the last value wins.
  std::map<std::string, std::string> headers;
  // The body, unless a sink consumed it (then empty).
  std::string body;

  // Value of header `name` (lower case), or nullopt.
  std::optional<std::string> header(std::string_view name) const;
};

// Receives the body of a 2xx response chunk by chunk; returns false to abort
// the transfer (the transport then returns an Io error).
using BodySink = std::function<bool(std::string_view chunk)>;

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // Performs `request`. On a 2xx status and a non-null `sink`, the body goes to
  // `sink` as it arrives; other bodies are collected into HttpResponse::body
  // (capped at 64 KiB). Returns an error only when no complete response was
  // received (Network, Timeout, Io when the sink aborted, Interrupted);
  // any HTTP status, including 4xx/5xx, is a successful Result.
  virtual Result<HttpResponse> perform(const HttpRequest& request, const BodySink* sink = nullptr) = 0;
};

struct CurlOptions {
  std::string user_agent;  // e.g. "mews-export/0.1.0"
  std::string ca_bundle;   // extra CA file; empty for the system default
  bool verbose = false;
};

// libcurl implementation: one easy handle per thread, reused so connections
// stay alive (perform() may be called from several threads at once), TLS
// verification always on, redirects followed, gzip/deflate decoded transparently.
std::unique_ptr<HttpTransport> make_curl_transport(const CurlOptions& options = {});

}  // namespace mews_export
