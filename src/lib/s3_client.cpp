#include "s3_client.hpp"

#include <algorithm>
#include <charconv>
#include <utility>

#include "mews_export/url.hpp"
#include "sha256.hpp"

namespace mews_export {

// --------------------------------------------------------------- locations

S3Location S3Location::child(std::string_view name) const {
  S3Location out = *this;
  out.prefix = key(name);
  return out;
}

std::string S3Location::key(std::string_view name) const {
  if (prefix.empty()) return std::string(name);
  return prefix + "/" + std::string(name);
}

std::string S3Location::display() const { return "s3://" + bucket + (prefix.empty() ? "" : "/" + prefix); }

bool is_s3_url(std::string_view text) { return text.starts_with("s3://") || text.starts_with("S3://"); }

Result<S3Location> parse_s3_url(std::string_view text) {
  if (!is_s3_url(text)) return fail(ErrorKind::Usage, "an object-storage location is written s3://BUCKET/PREFIX");
  text.remove_prefix(5);
  while (text.ends_with('/')) text.remove_suffix(1);
  const auto slash = text.find('/');
  S3Location location;
  location.bucket = std::string(text.substr(0, slash));
  if (auto ok = s3::check_bucket(location.bucket); !ok) return std::unexpected(ok.error());
  if (slash == std::string_view::npos) return location;
  const std::string_view prefix = text.substr(slash + 1);
  std::size_t start = 0;
  while (start <= prefix.size()) {
    const auto end = std::min(prefix.find('/', start), prefix.size());
    const auto segment = prefix.substr(start, end - start);
    if (segment.empty() || segment == "." || segment == "..") {
      return fail(ErrorKind::Usage, "the prefix of s3://" + location.bucket +
                                        "/... has an empty, '.' or '..' segment: write s3://BUCKET/a/b");
    }
    start = end + 1;
  }
  if (std::any_of(prefix.begin(), prefix.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == '\\'; })) {
    return fail(ErrorKind::Usage, "the prefix of s3://" + location.bucket + "/... holds a control character or '\\'");
  }
  location.prefix = std::string(prefix);
  return location;
}

}  // namespace mews_export

namespace mews_export::s3 {
namespace {

bool one_of(std::string_view code, std::initializer_list<std::string_view> codes) {
  return std::find(codes.begin(), codes.end(), code) != codes.end();
}

// What the store said, quoted briefly: its code, message and request id.
// (describe() adds the HTTP status.)
std::string quoted(const ErrorResponse& e) {
  std::string out = e.code.empty() ? std::string("no error code") : e.code;
  if (!e.message.empty()) out += ": " + e.message.substr(0, 200);
  if (!e.request_id.empty()) out += "; request id " + e.request_id;
  return "(" + out + ")";
}

// Collects a 2xx body up to a limit (an object we read back), and an error's
// body as the transport does.
class AnswerSink {
 public:
  explicit AnswerSink(std::size_t limit) : limit_(limit) {
    sink.on_head = [this](const HttpResponse& head) {
      return head.status >= 200 && head.status < 300 ? BodyAction::Receive : BodyAction::Collect;
    };
    sink.on_data = [this](std::string_view chunk) {
      if (body.size() + chunk.size() > limit_) {
        too_large = true;
        return false;
      }
      body.append(chunk);
      return true;
    };
  }
  BodySink sink;
  std::string body;
  bool too_large = false;

 private:
  std::size_t limit_;
};

std::optional<std::uint64_t> content_length(const HttpResponse& response) {
  const auto value = response.header("content-length");
  if (!value) return std::nullopt;
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), n);
  if (ec != std::errc{} || end != value->data() + value->size()) return std::nullopt;
  return n;
}

}  // namespace

