#include "mews_export/settings.hpp"

#include "files.hpp"
#include "mews_export/url.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace mews_export {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

Result<std::string> resolve_platform(const std::string& platform, bool allow_insecure_http) {
  const auto name = lower(platform);
  if (name == "demo") return std::string(kDemoAddress);
  if (name == "production") return std::string(kProductionAddress);
  std::string url = platform;
  while (!url.empty() && url.back() == '/') url.pop_back();
  const auto parts = parse_url(url);
  if (url.find("://") == std::string::npos || !parts || (parts->scheme != "http" && parts->scheme != "https") ||
      parts->host.empty()) {
    return fail(ErrorKind::Usage, "--platform '" + platform +
                                      "' is not demo, production or an http(s):// URL such as https://api.mews.com");
  }
  if (parts->scheme == "http" && !allow_insecure_http && !is_loopback_host(parts->host)) {
    return fail(ErrorKind::Usage, "--platform " + url +
                                      " uses plain http:// to a non-loopback host, which would send tokens "
                                      "unencrypted; use https:// or pass --allow-insecure-http");
  }
  return url;
}

std::filesystem::path expand_home(const std::string& path) {
  if (path == "~" || path.starts_with("~/")) {
    const char* home = std::getenv("HOME");
    if (home != nullptr) return std::filesystem::path(home) / path.substr(std::min<std::size_t>(2, path.size()));
  }
  return path;
}

Result<std::string> read_token_file(const std::filesystem::path& path, bool* world_readable) {
  const auto full = expand_home(path.string());
  struct stat info {};
  if (::stat(full.c_str(), &info) != 0) {
    return fail(ErrorKind::Usage, "token file " + full.string() + " does not exist or cannot be read");
  }
  if (!S_ISREG(info.st_mode)) {
    return fail(ErrorKind::Usage, "token file " + full.string() +
                                      " is not a regular file (a directory, FIFO or device?); give the file "
                                      "that holds only the token");
  }
  if (world_readable != nullptr) *world_readable = (info.st_mode & (S_IRGRP | S_IROTH)) != 0;
  auto content = detail::read_regular_file(full, kMaxTokenFileBytes);
  if (!content) {
    return fail(ErrorKind::Usage, "token file " + full.string() + ": " + content.error().message +
                                      " (a token file holds only the token, at most " +
                                      std::to_string(kMaxTokenFileBytes / 1024) + " KiB)");
  }
  std::string token = std::move(*content);
  const auto not_space = [](unsigned char c) { return !std::isspace(c); };
  token.erase(token.begin(), std::find_if(token.begin(), token.end(), not_space));
  token.erase(std::find_if(token.rbegin(), token.rend(), not_space).base(), token.end());
  if (token.empty()) return fail(ErrorKind::Usage, "token file " + full.string() + " is empty");
  if (token.find('\n') != std::string::npos) {
    return fail(ErrorKind::Usage,
                "token file " + full.string() + " holds more than one line; put only the token in it");
  }
  return token;
}

}  // namespace mews_export
