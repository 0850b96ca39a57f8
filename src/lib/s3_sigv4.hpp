// AWS Signature Version 4 for S3 requests (internal): pure functions from a request
// description, credentials and a time to the headers that authenticate it. No I/O.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mews_export/error.hpp"
#include "mews_export/time.hpp"

namespace mews_export::s3 {

// The payload hash S3 accepts when the body is not hashed (x-amz-content-sha256).
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";

// Never log or print these; error messages name only which field is missing.
struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty unless temporary credentials (STS)
};

// The credential scope: "<date>/<region>/<service>/aws4_request".
struct Scope {
  std::string region;
  std::string service = "s3";
};

// (name, value) pairs, in the caller's order; names may repeat.
using QueryParams = std::vector<std::pair<std::string, std::string>>;
using Headers = std::vector<std::pair<std::string, std::string>>;

// What is signed. Texts are raw (not yet percent-encoded): the signer encodes them.
struct Request {
  std::string method = "GET";  // "GET", "PUT", "POST", "DELETE", "HEAD"
  std::string host;            // the Host header: "bucket.s3.eu-west-1.amazonaws.com", "minio:9000"
  std::string path = "/";      // "/bucket/my key" (path-style) or "/my key"; no normalisation
  QueryParams query;           // e.g. {{"uploads", ""}} or {{"partNumber", "3"}, {"uploadId", "abc/def"}}
  Headers headers;             // other headers to sign (Range, Content-Type, ...); not Host
  std::string payload_hash;    // hex SHA-256 of the body, or kUnsignedPayload
};

// The result of sign(): the intermediate strings, for tests, and the headers to
// send. Do not log the canonical request or the headers: with temporary
// credentials they hold the session token.
struct Signed {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;  // 64 lowercase hex digits
  // Authorization, x-amz-date, x-amz-content-sha256 and, with a session token,
  // x-amz-security-token, in that order. Send them with the request's own headers.
  Headers headers;
};

// --- the building blocks, in the order sign() uses them ----------------------

// `text` percent-encoded per RFC 3986: unreserved characters (A-Z a-z 0-9 - . _ ~)
// kept, every other byte as %XX (upper-case hex); '/' kept when `keep_slash`.
std::string uri_encode(std::string_view text, bool keep_slash);

// The canonical URI of the raw `path`: each segment encoded once, '/' kept, no
// "." / ".." / "//" normalisation (S3 keys may contain them); "/" when empty.
std::string canonical_uri(std::string_view path);

// Names and values encoded ('/' too), sorted by name then value, joined as
// "a=1&b=&c=3" ("name=" for an empty value). Also the query string to send.
std::string canonical_query(const QueryParams& query);

// Lower-case names, sorted; values trimmed, inner runs of spaces and tabs
// collapsed to one space, a repeated name's values joined with ',' in order.
struct CanonicalHeaders {
  std::string text;   // "host:h\nrange:bytes=0-9\n" (each line ends with '\n')
  std::string names;  // "host;range"
};
CanonicalHeaders canonical_headers(const Headers& headers);

// The canonical request of `request` exactly as given: `request.host` as the
// `host` header plus `request.headers` (sign() adds the x-amz-* headers first).
std::string canonical_request(const Request& request);

// "20130524T000000Z" (the x-amz-date value) for `time`.
std::string amz_date(UtcTime time);

// "20130524/us-east-1/s3/aws4_request" for the date part of `amz_date`.
std::string credential_scope(std::string_view amz_date, const Scope& scope);

// "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex SHA-256 of canonical_request>".
std::string string_to_sign(std::string_view amz_date, const Scope& scope, std::string_view canonical_request);

// Hex HMAC-SHA256 of `string_to_sign` under the key derived from `secret`:
// HMAC("AWS4" + secret, date) -> region -> service -> "aws4_request".
// Throws std::runtime_error only if OpenSSL cannot compute an HMAC.
std::string signature(std::string_view secret, std::string_view amz_date, const Scope& scope,
                      std::string_view string_to_sign);

// --- the whole signature ------------------------------------------------------

// Signs `request` at `time`: adds x-amz-date, x-amz-content-sha256 (=
// `request.payload_hash`) and, with a session token, x-amz-security-token to the
// signed headers, and returns the strings and the headers to send. Returns Usage
// when a credential, the host, the region or the payload hash is missing or
// malformed, when a header name is not a token or a value holds CR/LF, or when
// `request.headers` already holds Host, Authorization or one of the added x-amz-*
// headers. No message contains a secret.
Result<Signed> sign(const Request& request, const Credentials& credentials, const Scope& scope, UtcTime time);

// --- addressing ---------------------------------------------------------------

// Where an object lives (or its bucket, for an empty key): the URL to request,
// without a query, and the Host and raw path to put in the Request to sign.
struct Address {
  std::string url;   // "https://minio:9000/bucket/my%20key"
  std::string host;  // "minio:9000"
  std::string path;  // "/bucket/my key"
};

// `key` encoded for a URL path: every byte but unreserved characters and '/'
// as %XX ("a b/c+d" -> "a%20b/c%2Bd").
std::string encode_key(std::string_view key);

// Usage, naming the rule, when S3 would refuse `bucket` as a bucket name
// (3-63 of a-z 0-9 . -, starting and ending alphanumeric).
Status check_bucket(std::string_view bucket);

// Path-style addressing for S3-compatible stores: "<endpoint>/<bucket>/<key>",
// `endpoint` being "https://host[:port]" or "http://host[:port]" (a trailing '/'
// allowed; a default port dropped; the host lower-cased). Returns Usage for an
// endpoint with another scheme, user info, a path, query or fragment; a bucket
// name S3 would refuse (3-63 of a-z 0-9 . -, starting and ending alphanumeric);
// or a key with a "." or ".." segment (HTTP clients rewrite those).
Result<Address> path_style_address(std::string_view endpoint, std::string_view bucket, std::string_view key);

// Virtual-hosted addressing on AWS: "https://<bucket>.s3.<region>.amazonaws.com/<key>".
// Returns Usage for a malformed region, bucket or key as above, or a bucket with
// a '.' (its host would not match the TLS certificate; use path-style).
Result<Address> virtual_hosted_address(std::string_view bucket, std::string_view region, std::string_view key);

// `address.url` followed by "?" and canonical_query(`query`), or just the URL
// when `query` is empty: the same encoding and order that sign() signs.
std::string url_with_query(const Address& address, const QueryParams& query);

}  // namespace mews_export::s3