Error error_from_answer(const HttpResponse& response, const std::string& what, std::string_view region, UtcTime now) {
  const int status = response.status;
  ErrorResponse e = parse_error(response.body).value_or(ErrorResponse{});
  if (e.request_id.empty()) e.request_id = response.header("x-amz-request-id").value_or("");
  if (e.region.empty()) e.region = response.header("x-amz-bucket-region").value_or("");
  Error error{.kind = ErrorKind::Io, .http_status = status, .request_id = e.request_id};
  const std::string said = quoted(e);
  const bool wrong_region = status == 301 || one_of(e.code, {"PermanentRedirect", "AuthorizationHeaderMalformed",
                                                             "IllegalLocationConstraintException"});
  if (wrong_region && (!e.region.empty() || status == 301 || e.code == "PermanentRedirect")) {
    error.message = what + ": the bucket is not in region " + std::string(region) +
                    (e.region.empty() ? std::string(" (or needs another endpoint)")
                                      : "; it is in " + e.region + ": set AWS_REGION=" + e.region) +
                    " " + said;
  } else if (e.code == "NoSuchBucket") {
    error.message =
        what + ": the bucket does not exist: create it, or correct the bucket in -o s3://BUCKET/PREFIX " + said;
  } else if (status == 401 || status == 403 ||
             one_of(e.code, {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
                             "InvalidToken", "TokenRefreshRequired", "AccountProblem", "AllAccessDisabled"})) {
    error.kind = ErrorKind::Refused;
    error.message = what +
                    ": the store refused the request: check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and "
                    "AWS_SESSION_TOKEN), the region and the bucket's policy " +
                    said;
  } else if (status == 404 || one_of(e.code, {"NoSuchUpload", "NoSuchKey"})) {
    error.kind = ErrorKind::NotFound;
    error.message = what + ": not found " + said;
  } else if (is_retryable_status(status) ||
             one_of(e.code, {"SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout"})) {
    error.kind = ErrorKind::Api;
    if (!is_retryable_status(status)) error.http_status = 503;  // RequestTimeout comes as 400: retry it all the same
    error.message = what + ": the store is busy or failing " + said;
    if (const auto after = response.header("retry-after")) {
      if (const auto seconds = parse_retry_after(*after, now)) error.retry_after_seconds = seconds->count();
    }
  } else {
    error.message = what + ": the store refused the request " + said;
  }
  return error;
}

Client::Client(HttpTransport& transport, Clock& clock, S3Store store, ClientOptions options)
    : transport_(transport), clock_(clock), store_(std::move(store)), options_(std::move(options)) {}

Result<Address> Client::address_of(const Call& call) const {
  auto address = store_.endpoint.empty() ? virtual_hosted_address(call.bucket, store_.region, call.key)
                                         : path_style_address(store_.endpoint, call.bucket, call.key);
  if (!address) return address;
  if (auto ok = check_download_url(address->url, options_.allow_insecure_http); !ok) {
    return fail(ErrorKind::Usage, "the S3 endpoint " + store_.endpoint +
                                      " is plain http:// to another host: use https://, or pass "
                                      "--allow-insecure-http to allow it");
  }
  return address;
}

Result<HttpResponse> Client::attempt(Call& call, const Address& address, const std::string& payload_hash) {
  Request to_sign{.method = call.method,
                  .host = address.host,
                  .path = address.path,
                  .query = call.query,
                  .headers = {},
                  .payload_hash = payload_hash};
  auto signed_request = sign(to_sign,
                             Credentials{.access_key_id = store_.access_key_id,
                                         .secret_access_key = store_.secret_access_key,
                                         .session_token = store_.session_token},
                             Scope{.region = store_.region}, utc_now(clock_));
  if (!signed_request) return std::unexpected(signed_request.error());
  HttpRequest request;
  request.method = call.method;
  request.url = url_with_query(address, call.query);
  for (const auto& [name, value] : signed_request->headers) request.headers[name] = value;
  if (call.method == "PUT" || call.method == "POST") request.headers["Content-Type"] = "application/octet-stream";
  request.body = std::move(call.body);  // a part is 8 MiB: lent, not copied
  request.low_speed_time = options_.stall_timeout;
  AnswerSink answer(call.max_answer);
  auto response = transport_.perform(request, &answer.sink);
  call.body = std::move(request.body);  // for the next attempt
  if (answer.too_large) {
    return fail(ErrorKind::Protocol, call.what + ": the answer is larger than " + std::to_string(call.max_answer) +
                                         " bytes; refusing to read it");
  }
  if (!response) {
    Error error = response.error();
    if (error.kind != ErrorKind::Interrupted) error.message = call.what + ": " + error.message;
    return std::unexpected(error);
  }
  if (response->status >= 200 && response->status < 300) response->body = std::move(answer.body);
  return response;
}

Result<HttpResponse> Client::send(Call& call, bool allow_404) {
  auto address = address_of(call);
  if (!address) return std::unexpected(address.error());
  const std::string payload_hash = detail::sha256_hex(call.body);
  RetryBudget budget(options_.retry, clock_);
  for (;;) {
    auto response = attempt(call, *address, payload_hash);
    const bool ok = response && response->status >= 200 && response->status < 300;
    if (ok && !(call.ok_may_carry_error && parse_error(response->body))) return response;
    if (response && response->status == 404 && allow_404) return response;
    Error error = response ? error_from_answer(*response, call.what, store_.region, utc_now(clock_)) : response.error();
    if (auto final_error = budget.retry_or_give_up(std::move(error), call.what, options_.on_retry)) {
      return std::unexpected(std::move(*final_error));
    }
  }
}

