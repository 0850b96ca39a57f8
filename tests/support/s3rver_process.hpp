// Test helper for the S3 integration tests: a RAII s3rver child process (the npm
// S3-compatible server, MEWS_S3RVER_BIN, installed by scripts/install-s3rver)
// on an ephemeral loopback port, with unsigned helper requests to set up and
// inspect its buckets.
//
// What s3rver 3.7.1 does and does not check (observed; so a test against it
// proves nothing about SigV4 correctness):
// - SigV4 signatures are NOT verified: any Signature, any secret key, any
//   region and date in the credential scope pass. It only checks that the
//   access key exists (else 403 InvalidAccessKeyId), that x-amz-content-sha256
//   is present and is UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD or
//   64 hex digits (400 InvalidRequest / InvalidArgument; the value is never
//   compared with the body) and that x-amz-date is within 15 min of its clock
//   (403 RequestTimeTooSkewed). Unsigned requests are accepted.
// - Multipart: CreateMultipartUpload, UploadPart and CompleteMultipartUpload
//   work (no minimum part size, ETags in the Complete body are not checked);
//   AbortMultipartUpload and ListParts answer 405 MethodNotAllowed. A Complete
//   naming a part that was never uploaded crashes the server.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "support/sandbox_process.hpp"
#include "support/temp_dir.hpp"

namespace mews_export::testing {

// Starts MEWS_S3RVER_BIN on 127.0.0.1 with `--port 0 --silent` and a data
// directory under a private TempDir, learns the port from its "S3rver listening
// on 127.0.0.1:PORT" line and waits (up to 15 s) until GET / answers 200;
// throws std::runtime_error with its output otherwise. The destructor sends
// SIGTERM and reaps it (SIGKILL after 5 s). The TempDir (and so the stored
// objects) is kept when the test failed.
class S3rverProcess {
 public:
  S3rverProcess();
  ~S3rverProcess();
  S3rverProcess(const S3rverProcess&) = delete;
  S3rverProcess& operator=(const S3rverProcess&) = delete;

  const std::string& endpoint() const { return endpoint_; }  // "http://127.0.0.1:PORT"
  std::string host() const { return "127.0.0.1"; }
  int port() const { return port_; }
  pid_t pid() const { return child_.pid(); }
  // s3rver's built-in account; it accepts any region in the credential scope.
  static std::string access_key() { return "S3RVER"; }
  static std::string secret_key() { return "S3RVER"; }
  static std::string region() { return "us-east-1"; }
  // Where s3rver keeps its buckets (one directory per bucket).
  std::filesystem::path data_dir() const { return dir_ / "data"; }

  // PUT /<bucket> (unsigned); throws std::runtime_error unless s3rver answers 200
  // (e.g. 409 BucketAlreadyExists, 400 InvalidBucketName for names shorter
  // than 3 characters or with upper case letters).
  void create_bucket(const std::string& bucket) const;
  // PUT /<bucket>/<key> (unsigned) with `bytes`; throws unless 200.
  void put(const std::string& bucket, const std::string& key, const std::string& bytes) const;
  // GET /<bucket>/<key> (unsigned): the object's bytes, nullopt on 404
  // NoSuchKey; throws on anything else (including 404 NoSuchBucket).
  std::optional<std::string> get(const std::string& bucket, const std::string& key) const;
  // All object keys of `bucket` starting with `prefix`, in s3rver's (sorted)
  // order, via ListObjectsV2 following NextContinuationToken, `page_size` keys
  // a request (1..1000); throws unless 200.
  std::vector<std::string> keys(const std::string& bucket, const std::string& prefix = "", int page_size = 1000) const;

  // s3rver's stdout and stderr so far.
  std::string output() const;
  // Sends SIGTERM and reaps (SIGKILL after 5 s); the exit code as in
  // ProcessResult, or -1 when it was not running. Called by the destructor.
  int stop();

 private:
  TempDir dir_{"mews-s3rver"};  // declared first: outlives the child
  ChildProcess child_;
  bool stopped_ = false;
  int port_ = 0;
  std::string endpoint_;
};

// The object key `key` as a URL path ("/a b/c" -> "/a%20b/c"): every byte but
// RFC 3986 unreserved characters and '/' percent-encoded.
std::string s3_path_encode(const std::string& key);

}  // namespace mews_export::testing
