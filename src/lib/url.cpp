#include "mews_export/url.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <memory>

#include "mews_export/redact.hpp"

namespace mews_export {
namespace {

struct UrlDeleter {
  void operator()(CURLU* url) const { curl_url_cleanup(url); }
};
using UrlHandle = std::unique_ptr<CURLU, UrlDeleter>;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// The part `which` of `url`, or "" when it has none.
std::string part(CURLU* url, CURLUPart which) {
  char* value = nullptr;
  if (curl_url_get(url, which, &value, 0) != CURLUE_OK || value == nullptr) return {};
  std::string out(value);
  curl_free(value);
  return out;
}

// `text` parsed by libcurl (any scheme accepted), or null.
UrlHandle parse(std::string_view text, CURLU* base = nullptr) {
  UrlHandle url(base != nullptr ? curl_url_dup(base) : curl_url());
  if (!url || text.empty() || text.find('\0') != std::string_view::npos) return nullptr;
  const std::string copy(text);
  if (curl_url_set(url.get(), CURLUPART_URL, copy.c_str(), CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) return nullptr;
  return url;
}

std::unexpected<Error> unusable(std::string_view url, const std::string& why) {
  const std::string shown = url.empty() ? std::string("an empty URL") : "'" + redact_url(url) + "'";
  return fail(ErrorKind::Protocol, shown + " cannot be downloaded: " + why);
}

}  // namespace

Result<UrlParts> parse_url(std::string_view text) {
  auto url = parse(text);
  if (!url) return fail(ErrorKind::Protocol, "'" + redact_url(text) + "' is not an absolute URL");
  std::string host = lower(part(url.get(), CURLUPART_HOST));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  UrlParts parts;
  parts.scheme = lower(part(url.get(), CURLUPART_SCHEME));
  parts.host = std::move(host);
  return parts;
}

bool is_loopback_host(std::string_view host) {
  if (host == "localhost" || host == "::1") return true;
  if (!host.starts_with("127.")) return false;
  const auto dots = std::count(host.begin(), host.end(), '.');
  return dots == 3 && std::all_of(host.begin(), host.end(),
                                  [](char c) { return c == '.' || std::isdigit(static_cast<unsigned char>(c)); });
}

bool is_loopback_url(std::string_view url) {
  const auto parts = parse_url(url);
  return parts && is_loopback_host(parts->host);
}

Result<std::string> resolve_url(std::string_view base, std::string_view reference) {
  auto from = parse(base);
  if (!from) return fail(ErrorKind::Protocol, "'" + redact_url(base) + "' is not an absolute URL");
  auto to = parse(reference, from.get());
  if (!to) return fail(ErrorKind::Protocol, "the redirect target '" + redact_url(reference) + "' is not a URL");
  return part(to.get(), CURLUPART_URL);
}

Status check_download_url(std::string_view url, bool allow_insecure_http) {
  const auto parts = parse_url(url);
  if (!parts) return unusable(url, "it is not an absolute URL");
  if (parts->host.empty()) return unusable(url, "it names no host");
  if (parts->scheme == "https") return {};
  if (parts->scheme != "http") return unusable(url, "only https:// (or http:// to this machine) is fetched");
  if (allow_insecure_http || is_loopback_host(parts->host)) return {};
  return unusable(url,
                  "plain http:// to another host would travel unencrypted; pass --allow-insecure-http to allow it");
}

}  // namespace mews_export
