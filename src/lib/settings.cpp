#include "mews_export/settings.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace mews_export {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// The host part of an http(s) URL, lower case, without brackets or port.
std::string url_host(const std::string& url) {
  auto rest = url.substr(url.find("://") == std::string::npos ? 0 : url.find("://") + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (const auto at = rest.rfind('@'); at != std::string::npos) rest = rest.substr(at + 1);
  if (!rest.empty() && rest.front() == '[') return lower(rest.substr(1, rest.find(']') - 1));
  return lower(rest.substr(0, rest.find(':')));
}

}  // namespace

bool is_loopback_url(const std::string& url) {
  const auto host = url_host(url);
  if (host == "localhost" || host == "::1") return true;
  if (!host.starts_with("127.")) return false;
  int dots = 0;
  for (const char c : host) {
    if (c == '.') {
      ++dots;
    } else if (!std::isdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return dots == 3;
}

Result<std::string> resolve_platform(const std::string& platform, bool allow_insecure_http) {
  const auto name = lower(platform);
  if (name == "demo") return std::string(kDemoAddress);
  if (name == "production") return std::string(kProductionAddress);
  std::string url = platform;
  while (!url.empty() && url.back() == '/') url.pop_back();
  const auto scheme = lower(url.substr(0, url.find("://")));
  if (url.find("://") == std::string::npos || (scheme != "http" && scheme != "https") || url_host(url).empty()) {
    return fail(ErrorKind::Usage, "--platform '" + platform +
                                      "' is not demo, production or an http(s):// URL such as https://api.mews.com");
  }
  if (scheme == "http" && !allow_insecure_http && !is_loopback_url(url)) {
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
  if (world_readable != nullptr) *world_readable = (info.st_mode & (S_IRGRP | S_IROTH)) != 0;
  std::ifstream in(full, std::ios::binary);
  if (!in) return fail(ErrorKind::Usage, "token file " + full.string() + " cannot be read (permissions?)");
  std::ostringstream content;
  content << in.rdbuf();
  std::string token = content.str();
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
