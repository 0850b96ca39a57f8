// A small in-memory S3 for unit tests, served as a FakeTransport route:
// path-style requests under an endpoint ("http://127.0.0.1:9/BUCKET/KEY?...")
// for PutObject, GetObject, HeadObject, DeleteObject and the multipart calls
// (CreateMultipartUpload, UploadPart, CompleteMultipartUpload, Abort). It
// checks that each request is signed (SigV4 header present, payload hash
// right), records what it received and what it wrote, and can be told to
// fail given requests or to forget an upload (NoSuchUpload afterwards).
#pragma once

#include <openssl/evp.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "support/fake_transport.hpp"

namespace mews_export::testing {

class FakeS3 {
 public:
  static constexpr const char* kEndpoint = "http://127.0.0.1:9/";

  // One request as the store understood it.
  struct Received {
    std::string operation;  // "PutObject", "UploadPart", ... ("Unknown" otherwise)
    std::string bucket;
    std::string key;
    int part_number = 0;    // UploadPart
    std::string upload_id;  // the multipart calls but Create
    std::size_t body_size = 0;
    int status = 0;  // what the store answered
  };

  // Makes matching requests fail (before they have any effect).
  struct Fault {
    std::string operation;   // as in Received
    std::string key_suffix;  // the key ends with it ("" any)
    int part_number = 0;     // UploadPart: this part only (0 any)
    int status = 403;
    std::string code = "AccessDenied";
    int times = 1;  // requests it fails; -1: every one
  };

  // One multipart upload in progress.
  struct Upload {
    std::string bucket;
    std::string key;
    std::map<int, std::pair<std::string, std::string>> parts;  // number -> (ETag, bytes)
  };

  explicit FakeS3(FakeTransport& transport, std::string endpoint = kEndpoint, std::set<std::string> buckets = {"lake"})
      : endpoint_(std::move(endpoint)), buckets_(std::move(buckets)) {
    transport.on(endpoint_, [this](const HttpRequest& r, const BodySink* sink) { return handle(r, sink); });
  }
  FakeS3(const FakeS3&) = delete;
  FakeS3& operator=(const FakeS3&) = delete;

  void fail(Fault fault) {
    std::lock_guard lock(mutex_);
    faults_.push_back(std::move(fault));
  }
  // The store loses the upload (aborted elsewhere, or expired by a lifecycle
  // rule): its parts are gone and its id answers NoSuchUpload.
  void forget_upload(const std::string& upload_id) {
    std::lock_guard lock(mutex_);
    uploads_.erase(upload_id);
  }

