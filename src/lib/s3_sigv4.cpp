#include "s3_sigv4.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <initializer_list>
#include <stdexcept>
#include <utility>

#include "sha256.hpp"

namespace mews_export::s3 {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr std::string_view kTerminator = "aws4_request";

using Digest = std::array<unsigned char, 32>;

// --- characters ---------------------------------------------------------------

bool is_alnum(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool is_unreserved(char c) { return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~'; }

bool is_blank(char c) { return c == ' ' || c == '\t'; }

bool is_control(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return byte < 0x20 || byte == 0x7f;
}

char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), to_lower);
  return out;
}

bool all_of(std::string_view text, bool (*pred)(char)) { return std::all_of(text.begin(), text.end(), pred); }

bool any_of(std::string_view text, bool (*pred)(char)) { return std::any_of(text.begin(), text.end(), pred); }

// RFC 9110 token characters (header names).
bool is_tchar(char c) { return is_alnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos; }

bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

bool is_scope_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }

// Characters that would break the Authorization header's syntax.
bool is_key_id_breaker(char c) { return is_control(c) || c == ' ' || c == ',' || c == '/' || c == '='; }

// `value` trimmed, each inner run of blanks collapsed to one space.
std::string normalise_value(std::string_view value) {
  std::string out;
  bool pending_space = false;
  for (char c : value) {
    if (is_blank(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

// --- hashing ------------------------------------------------------------------

std::string to_hex(const Digest& digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(digest.size() * 2);
  for (unsigned char byte : digest) {
    out.push_back(kHex[byte >> 4]);
    out.push_back(kHex[byte & 0x0f]);
  }
  return out;
}

Digest hmac_sha256(const void* key, std::size_t key_size, std::string_view data) {
  Digest out{};
  std::size_t length = 0;
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key, key_size, bytes, data.size(), out.data(), out.size(),
                &length) == nullptr ||
      length != out.size()) {
    throw std::runtime_error("cannot compute HMAC-SHA256");
  }
  return out;
}

// HMAC("AWS4" + secret, date) -> region -> service -> "aws4_request", wiping
// each intermediate key.
Digest signing_key(std::string_view secret, std::string_view date, const Scope& scope) {
  std::string seed = "AWS4";
  seed += secret;
  Digest key = hmac_sha256(seed.data(), seed.size(), date);
  OPENSSL_cleanse(seed.data(), seed.size());
  for (std::string_view part : {std::string_view(scope.region), std::string_view(scope.service), kTerminator}) {
    const Digest next = hmac_sha256(key.data(), key.size(), part);
    OPENSSL_cleanse(key.data(), key.size());
    key = next;
  }
  return key;
}

// --- canonical form -------------------------------------------------------------

struct Canonical {
  CanonicalHeaders headers;
  std::string request;
};

Canonical canonicalize(const Request& request) {
  Headers all = request.headers;
  all.emplace_back("host", request.host);
  Canonical out{.headers = canonical_headers(all), .request = {}};
  out.request = request.method + '\n' + canonical_uri(request.path) + '\n' + canonical_query(request.query) + '\n' +
                out.headers.text + '\n' + out.headers.names + '\n' + request.payload_hash;
  return out;
}

std::string authorization(std::string_view access_key_id, std::string_view date, const Scope& scope,
                          std::string_view signed_names, std::string_view signature_hex) {
  std::string out(kAlgorithm);
  out += " Credential=";
  out += access_key_id;
  out += '/';
  out += credential_scope(date, scope);
  out += ",SignedHeaders=";
  out += signed_names;
  out += ",Signature=";
  out += signature_hex;
  return out;
}

// --- validation -------------------------------------------------------------------

std::unexpected<Error> refuse(std::string_view why) {
  return fail(ErrorKind::Usage, "cannot sign the S3 request: " + std::string(why));
}

// Names sign() adds itself, or that the caller must not sign twice.
bool is_reserved_header(std::string_view lower_name) {
  for (std::string_view reserved :
       {"host", "authorization", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token"}) {
    if (lower_name == reserved) return true;
  }
  return false;
}

bool is_payload_hash(std::string_view hash) {
  return hash == kUnsignedPayload || (hash.size() == 64 && all_of(hash, is_lower_hex));
}

Status check_credentials(const Credentials& credentials) {
  if (credentials.access_key_id.empty()) return refuse("the access key id is missing");
  if (any_of(credentials.access_key_id, is_key_id_breaker)) {
    return refuse("the access key id holds a space, ',', '/', '=' or a control character");
  }
  if (credentials.secret_access_key.empty()) return refuse("the secret access key is missing");
  if (any_of(credentials.session_token, is_control)) return refuse("the session token holds a control character");
  return {};
}

Status check_scope(const Scope& scope) {
  if (scope.region.empty() || !all_of(scope.region, is_scope_char)) {
    return refuse("the region must be lower-case letters, digits and '-' (e.g. us-east-1)");
  }
  if (scope.service.empty() || !all_of(scope.service, is_scope_char)) {
    return refuse("the service must be lower-case letters, digits and '-' (e.g. s3)");
  }
  return {};
}

Status check_headers(const Headers& headers) {
  for (const auto& [name, value] : headers) {
    if (name.empty() || !all_of(name, is_tchar)) return refuse("a header name is empty or not an HTTP token");
    if (is_reserved_header(lower(name))) return refuse("the header '" + name + "' is set by the signer");
    if (value.find_first_of("\r\n") != std::string::npos || value.find('\0') != std::string::npos) {
      return refuse("the value of header '" + name + "' holds a line break or NUL");
    }
  }
  return {};
}

Status check_request(const Request& request) {
  if (request.method.empty() || !all_of(request.method, [](char c) { return c >= 'A' && c <= 'Z'; })) {
    return refuse("the method must be upper-case letters (GET, PUT, ...)");
  }
  if (request.host.empty() || any_of(request.host, [](char c) { return is_control(c) || c == ' ' || c == '/'; })) {
    return refuse("the host is empty or holds a space, '/' or a control character");
  }
  if (request.path.empty() || request.path.front() != '/') return refuse("the path must start with '/'");
  if (!is_payload_hash(request.payload_hash)) {
    return refuse("the payload hash must be 64 lower-case hex digits or UNSIGNED-PAYLOAD");
  }
  return check_headers(request.headers);
}

// --- addressing -------------------------------------------------------------------

struct Endpoint {
  std::string scheme;  // "https" or "http"
  std::string host;    // "minio:9000", default port dropped, lower-cased
};

// The endpoint is never echoed: it might carry user info.
std::unexpected<Error> bad_endpoint() {
  return fail(ErrorKind::Usage,
              "the S3 endpoint must be https://host[:port] or http://host[:port], without user info, path or query");
}

bool is_authority_breaker(char c) {
  return is_control(c) || std::string_view(" /?#@\\").find(c) != std::string_view::npos;
}

// "host:443" -> "host" for https, "host:80" -> "host" for http.
std::string drop_default_port(std::string host, std::string_view scheme) {
  const std::string_view port = scheme == "https" ? ":443" : ":80";
  if (host.ends_with(port)) host.resize(host.size() - port.size());
  return host;
}

// A port, when present, is 1-5 digits after the last ':' that follows any ']' (IPv6).
bool has_valid_port(std::string_view host) {
  const auto colon = host.rfind(':');
  const auto bracket = host.rfind(']');
  if (colon == std::string_view::npos || (bracket != std::string_view::npos && colon < bracket)) return true;
  const auto port = host.substr(colon + 1);
  return !port.empty() && port.size() <= 5 && all_of(port, [](char c) { return c >= '0' && c <= '9'; });
}

Result<Endpoint> parse_endpoint(std::string_view endpoint) {
  const auto separator = endpoint.find("://");
  if (separator == std::string_view::npos) return bad_endpoint();
  const std::string scheme = lower(endpoint.substr(0, separator));
  std::string_view host = endpoint.substr(separator + 3);
  if (host.ends_with('/')) host.remove_suffix(1);
  if ((scheme != "https" && scheme != "http") || host.empty() || any_of(host, is_authority_breaker) ||
      host.front() == ':' || !has_valid_port(host)) {
    return bad_endpoint();
  }
  return Endpoint{.scheme = scheme, .host = drop_default_port(lower(host), scheme)};
}

Status check_key(std::string_view key) {
  std::size_t start = 0;
  while (start <= key.size()) {
    const auto end = std::min(key.find('/', start), key.size());
    const auto segment = key.substr(start, end - start);
    if (segment == "." || segment == "..") {
      return fail(ErrorKind::Usage,
                  "the S3 object key '" + std::string(key) + "' has a '.' or '..' segment, which HTTP clients rewrite");
    }
    start = end + 1;
  }
  return {};
}

// "/bucket/key", "/bucket" (empty key), "/key" or "/" (empty bucket).
std::string join_path(std::string_view bucket, std::string_view key) {
  std::string path;
  if (!bucket.empty()) path += "/" + std::string(bucket);
  if (!key.empty() || path.empty()) path += "/" + std::string(key);
  return path;
}

Address make_address(std::string_view scheme, std::string host, std::string path) {
  std::string url = std::string(scheme) + "://" + host + canonical_uri(path);
  return Address{.url = std::move(url), .host = std::move(host), .path = std::move(path)};
}

}  // namespace

namespace {
bool is_bucket_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'; }

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

}  // namespace

Status check_bucket(std::string_view bucket) {
  if (bucket.size() < 3 || bucket.size() > 63 || !all_of(bucket, is_bucket_char) || !is_lower_alnum(bucket.front()) ||
      !is_lower_alnum(bucket.back())) {
    return fail(ErrorKind::Usage, "the S3 bucket name '" + std::string(bucket) +
                                      "' is not valid: 3 to 63 characters of a-z, 0-9, '.' and '-', "
                                      "starting and ending with a letter or digit");
  }
  return {};
}

std::string uri_encode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (is_unreserved(c) || (keep_slash && c == '/')) {
      out.push_back(c);
      continue;
    }
    const auto byte = static_cast<unsigned char>(c);
    out.push_back('%');
    out.push_back(kHex[byte >> 4]);
    out.push_back(kHex[byte & 0x0f]);
  }
  return out;
}

