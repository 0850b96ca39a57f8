// Incremental SHA-256 (OpenSSL EVP), for file checksums and token fingerprints.
#pragma once

#include <string>
#include <string_view>

struct evp_md_ctx_st;

namespace mews_export::detail {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  Sha256(Sha256&& other) noexcept;
  Sha256& operator=(Sha256&& other) noexcept;

  void update(std::string_view data);
  // 64 lowercase hex digits. Finishes the hash: call once.
  std::string hex_digest();

 private:
  evp_md_ctx_st* ctx_;
};

std::string sha256_hex(std::string_view data);

}  // namespace mews_export::detail