  std::optional<std::string> object(const std::string& bucket, const std::string& key) const {
    std::lock_guard lock(mutex_);
    const auto it = objects_.find({bucket, key});
    if (it == objects_.end()) return std::nullopt;
    return it->second;
  }
  void put(const std::string& bucket, const std::string& key, std::string data) {
    std::lock_guard lock(mutex_);
    objects_[{bucket, key}] = std::move(data);
  }
  std::vector<std::string> keys(const std::string& bucket) const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& [where, data] : objects_) {
      if (where.first == bucket) out.push_back(where.second);
    }
    return out;
  }
  // Keys in the order their objects were written (PutObject, CompleteMultipartUpload).
  std::vector<std::string> writes() const {
    std::lock_guard lock(mutex_);
    return writes_;
  }
  // Uploads in progress, by id.
  std::map<std::string, Upload> uploads() const {
    std::lock_guard lock(mutex_);
    return uploads_;
  }
  // The id of the upload in progress into `key` ("" when none).
  std::string upload_id_of(const std::string& key) const {
    std::lock_guard lock(mutex_);
    for (const auto& [id, upload] : uploads_) {
      if (upload.key == key) return id;
    }
    return {};
  }
  std::vector<Received> received() const {
    std::lock_guard lock(mutex_);
    return received_;
  }
  // Requests for `operation` whose key ends with `key_suffix` (and of part
  // `part_number` when not 0), whatever the answer.
  std::size_t count(const std::string& operation, const std::string& key_suffix = "", int part_number = 0) const {
    std::lock_guard lock(mutex_);
    return static_cast<std::size_t>(std::count_if(received_.begin(), received_.end(), [&](const Received& r) {
      return r.operation == operation && r.key.ends_with(key_suffix) &&
             (part_number == 0 || r.part_number == part_number);
    }));
  }
  // The same, only those the store accepted (2xx).
  std::size_t accepted(const std::string& operation, const std::string& key_suffix = "", int part_number = 0) const {
    std::lock_guard lock(mutex_);
    return static_cast<std::size_t>(std::count_if(received_.begin(), received_.end(), [&](const Received& r) {
      return r.operation == operation && r.key.ends_with(key_suffix) &&
             (part_number == 0 || r.part_number == part_number) && r.status >= 200 && r.status < 300;
    }));
  }

  static std::string sha256(std::string_view data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < size; ++i) {
      out.push_back(kHex[digest[i] >> 4]);
      out.push_back(kHex[digest[i] & 0x0f]);
    }
    return out;
  }

 private:
  struct Answer {
    int status = 200;
    std::string body;
    std::map<std::string, std::string> headers;
  };

  static std::string decode(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '%' && i + 2 < text.size()) {
        out.push_back(static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
        i += 2;
      } else {
        out.push_back(text[i]);
      }
    }
    return out;
  }

  static std::string xml_unescape(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] != '&') {
        out.push_back(text[i]);
        continue;
      }
      const auto end = text.find(';', i);
      const auto entity = text.substr(i, end - i + 1);
      if (entity == "&quot;") out.push_back('"');
      if (entity == "&amp;") out.push_back('&');
      if (entity == "&lt;") out.push_back('<');
      if (entity == "&gt;") out.push_back('>');
      if (entity == "&apos;") out.push_back('\'');
      i = end;
    }
    return out;
  }

  static Answer error(int status, const std::string& code, const std::string& resource = "") {
    return Answer{.status = status,
                  .body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + code + "</Code><Message>" +
                          code + " (fake)</Message><Resource>" + resource +
                          "</Resource><RequestId>FAKE0001</RequestId></Error>",
                  .headers = {{"x-amz-request-id", "FAKE0001"}}};
  }

  // The (number, ETag) pairs of a CompleteMultipartUpload body, in order.
  static std::vector<std::pair<int, std::string>> listed_parts(const std::string& body) {
    std::vector<std::pair<int, std::string>> out;
    std::size_t at = 0;
    while ((at = body.find("<Part>", at)) != std::string::npos) {
      const auto end = body.find("</Part>", at);
      const std::string part = body.substr(at, end - at);
      const auto field = [&](const std::string& name) {
        const auto open = part.find("<" + name + ">");
        const auto close = part.find("</" + name + ">");
        if (open == std::string::npos || close == std::string::npos) return std::string();
        return xml_unescape(part.substr(open + name.size() + 2, close - open - name.size() - 2));
      };
      const std::string number = field("PartNumber");
      out.emplace_back(number.empty() ? 0 : std::stoi(number), field("ETag"));
      at = end;
    }
    return out;
  }

  Result<HttpResponse> handle(const HttpRequest& request, const BodySink* sink) {
    Answer answer;
    {
      std::lock_guard lock(mutex_);
      answer = serve(request);
    }
    return respond(sink, answer.status, std::move(answer.body), std::move(answer.headers), 64 * 1024);
  }

  Answer serve(const HttpRequest& request) {
    std::string_view rest = std::string_view(request.url).substr(endpoint_.size());
    std::string_view query_text;
    if (const auto q = rest.find('?'); q != std::string_view::npos) {
      query_text = rest.substr(q + 1);
      rest = rest.substr(0, q);
    }
    std::map<std::string, std::string> query;
    while (!query_text.empty()) {
      const auto amp = std::min(query_text.find('&'), query_text.size());
      // A std::string: GCC 12 at -O2 misreads find() on this string_view (-Wstringop-overread).
      const std::string pair(query_text.substr(0, amp));
      const auto eq = pair.find('=');
      query[decode(pair.substr(0, eq))] = eq == std::string::npos ? "" : decode(pair.substr(eq + 1));
      query_text.remove_prefix(std::min(amp + 1, query_text.size()));
    }
    Received r;
    const auto slash = std::min(rest.find('/'), rest.size());
    r.bucket = decode(rest.substr(0, slash));
    r.key = slash < rest.size() ? decode(rest.substr(slash + 1)) : "";
    r.body_size = request.body.size();
    const std::string& m = request.method;
    if (query.contains("uploadId")) r.upload_id = query.at("uploadId");
    if (m == "PUT" && query.contains("partNumber")) {
      r.operation = "UploadPart";
      r.part_number = std::stoi(query.at("partNumber"));
    } else if (m == "PUT") {
      r.operation = "PutObject";
    } else if (m == "POST" && query.contains("uploads")) {
      r.operation = "CreateMultipartUpload";
    } else if (m == "POST" && query.contains("uploadId")) {
      r.operation = "CompleteMultipartUpload";
    } else if (m == "DELETE" && query.contains("uploadId")) {
      r.operation = "AbortMultipartUpload";
    } else if (m == "DELETE") {
      r.operation = "DeleteObject";
    } else if (m == "GET") {
      r.operation = "GetObject";
    } else if (m == "HEAD") {
      r.operation = "HeadObject";
    } else {
      r.operation = "Unknown";
    }
    Answer answer = perform(request, r);
    r.status = answer.status;
    received_.push_back(std::move(r));
    return answer;
  }

  Answer perform(const HttpRequest& request, const Received& r) {
    // Signed, and for the body sent.
    const auto auth = request.headers.find("Authorization");
    if (auth == request.headers.end() || !auth->second.starts_with("AWS4-HMAC-SHA256 Credential=")) {
      return error(403, "AccessDenied");
    }
    const auto hash = request.headers.find("x-amz-content-sha256");
    if (hash == request.headers.end() || hash->second != sha256(request.body)) {
      return error(400, "XAmzContentSHA256Mismatch");
    }
    for (auto& f : faults_) {
      if (f.times == 0 || f.operation != r.operation || !r.key.ends_with(f.key_suffix)) continue;
      if (f.part_number != 0 && f.part_number != r.part_number) continue;
      if (f.times > 0) --f.times;
      return error(f.status, f.code, "/" + r.bucket + "/" + r.key);
    }
    if (!buckets_.contains(r.bucket)) return error(404, "NoSuchBucket", "/" + r.bucket);
    if (r.key.empty() || r.operation == "Unknown") return error(400, "NotImplemented");
    const std::pair<std::string, std::string> where{r.bucket, r.key};
    const auto upload = r.upload_id.empty() ? uploads_.end() : uploads_.find(r.upload_id);
    const bool known_upload =
        upload != uploads_.end() && upload->second.bucket == r.bucket && upload->second.key == r.key;
    if (r.operation == "PutObject") {
      objects_[where] = request.body;
      writes_.push_back(r.key);
      return Answer{.status = 200, .body = "", .headers = {{"etag", "\"" + sha256(request.body).substr(0, 32) + "\""}}};
    }
    if (r.operation == "GetObject" || r.operation == "HeadObject") {
      const auto it = objects_.find(where);
      if (it == objects_.end()) {
        if (r.operation == "HeadObject") return Answer{.status = 404, .body = "", .headers = {}};
        return error(404, "NoSuchKey", "/" + r.bucket + "/" + r.key);
      }
      if (r.operation == "HeadObject") {
        return Answer{.status = 200, .body = "", .headers = {{"content-length", std::to_string(it->second.size())}}};
      }
      return Answer{.status = 200, .body = it->second, .headers = {}};
    }
    if (r.operation == "DeleteObject") {
      objects_.erase(where);
      return Answer{.status = 204, .body = "", .headers = {}};
    }
    if (r.operation == "CreateMultipartUpload") {
      const std::string id = "upload-" + std::to_string(++next_upload_);
      uploads_[id] = Upload{.bucket = r.bucket, .key = r.key, .parts = {}};
      return Answer{.status = 200,
                    .body =
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<InitiateMultipartUploadResult "
                        "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>" +
                        r.bucket + "</Bucket><Key>" + r.key + "</Key><UploadId>" + id +
                        "</UploadId></InitiateMultipartUploadResult>",
                    .headers = {}};
    }
    if (!known_upload) return error(404, "NoSuchUpload", "/" + r.bucket + "/" + r.key);
    if (r.operation == "AbortMultipartUpload") {
      uploads_.erase(upload);
      return Answer{.status = 204, .body = "", .headers = {}};
    }
    if (r.operation == "UploadPart") {
      if (r.part_number < 1 || r.part_number > 10000) return error(400, "InvalidArgument");
      const std::string etag = "\"" + sha256(request.body).substr(0, 32) + "\"";
      upload->second.parts[r.part_number] = {etag, request.body};
      return Answer{.status = 200, .body = "", .headers = {{"etag", etag}}};
    }
    // CompleteMultipartUpload: the listed parts, ascending, each as uploaded;
    // all but the last at least 5 MiB.
    const auto listed = listed_parts(request.body);
    if (listed.empty()) return error(400, "MalformedXML");
    std::string data;
    for (std::size_t i = 0; i < listed.size(); ++i) {
      const auto& [number, etag] = listed[i];
      if (i > 0 && number <= listed[i - 1].first) return error(400, "InvalidPartOrder");
      const auto part = upload->second.parts.find(number);
      if (part == upload->second.parts.end() || part->second.first != etag) return error(400, "InvalidPart");
      if (i + 1 < listed.size() && part->second.second.size() < (std::size_t{5} << 20)) {
        return error(400, "EntityTooSmall");
      }
      data += part->second.second;
    }
    const std::string etag = "\"" + sha256(data).substr(0, 32) + "-" + std::to_string(listed.size()) + "\"";
    objects_[where] = std::move(data);
    writes_.push_back(r.key);
    uploads_.erase(upload);
    return Answer{.status = 200,
                  .body =
                      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUploadResult "
                      "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Location>" +
                      endpoint_ + r.bucket + "/" + r.key + "</Location><Bucket>" + r.bucket + "</Bucket><Key>" + r.key +
                      "</Key><ETag>" + etag + "</ETag></CompleteMultipartUploadResult>",
                  .headers = {}};
  }

  const std::string endpoint_;
  const std::set<std::string> buckets_;
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, std::string> objects_;  // (bucket, key) -> bytes
  std::map<std::string, Upload> uploads_;
  std::vector<Fault> faults_;
  std::vector<Received> received_;
  std::vector<std::string> writes_;
  int next_upload_ = 0;
};

}  // namespace mews_export::testing
