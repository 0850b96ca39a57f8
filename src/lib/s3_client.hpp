// The S3 calls object-storage output needs (internal): each request signed
// with our SigV4 signer, sent through the HttpTransport seam, retried with the
// API's policy (5xx, SlowDown, resets) through a RetryBudget, and its <Error>
// turned into an Error whose message carries S3's code and request id, never a
// secret.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mews_export/clock.hpp"
#include "mews_export/error.hpp"
#include "mews_export/http.hpp"
#include "mews_export/object_store.hpp"
#include "mews_export/retry.hpp"
#include "s3_sigv4.hpp"
#include "s3_xml.hpp"

namespace mews_export::s3 {

struct ClientOptions {
  RetryPolicy retry;
  bool allow_insecure_http = false;  // plain http:// endpoints other than loopback
  RetryCallback on_retry;            // may be empty
  std::chrono::seconds stall_timeout{60};
};

// What an S3 error answer means for us, from its status and <Error><Code>.
// Refused (exit 3): AccessDenied, InvalidAccessKeyId, SignatureDoesNotMatch,
// expired or invalid tokens, any other 401/403. NotFound: NoSuchUpload (the
// caller starts the upload again) and NoSuchKey. Api (retryable): 5xx,
// SlowDown, RequestTimeout, InternalError, 429. Io (exit 1): NoSuchBucket and
// a wrong region, saying what to change; anything else.
Error error_from_answer(const HttpResponse& response, const std::string& what, std::string_view region, UtcTime now);

class Client {
 public:
  Client(HttpTransport& transport, Clock& clock, S3Store store, ClientOptions options);

  // The object's bytes (at most `max_bytes`: more is Protocol), or nullopt
  // when there is no such key.
  Result<std::optional<std::string>> get_object(const std::string& bucket, const std::string& key,
                                                std::size_t max_bytes);
  // The object's size, or nullopt when there is no such key.
  Result<std::optional<std::uint64_t>> head_object(const std::string& bucket, const std::string& key);
  Status put_object(const std::string& bucket, const std::string& key, std::string body);
  // Deleting a key that does not exist succeeds (as S3 does).
  Status delete_object(const std::string& bucket, const std::string& key);

  // CreateMultipartUpload: the new upload's id.
  Result<std::string> create_multipart_upload(const std::string& bucket, const std::string& key);
  // UploadPart `number` (1..10000): its ETag, quotes included. The body is
  // kept until the part is accepted (retries send it again).
  Result<std::string> upload_part(const std::string& bucket, const std::string& key, const std::string& upload_id,
                                  int number, std::string body);
  Status complete_multipart_upload(const std::string& bucket, const std::string& key, const std::string& upload_id,
                                   std::vector<Part> parts);
  // Best effort is the caller's choice: an upload that is already gone is success.
  Status abort_multipart_upload(const std::string& bucket, const std::string& key, const std::string& upload_id);

  const S3Store& store() const { return store_; }

 private:
  struct Call {
    std::string method;
    std::string bucket;
    std::string key;
    QueryParams query;
    std::string body;
    std::string what;  // "PutObject s3://bucket/key", for messages and retry notices
    std::size_t max_answer = kMaxResponseBytes;
    // CompleteMultipartUpload: S3 may answer 200 with an <Error> body
    // (InternalError, SlowDown), to be treated (and retried) like an error answer.
    bool ok_may_carry_error = false;
  };
  // Signs and sends `call` until it succeeds or cannot be retried; a 404 is
  // returned as a response when `allow_404`.
  Result<HttpResponse> send(Call& call, bool allow_404 = false);
  Result<HttpResponse> attempt(Call& call, const Address& address, const std::string& payload_hash);
  Result<Address> address_of(const Call& call) const;

  HttpTransport& transport_;
  Clock& clock_;
  S3Store store_;
  ClientOptions options_;
};

}  // namespace mews_export::s3
