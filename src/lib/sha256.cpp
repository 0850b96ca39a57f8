#include "sha256.hpp"

#include <openssl/evp.h>

#include <array>
#include <charconv>
#include <stdexcept>
#include <utility>

namespace mews_export::detail {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("cannot initialise SHA-256");
  }
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

Sha256::Sha256(Sha256&& other) noexcept : ctx_(std::exchange(other.ctx_, nullptr)) {}

Sha256& Sha256::operator=(Sha256&& other) noexcept {
  std::swap(ctx_, other.ctx_);
  return *this;
}

void Sha256::update(std::string_view data) { EVP_DigestUpdate(ctx_, data.data(), data.size()); }

std::string Sha256::hex_digest() {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx_, digest.data(), &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0x0f]);
  }
  return out;
}

namespace {
constexpr char kHexDigits[] = "0123456789abcdef";
}  // namespace

// OpenSSL 3 deprecates the SHA256_* calls in favour of EVP, whose state
// cannot be saved; they remain supported through 3.x.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

ResumableSha256::ResumableSha256() { SHA256_Init(&ctx_); }

ResumableSha256::ResumableSha256(const Sha256Checkpoint& from) : bytes_(from.bytes) {
  SHA256_Init(&ctx_);
  for (std::size_t i = 0; i < 8; ++i) ctx_.h[i] = from.h[i];
  const std::uint64_t bits = from.bytes * 8;
  ctx_.Nl = static_cast<SHA_LONG>(bits & 0xffffffffu);
  ctx_.Nh = static_cast<SHA_LONG>(bits >> 32);
}

void ResumableSha256::update(std::string_view data) {
  SHA256_Update(&ctx_, data.data(), data.size());
  bytes_ += data.size();
}

std::optional<Sha256Checkpoint> ResumableSha256::checkpoint() const {
  if (bytes_ % 64 != 0 || ctx_.num != 0) return std::nullopt;
  Sha256Checkpoint out;
  for (std::size_t i = 0; i < 8; ++i) out.h[i] = ctx_.h[i];
  out.bytes = bytes_;
  return out;
}

std::string ResumableSha256::hex_digest() const {
  SHA256_CTX copy = ctx_;
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256_Final(digest.data(), &copy);
  std::string out;
  for (const unsigned char b : digest) {
    out.push_back(kHexDigits[b >> 4]);
    out.push_back(kHexDigits[b & 0x0f]);
  }
  return out;
}

#pragma GCC diagnostic pop

std::string Sha256Checkpoint::to_string() const {
  std::string out = std::to_string(bytes) + ":";
  for (const std::uint32_t word : h) {
    for (int shift = 28; shift >= 0; shift -= 4) out.push_back(kHexDigits[(word >> shift) & 0xf]);
  }
  return out;
}

std::optional<Sha256Checkpoint> Sha256Checkpoint::parse(std::string_view text) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos || text.size() - colon - 1 != 64) return std::nullopt;
  Sha256Checkpoint out;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + colon, out.bytes);
  if (ec != std::errc{} || end != text.data() + colon || out.bytes % 64 != 0) return std::nullopt;
  const std::string_view hex = text.substr(colon + 1);
  for (std::size_t i = 0; i < 8; ++i) {
    std::uint32_t word = 0;
    const auto [e, c] = std::from_chars(hex.data() + i * 8, hex.data() + i * 8 + 8, word, 16);
    if (c != std::errc{} || e != hex.data() + i * 8 + 8) return std::nullopt;
    out.h[i] = word;
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  Sha256 hash;
  hash.update(data);
  return hash.hex_digest();
}

}  // namespace mews_export::detail