std::string canonical_uri(std::string_view path) {
  std::string out = uri_encode(path, true);
  if (out.empty() || out.front() != '/') out.insert(out.begin(), '/');
  return out;
}

std::string canonical_query(const QueryParams& query) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(query.size());
  for (const auto& [name, value] : query) encoded.emplace_back(uri_encode(name, false), uri_encode(value, false));
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out += '&';
    out += name + '=' + value;
  }
  return out;
}

CanonicalHeaders canonical_headers(const Headers& headers) {
  std::vector<std::pair<std::string, std::string>> lines;
  lines.reserve(headers.size());
  for (const auto& [name, value] : headers) lines.emplace_back(lower(name), normalise_value(value));
  std::stable_sort(lines.begin(), lines.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  CanonicalHeaders out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const bool repeated = i > 0 && lines[i].first == lines[i - 1].first;
    if (repeated) {
      out.text.back() = ',';  // continue the previous line: "name:v1,v2"
    } else {
      if (!out.names.empty()) out.names += ';';
      out.names += lines[i].first;
      out.text += lines[i].first + ':';
    }
    out.text += lines[i].second + '\n';
  }
  return out;
}

std::string canonical_request(const Request& request) { return canonicalize(request).request; }

std::string amz_date(UtcTime time) {
  const auto day = std::chrono::floor<std::chrono::days>(time);
  const std::chrono::year_month_day ymd{day};
  const std::chrono::hh_mm_ss hms{time - day};
  std::array<char, 80> buffer{};
  std::snprintf(buffer.data(), buffer.size(), "%04d%02u%02uT%02d%02d%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buffer.data();
}

std::string credential_scope(std::string_view amz_date, const Scope& scope) {
  std::string out(amz_date.substr(0, 8));
  out += '/' + scope.region + '/' + scope.service + '/';
  out += kTerminator;
  return out;
}

std::string string_to_sign(std::string_view amz_date, const Scope& scope, std::string_view canonical_request) {
  std::string out(kAlgorithm);
  out += '\n';
  out += amz_date;
  out += '\n' + credential_scope(amz_date, scope) + '\n' + detail::sha256_hex(canonical_request);
  return out;
}

std::string signature(std::string_view secret, std::string_view amz_date, const Scope& scope,
                      std::string_view string_to_sign) {
  Digest key = signing_key(secret, amz_date.substr(0, 8), scope);
  const Digest mac = hmac_sha256(key.data(), key.size(), string_to_sign);
  OPENSSL_cleanse(key.data(), key.size());
  return to_hex(mac);
}

Result<Signed> sign(const Request& request, const Credentials& credentials, const Scope& scope, UtcTime time) {
  if (auto ok = check_credentials(credentials); !ok) return std::unexpected(ok.error());
  if (auto ok = check_scope(scope); !ok) return std::unexpected(ok.error());
  if (auto ok = check_request(request); !ok) return std::unexpected(ok.error());

  const std::string date = amz_date(time);
  Headers added = {{"x-amz-date", date}, {"x-amz-content-sha256", request.payload_hash}};
  if (!credentials.session_token.empty()) added.emplace_back("x-amz-security-token", credentials.session_token);
  Request full = request;
  full.headers.insert(full.headers.end(), added.begin(), added.end());

  const Canonical canonical = canonicalize(full);
  Signed out;
  out.canonical_request = canonical.request;
  out.string_to_sign = string_to_sign(date, scope, canonical.request);
  out.signature = signature(credentials.secret_access_key, date, scope, out.string_to_sign);
  out.headers.emplace_back(
      "Authorization", authorization(credentials.access_key_id, date, scope, canonical.headers.names, out.signature));
  out.headers.insert(out.headers.end(), added.begin(), added.end());
  return out;
}

std::string encode_key(std::string_view key) { return uri_encode(key, true); }

Result<Address> path_style_address(std::string_view endpoint, std::string_view bucket, std::string_view key) {
  auto parsed = parse_endpoint(endpoint);
  if (!parsed) return std::unexpected(parsed.error());
  if (auto ok = check_bucket(bucket); !ok) return std::unexpected(ok.error());
  if (auto ok = check_key(key); !ok) return std::unexpected(ok.error());
  return make_address(parsed->scheme, std::move(parsed->host), join_path(bucket, key));
}

Result<Address> virtual_hosted_address(std::string_view bucket, std::string_view region, std::string_view key) {
  if (region.empty() || !all_of(region, is_scope_char)) {
    return fail(ErrorKind::Usage, "the S3 region must be lower-case letters, digits and '-' (e.g. eu-west-1)");
  }
  if (auto ok = check_bucket(bucket); !ok) return std::unexpected(ok.error());
  if (bucket.find('.') != std::string_view::npos) {
    return fail(ErrorKind::Usage, "the S3 bucket name '" + std::string(bucket) +
                                      "' has a '.', which breaks TLS for virtual-hosted addressing; "
                                      "use path-style addressing (an endpoint URL)");
  }
  if (auto ok = check_key(key); !ok) return std::unexpected(ok.error());
  std::string host = std::string(bucket) + ".s3." + std::string(region) + ".amazonaws.com";
  return make_address("https", std::move(host), join_path({}, key));
}

std::string url_with_query(const Address& address, const QueryParams& query) {
  const std::string encoded = canonical_query(query);
  return encoded.empty() ? address.url : address.url + '?' + encoded;
}

}  // namespace mews_export::s3
