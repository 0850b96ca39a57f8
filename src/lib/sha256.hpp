// Incremental SHA-256 (OpenSSL EVP), for file checksums and token fingerprints.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <openssl/sha.h>

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

// SHA-256's state after a whole number of 64-byte blocks: what a resumed
// upload needs to go on hashing a file without reading its start again.
struct Sha256Checkpoint {
  std::array<std::uint32_t, 8> h{};
  std::uint64_t bytes = 0;  // hashed so far, a multiple of 64
  // "<bytes>:<64 hex digits of h>", and back (nullopt when malformed).
  std::string to_string() const;
  static std::optional<Sha256Checkpoint> parse(std::string_view text);
};

// Incremental SHA-256 that can be saved at a block boundary and resumed
// (OpenSSL's SHA256_CTX, whose state is public, unlike EVP's).
class ResumableSha256 {
 public:
  ResumableSha256();
  explicit ResumableSha256(const Sha256Checkpoint& from);
  void update(std::string_view data);
  // The state now; nullopt unless the bytes hashed are a multiple of 64.
  std::optional<Sha256Checkpoint> checkpoint() const;
  std::uint64_t bytes() const { return bytes_; }
  // 64 lowercase hex digits of a copy of the state (the hash can go on).
  std::string hex_digest() const;

 private:
  SHA256_CTX ctx_{};
  std::uint64_t bytes_ = 0;
};

}  // namespace mews_export::detail