namespace {
std::string where(const std::string& action, const std::string& bucket, const std::string& key) {
  return action + " s3://" + bucket + "/" + key;
}
}  // namespace

Result<std::optional<std::string>> Client::get_object(const std::string& bucket, const std::string& key,
                                                      std::size_t max_bytes) {
  Call call{.method = "GET", .bucket = bucket, .key = key, .what = where("GetObject", bucket, key)};
  call.max_answer = max_bytes;
  auto response = send(call, /*allow_404=*/true);
  if (!response) return std::unexpected(response.error());
  if (response->status == 404) {
    const auto e = parse_error(response->body);
    if (e && e->code == "NoSuchBucket") return std::unexpected(error_from_answer(*response, call.what, "", {}));
    return std::optional<std::string>{};
  }
  return std::optional<std::string>(std::move(response->body));
}

Result<std::optional<std::uint64_t>> Client::head_object(const std::string& bucket, const std::string& key) {
  Call call{.method = "HEAD", .bucket = bucket, .key = key, .what = where("HeadObject", bucket, key)};
  auto response = send(call, /*allow_404=*/true);
  if (!response) return std::unexpected(response.error());
  if (response->status == 404) return std::optional<std::uint64_t>{};
  const auto size = content_length(*response);
  if (!size) return fail(ErrorKind::Protocol, call.what + ": the answer has no Content-Length");
  return std::optional<std::uint64_t>(*size);
}

Status Client::put_object(const std::string& bucket, const std::string& key, std::string body) {
  Call call{.method = "PUT", .bucket = bucket, .key = key, .body = std::move(body)};
  call.what = where("PutObject", bucket, key);
  auto response = send(call);
  if (!response) return std::unexpected(response.error());
  return {};
}

Status Client::delete_object(const std::string& bucket, const std::string& key) {
  Call call{.method = "DELETE", .bucket = bucket, .key = key, .what = where("DeleteObject", bucket, key)};
  auto response = send(call, /*allow_404=*/true);
  if (!response) return std::unexpected(response.error());
  return {};
}

Result<std::string> Client::create_multipart_upload(const std::string& bucket, const std::string& key) {
  Call call{.method = "POST", .bucket = bucket, .key = key, .query = {{"uploads", ""}}};
  call.what = where("CreateMultipartUpload", bucket, key);
  auto response = send(call);
  if (!response) return std::unexpected(response.error());
  auto id = parse_initiate_multipart_upload(response->body);
  if (!id) return fail(ErrorKind::Protocol, call.what + ": " + id.error().message);
  return id;
}

Result<std::string> Client::upload_part(const std::string& bucket, const std::string& key, const std::string& upload_id,
                                        int number, std::string body) {
  Call call{.method = "PUT",
            .bucket = bucket,
            .key = key,
            .query = {{"partNumber", std::to_string(number)}, {"uploadId", upload_id}},
            .body = std::move(body)};
  call.what = where("UploadPart", bucket, key) + " part " + std::to_string(number);
  auto response = send(call);
  if (!response) return std::unexpected(response.error());
  const auto etag = response->header("etag");
  if (!etag || etag->empty()) return fail(ErrorKind::Protocol, call.what + ": the answer has no ETag");
  return *etag;
}

Status Client::complete_multipart_upload(const std::string& bucket, const std::string& key,
                                         const std::string& upload_id, std::vector<Part> parts) {
  auto body = complete_multipart_upload_body(std::move(parts));
  if (!body) return std::unexpected(body.error());
  Call call{.method = "POST", .bucket = bucket, .key = key, .query = {{"uploadId", upload_id}}, .body = *body};
  call.what = where("CompleteMultipartUpload", bucket, key);
  call.ok_may_carry_error = true;
  auto response = send(call);
  if (!response) return std::unexpected(response.error());
  // A 200 may still carry an <Error> (S3 reports late failures so).
  if (auto done = parse_complete_multipart_upload(response->body); !done) {
    Error error = done.error();
    error.message = call.what + ": " + error.message;
    return std::unexpected(error);
  }
  return {};
}

Status Client::abort_multipart_upload(const std::string& bucket, const std::string& key, const std::string& upload_id) {
  Call call{.method = "DELETE", .bucket = bucket, .key = key, .query = {{"uploadId", upload_id}}};
  call.what = where("AbortMultipartUpload", bucket, key);
  auto response = send(call, /*allow_404=*/true);
  if (!response) return std::unexpected(response.error());
  return {};
}

}  // namespace mews_export::s3
