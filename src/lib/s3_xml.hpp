// S3's XML bodies (internal): the responses of the multipart-upload and listing
// calls and S3's <Error>, parsed with pugixml, and the CompleteMultipartUpload body.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mews_export/error.hpp"

namespace mews_export::s3 {

// A larger body is refused before it is parsed (Protocol).
inline constexpr std::size_t kMaxResponseBytes = std::size_t{1} << 20;       // errors, initiate, complete
inline constexpr std::size_t kMaxListResponseBytes = std::size_t{16} << 20;  // ListParts, ListObjectsV2

// Every parser below returns Protocol, with a message that quotes no part of the
// body, when `body` is over its cap, is not well-formed XML, has another root
// element or lacks a required element or value. Where a result is expected and
// the root is <Error> (S3 may answer CompleteMultipartUpload with 200 and an
// <Error>), they return Api with "S3 error <Code>: <Message>" and the RequestId.

// S3's <Error> document. Only these fields are kept: S3 echoes the string to sign
// and the canonical request (which may hold a session token) in some errors.
struct ErrorResponse {
  std::string code;        // "NoSuchUpload", "SignatureDoesNotMatch", ... (required)
  std::string message;     // empty when absent
  std::string request_id;  // empty when absent
  std::string region;      // <Region>, e.g. with AuthorizationHeaderMalformed; empty when absent
  std::string endpoint;    // <Endpoint>, e.g. with PermanentRedirect; empty when absent
};

// The <Error> body of a non-2xx response (capped at kMaxResponseBytes).
Result<ErrorResponse> parse_error(std::string_view body);

// The UploadId of an <InitiateMultipartUploadResult> (capped at kMaxResponseBytes).
Result<std::string> parse_initiate_multipart_upload(std::string_view body);

// The ETag of the object a <CompleteMultipartUploadResult> announces (capped at
// kMaxResponseBytes); an <Error> root is an Api error as above.
Result<std::string> parse_complete_multipart_upload(std::string_view body);

// One uploaded part. ETags are kept as S3 sends them, quotes included.
struct Part {
  int number = 0;  // 1..10000
  std::string etag;
  std::uint64_t size = 0;  // not used by complete_multipart_upload_body()
};

struct PartList {
  std::vector<Part> parts;  // in document order
  bool is_truncated = false;
  int next_part_number_marker = 0;  // the part-number-marker of the next page; 0 when absent
};

// A <ListPartsResult> page (capped at kMaxListResponseBytes). IsTruncated is
// required ("true"/"false"), and so is NextPartNumberMarker when it is true: a
// page misread as the last one would complete an upload without its last parts.
Result<PartList> parse_list_parts(std::string_view body);

struct ObjectList {
  std::vector<std::string> keys;  // the <Contents><Key> values, in document order
  bool is_truncated = false;
  std::string next_continuation_token;  // the continuation-token of the next page; empty when absent
};

// A ListObjectsV2 <ListBucketResult> page (capped at kMaxListResponseBytes).
// IsTruncated is required, and NextContinuationToken when it is true. Refuses a
// page with <EncodingType> (URL-encoded keys), which we never ask for.
Result<ObjectList> parse_list_objects_v2(std::string_view body);

// The <CompleteMultipartUpload> request body: an XML declaration, then one
// <Part> (PartNumber, ETag) per part, sorted by part number, text escaped by the
// XML writer. Returns Protocol when `parts` is empty, has a number outside
// 1..10000 or twice, or an ETag that is empty or holds a control character.
Result<std::string> complete_multipart_upload_body(std::vector<Part> parts);

}  // namespace mews_export::s3
