// Streaming gzip (RFC 1952) compression of one response body, for the gzip
// file fault, and whether a request's Accept-Encoding allows gzip.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <httplib.h>
#include <zlib.h>

namespace mews_sandbox {

class GzipStream {
 public:
  GzipStream();
  ~GzipStream();
  GzipStream(const GzipStream&) = delete;
  GzipStream& operator=(const GzipStream&) = delete;

  // Compresses `in` (finishing the stream when `last`) and returns the output
  // so far; nullopt when zlib fails.
  std::optional<std::string> compress(std::string_view in, bool last);

 private:
  z_stream z_{};
  bool ok_ = false;
};

// True when the request's Accept-Encoding lists gzip without q=0.
bool accepts_gzip(const httplib::Request& req);

}  // namespace mews_sandbox
