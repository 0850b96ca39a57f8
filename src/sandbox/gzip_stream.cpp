#include "gzip_stream.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace mews_sandbox {

GzipStream::GzipStream() {
  ok_ = deflateInit2(&z_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK;
}

GzipStream::~GzipStream() {
  if (ok_) deflateEnd(&z_);
}

std::optional<std::string> GzipStream::compress(std::string_view in, bool last) {
  if (!ok_) return std::nullopt;
  std::string out;
  z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z_.avail_in = static_cast<uInt>(in.size());
  char buf[16384];
  int rc = Z_OK;
  do {
    z_.next_out = reinterpret_cast<Bytef*>(buf);
    z_.avail_out = sizeof buf;
    rc = deflate(&z_, last ? Z_FINISH : Z_NO_FLUSH);
    if (rc == Z_STREAM_ERROR) return std::nullopt;
    out.append(buf, sizeof buf - z_.avail_out);
  } while (z_.avail_out == 0 || (last && rc != Z_STREAM_END));
  return out;
}

bool accepts_gzip(const httplib::Request& req) {
  std::string value = req.get_header_value("Accept-Encoding");
  std::transform(value.begin(), value.end(), value.begin(), [](unsigned char c) { return std::tolower(c); });
  // "gzip" listed without q=0 (a plain substring check is enough for the clients we test).
  auto pos = value.find("gzip");
  if (pos == std::string::npos) return false;
  auto end = value.find(',', pos);
  std::string item = value.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
  auto q = item.find("q=");
  return q == std::string::npos || std::strtod(item.c_str() + q + 2, nullptr) > 0;
}

}  // namespace mews_sandbox
