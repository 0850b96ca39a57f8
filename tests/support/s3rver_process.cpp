#include "support/s3rver_process.hpp"

#include <signal.h>

#include <chrono>
#include <regex>
#include <stdexcept>
#include <thread>

#include <httplib.h>
#include <pugixml.hpp>

namespace mews_export::testing {
namespace {

constexpr auto kStartTimeout = std::chrono::seconds(15);
constexpr int kStopTimeoutSeconds = 5;

// Percent-encodes every byte but RFC 3986 unreserved characters (and '/' when
// `keep_slash`).
std::string uri_encode(const std::string& text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '_' || c == '.' || c == '~' || (keep_slash && c == '/');
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0x0F];
    }
  }
  return out;
}

httplib::Client make_client(int port) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(30, 0);
  client.set_write_timeout(30, 0);
  client.set_url_encode(false);  // paths and queries are encoded here
  client.set_keep_alive(false);
  return client;
}

// The <Code> of an S3 error document ("" when there is none).
std::string error_code(const std::string& body) {
  pugi::xml_document doc;
  if (!doc.load_buffer(body.data(), body.size())) return "";
  return doc.child("Error").child("Code").text().as_string();
}

std::string describe(const std::string& what, const httplib::Result& res) {
  if (!res) return what + " failed: " + httplib::to_string(res.error());
  return what + " answered " + std::to_string(res->status) + ": " + res->body;
}

}  // namespace

std::string s3_path_encode(const std::string& key) { return uri_encode(key, true); }

S3rverProcess::S3rverProcess() {
  // s3rver's ListObjectsV2 makes its continuation tokens with DES, which
  // OpenSSL 3 only has in the legacy provider: without it every truncated
  // listing answers 500 InternalError ("digital envelope routines::unsupported").
  child_.start(
      {MEWS_S3RVER_BIN, "--directory", data_dir().string(), "--address", "127.0.0.1", "--port", "0", "--silent"},
      {{"NODE_OPTIONS", "--openssl-legacy-provider"}});

  auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  auto fail = [this](const std::string& why) {
    std::string out = output();
    stop();
    throw std::runtime_error("s3rver " + why + ": " + out);
  };
  static const std::regex listening(R"(S3rver listening on [^\s:]+:(\d+))");
  while (port_ == 0) {
    std::smatch match;
    std::string out = child_.stdout_text();
    if (std::regex_search(out, match, listening)) {
      port_ = std::stoi(match[1].str());
      break;
    }
    if (!child_.running()) fail("exited early");
    if (std::chrono::steady_clock::now() >= deadline) fail("did not report its port within 15 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  endpoint_ = "http://127.0.0.1:" + std::to_string(port_);

  while (true) {
    auto client = make_client(port_);
    client.set_connection_timeout(1, 0);
    auto res = client.Get("/");
    if (res && res->status == 200) break;
    if (!child_.running()) fail("exited early");
    if (std::chrono::steady_clock::now() >= deadline) fail("did not answer GET / within 15 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

S3rverProcess::~S3rverProcess() { stop(); }

int S3rverProcess::stop() {
  if (stopped_) return -1;
  stopped_ = true;
  if (!child_.running()) return child_.wait(0).exit_code;
  child_.send(SIGTERM);
  return child_.wait(kStopTimeoutSeconds).exit_code;
}

std::string S3rverProcess::output() const { return child_.stdout_text() + child_.stderr_text(); }

void S3rverProcess::create_bucket(const std::string& bucket) const {
  auto client = make_client(port_);
  auto res = client.Put("/" + uri_encode(bucket, false), "", "application/octet-stream");
  if (!res || res->status != 200) throw std::runtime_error(describe("PUT /" + bucket, res));
}

void S3rverProcess::put(const std::string& bucket, const std::string& key, const std::string& bytes) const {
  auto client = make_client(port_);
  auto res = client.Put("/" + uri_encode(bucket, false) + "/" + s3_path_encode(key), bytes, "application/octet-stream");
  if (!res || res->status != 200) throw std::runtime_error(describe("PUT /" + bucket + "/" + key, res));
}

std::optional<std::string> S3rverProcess::get(const std::string& bucket, const std::string& key) const {
  auto client = make_client(port_);
  auto res = client.Get("/" + uri_encode(bucket, false) + "/" + s3_path_encode(key));
  if (res && res->status == 200) return res->body;
  if (res && res->status == 404 && error_code(res->body) == "NoSuchKey") return std::nullopt;
  throw std::runtime_error(describe("GET /" + bucket + "/" + key, res));
}

std::vector<std::string> S3rverProcess::keys(const std::string& bucket, const std::string& prefix,
                                             int page_size) const {
  if (page_size < 1 || page_size > 1000) throw std::invalid_argument("S3rverProcess::keys: page_size not in 1..1000");
  std::vector<std::string> out;
  std::string token;
  auto client = make_client(port_);
  while (true) {
    std::string target = "/" + uri_encode(bucket, false) + "?list-type=2&max-keys=" + std::to_string(page_size);
    if (!prefix.empty()) target += "&prefix=" + uri_encode(prefix, false);
    if (!token.empty()) target += "&continuation-token=" + uri_encode(token, false);
    auto res = client.Get(target);
    if (!res || res->status != 200) throw std::runtime_error(describe("GET " + target, res));
    pugi::xml_document doc;
    if (!doc.load_buffer(res->body.data(), res->body.size()))
      throw std::runtime_error("GET " + target + ": not XML: " + res->body);
    auto result = doc.child("ListBucketResult");
    if (!result) throw std::runtime_error("GET " + target + ": no ListBucketResult: " + res->body);
    for (auto contents : result.children("Contents")) out.emplace_back(contents.child("Key").text().as_string());
    if (!result.child("IsTruncated").text().as_bool()) break;
    token = result.child("NextContinuationToken").text().as_string();
    if (token.empty()) throw std::runtime_error("GET " + target + ": truncated without NextContinuationToken");
  }
  return out;
}

}  // namespace mews_export::testing
