#include "signer.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "util.hpp"

namespace mews_sandbox {

UrlSigner::UrlSigner(std::size_t padding) : padding_(padding > 0 ? "&pad=" + std::string(padding, 'x') : "") {
  if (RAND_bytes(key_, sizeof key_) == 1) return;
  std::uint64_t v = static_cast<std::uint64_t>(now_unix()) ^ reinterpret_cast<std::uintptr_t>(this);
  for (std::size_t i = 0; i < sizeof key_; ++i) key_[i] = static_cast<unsigned char>(v >> ((i % 8) * 8));
}

std::string UrlSigner::sign(const std::string& path, std::int64_t expires) const {
  std::string data = path + "\n" + std::to_string(expires);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key_, sizeof key_, reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  return hex(mac, len);
}

std::string UrlSigner::url(const std::string& host, const std::string& path, std::int64_t expires) const {
  return "http://" + host + path + query(path, expires);
}

std::string UrlSigner::query(const std::string& path, std::int64_t expires) const {
  return "?expires=" + std::to_string(expires) + "&signature=" + sign(path, expires) + padding_;
}

}  // namespace mews_sandbox
