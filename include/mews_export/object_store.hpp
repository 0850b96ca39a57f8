// Object-storage output: where `-o s3://BUCKET/PREFIX` puts an export's
// files, and how to reach the S3-compatible store that holds them.
#pragma once

#include <string>
#include <string_view>

#include "mews_export/error.hpp"

namespace mews_export {

// How to reach one S3-compatible store. Never print the secrets.
struct S3Store {
  // Empty: AWS S3, virtual-hosted ("https://BUCKET.s3.REGION.amazonaws.com").
  // Otherwise "https://host[:port]" (or http:// for loopback, or with
  // allow_insecure_http), addressed path-style ("ENDPOINT/BUCKET/KEY").
  std::string endpoint;
  std::string region = "us-east-1";
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty unless temporary credentials
};

// A "directory" in a bucket: every object the tool writes there has a key
// that starts with `prefix` + "/" (or is at the bucket's top when empty).
struct S3Location {
  S3Store store;
  std::string bucket;
  std::string prefix;  // no leading or trailing '/'; may be empty

  // The location one level down: prefix + "/" + name.
  S3Location child(std::string_view name) const;
  // The key of object `name` here: prefix + "/" + name.
  std::string key(std::string_view name) const;
  // "s3://bucket/prefix", for messages (no secret in it).
  std::string display() const;
};

// True when `text` names an object-storage location ("s3://...").
bool is_s3_url(std::string_view text);

// The bucket and prefix of "s3://BUCKET[/PREFIX]" (the store left default).
// Usage, saying what to change, for another scheme, a bucket name S3 refuses
// (3-63 of a-z 0-9 . -, alphanumeric at both ends), or a prefix with an empty,
// "." or ".." segment or a control character.
Result<S3Location> parse_s3_url(std::string_view text);

}  // namespace mews_export
