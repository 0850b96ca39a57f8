// Signed, expiring file URLs: an HMAC-SHA256 of the path and the expiry under
// a random per-process key, like the real API's pre-signed download links.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace mews_sandbox {

class UrlSigner {
 public:
  // A signer with a random key whose URLs carry a "pad" parameter of
  // `padding` characters (none when 0).
  explicit UrlSigner(std::size_t padding = 0);

  // The hex signature of `path` (e.g. "/files/<id>/0") valid until `expires`.
  std::string sign(const std::string& path, std::int64_t expires) const;
  // "http://<host><path>?expires=<expires>&signature=<sign(path, expires)>",
  // plus "&pad=xxx…" when padded.
  std::string url(const std::string& host, const std::string& path, std::int64_t expires) const;
  // Only the query of such a URL: "?expires=<expires>&signature=<sign(path, expires)>" (+ padding).
  std::string query(const std::string& path, std::int64_t expires) const;

 private:
  unsigned char key_[32]{};
  std::string padding_;  // "" or "&pad=xxx…"
};

}  // namespace mews_sandbox
