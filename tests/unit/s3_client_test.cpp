// The internal S3 client on the fake transport: the exact requests it sends
// (addressing, query, body, SigV4 headers checked against a signature computed
// here with OpenSSL), how S3's answers map to errors and exit codes, retries on
// the fake clock, and parse_s3_url / S3Location.
#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>
#include <string>
#include <vector>

#include "mews_export/error.hpp"
#include "mews_export/object_store.hpp"
#include "s3_client.hpp"
#include "support/fake_clock.hpp"
#include "support/fake_transport.hpp"

using namespace mews_export;
using namespace mews_export::testing;
using namespace std::chrono;

namespace {

constexpr const char* kSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY";
constexpr const char* kToken = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN";
constexpr const char* kEmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
// FakeClock starts at 1'800'000'000 s: Fri, 15 Jan 2027 08:00:00 UTC.
constexpr const char* kAmzDate = "20270115T080000Z";

// --- an independent SigV4 computation (OpenSSL only) -------------------------

std::string to_hex(const unsigned char* data, std::size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < size; ++i) {
    out.push_back(kHex[data[i] >> 4]);
    out.push_back(kHex[data[i] & 0x0f]);
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EXPECT_EQ(EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr), 1);
  return to_hex(digest, size);
}

std::string hmac(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), mac, &size);
  return std::string(reinterpret_cast<const char*>(mac), size);
}

struct Expected {
  std::string method;
  std::string host;
  std::string canonical_uri;
  std::string canonical_query;
  std::string payload_hash;
  std::string amz_date = kAmzDate;
  std::string region = "us-east-1";
  std::string session_token;
};

// The Authorization header AWS expects for `e` with the fixture's credentials.
std::string expected_authorization(const Expected& e) {
  std::string headers =
      "host:" + e.host + "\nx-amz-content-sha256:" + e.payload_hash + "\nx-amz-date:" + e.amz_date + "\n";
  std::string names = "host;x-amz-content-sha256;x-amz-date";
  if (!e.session_token.empty()) {
    headers += "x-amz-security-token:" + e.session_token + "\n";
    names += ";x-amz-security-token";
  }
  const std::string canonical = e.method + "\n" + e.canonical_uri + "\n" + e.canonical_query + "\n" + headers + "\n" +
                                names + "\n" + e.payload_hash;
  const std::string date = e.amz_date.substr(0, 8);
  const std::string scope = date + "/" + e.region + "/s3/aws4_request";
  const std::string to_sign = "AWS4-HMAC-SHA256\n" + e.amz_date + "\n" + scope + "\n" + sha256_hex(canonical);
  std::string key = hmac(std::string("AWS4") + kSecret, date);
  key = hmac(key, e.region);
  key = hmac(key, "s3");
  key = hmac(key, "aws4_request");
  const std::string mac = hmac(key, to_sign);
  return "AWS4-HMAC-SHA256 Credential=AKID/" + scope + ",SignedHeaders=" + names +
         ",Signature=" + to_hex(reinterpret_cast<const unsigned char*>(mac.data()), mac.size());
}

std::string signature_of(const HttpRequest& request) {
  const auto& authorization = request.headers.at("Authorization");
  const auto at = authorization.find("Signature=");
  return at == std::string::npos ? std::string() : authorization.substr(at + 10);
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string error_xml(const std::string& code, const std::string& message, const std::string& request_id,
                      const std::string& extra = "") {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + code + "</Code><Message>" + message +
         "</Message>" + extra + "<RequestId>" + request_id + "</RequestId><HostId>host-id</HostId></Error>";
}

FakeTransport::Handler answer(int status, std::string body = "", std::map<std::string, std::string> headers = {}) {
  return [status, body, headers](const HttpRequest&, const BodySink* sink) {
    return respond(sink, status, body, headers);
  };
}

struct S3ClientTest : ::testing::Test {
  FakeTransport transport;
  FakeClock clock;
  S3Store store{.endpoint = "http://127.0.0.1:9000",
                .region = "us-east-1",
                .access_key_id = "AKID",
                .secret_access_key = kSecret,
                .session_token = ""};
  s3::ClientOptions options{.retry = {.max_attempts = 4, .base_delay = milliseconds{100}}};

  s3::Client client() { return s3::Client(transport, clock, store, options); }

  HttpRequest only_request() {
    const auto requests = transport.requests();
    EXPECT_EQ(requests.size(), 1u);
    return requests.empty() ? HttpRequest{} : requests.front();
  }
};

// ------------------------------------------------------------ request shapes

TEST_F(S3ClientTest, PutObjectIsAPathStyleSignedPutWithTheBody) {
  transport.on("/bucket/prefix/part-001.jsonl", answer(200, "", {{"etag", "\"abc\""}}));
  const std::string body = "{\"Id\":1}\n{\"Id\":2}\n";
  auto put = client().put_object("bucket", "prefix/part-001.jsonl", body);
  ASSERT_TRUE(put) << put.error().message;

  const HttpRequest request = only_request();
  EXPECT_EQ(request.method, "PUT");
  EXPECT_EQ(request.url, "http://127.0.0.1:9000/bucket/prefix/part-001.jsonl");
  EXPECT_EQ(request.body, body);
  const std::string hash = sha256_hex(body);
  EXPECT_EQ(request.headers.at("x-amz-content-sha256"), hash);
  EXPECT_EQ(request.headers.at("x-amz-date"), kAmzDate);
  EXPECT_TRUE(request.headers.at("Authorization")
                  .starts_with("AWS4-HMAC-SHA256 Credential=AKID/20270115/us-east-1/s3/aws4_request,"))
      << request.headers.at("Authorization");
  EXPECT_EQ(request.headers.count("x-amz-security-token"), 0u);
  EXPECT_EQ(request.headers.at("Authorization"),
            expected_authorization({.method = "PUT",
                                    .host = "127.0.0.1:9000",
                                    .canonical_uri = "/bucket/prefix/part-001.jsonl",
                                    .canonical_query = "",
                                    .payload_hash = hash}));
  EXPECT_EQ(request.headers.at("Content-Type"), "application/octet-stream");
}

TEST_F(S3ClientTest, ASessionTokenIsSentAndSigned) {
  store.session_token = kToken;
  transport.on("/bucket/key", answer(200));
  ASSERT_TRUE(client().put_object("bucket", "key", "x"));
  const HttpRequest request = only_request();
  EXPECT_EQ(request.headers.at("x-amz-security-token"), kToken);
  EXPECT_EQ(request.headers.at("Authorization"), expected_authorization({.method = "PUT",
                                                                         .host = "127.0.0.1:9000",
                                                                         .canonical_uri = "/bucket/key",
                                                                         .canonical_query = "",
                                                                         .payload_hash = sha256_hex("x"),
                                                                         .session_token = kToken}));
}

TEST_F(S3ClientTest, AnEmptyBodyIsSignedWithTheEmptyStringHash) {
  transport.on("/bucket/old.jsonl", answer(204));
  ASSERT_TRUE(client().delete_object("bucket", "old.jsonl"));
  const HttpRequest request = only_request();
  EXPECT_EQ(request.method, "DELETE");
  EXPECT_EQ(request.url, "http://127.0.0.1:9000/bucket/old.jsonl");
  EXPECT_TRUE(request.body.empty());
  EXPECT_EQ(request.headers.at("x-amz-content-sha256"), kEmptySha256);
}

TEST_F(S3ClientTest, DeletingAMissingKeySucceeds) {
  transport.on("/bucket/gone", answer(404, error_xml("NoSuchKey", "The specified key does not exist.", "R1")));
  EXPECT_TRUE(client().delete_object("bucket", "gone"));
}

TEST_F(S3ClientTest, AnEmptyEndpointMeansVirtualHostedAwsAddressing) {
  store.endpoint = "";
  store.region = "eu-west-1";
  transport.on("amazonaws.com", answer(200));
  ASSERT_TRUE(client().put_object("bucket", "key", "hello"));
  const HttpRequest request = only_request();
  EXPECT_EQ(request.url, "https://bucket.s3.eu-west-1.amazonaws.com/key");
  EXPECT_EQ(request.headers.at("Authorization"), expected_authorization({.method = "PUT",
                                                                         .host = "bucket.s3.eu-west-1.amazonaws.com",
                                                                         .canonical_uri = "/key",
                                                                         .canonical_query = "",
                                                                         .payload_hash = sha256_hex("hello"),
                                                                         .region = "eu-west-1"}));
}

TEST_F(S3ClientTest, KeysArePercentEncodedInTheUrlAndTheSignature) {
  transport.on("/bucket/", answer(200));
  ASSERT_TRUE(client().put_object("bucket", "a b/c+d.jsonl", "x"));
  const HttpRequest request = only_request();
  EXPECT_EQ(request.url, "http://127.0.0.1:9000/bucket/a%20b/c%2Bd.jsonl");
  EXPECT_EQ(request.headers.at("Authorization"), expected_authorization({.method = "PUT",
                                                                         .host = "127.0.0.1:9000",
                                                                         .canonical_uri = "/bucket/a%20b/c%2Bd.jsonl",
                                                                         .canonical_query = "",
                                                                         .payload_hash = sha256_hex("x")}));
}

TEST_F(S3ClientTest, TheStallTimeoutGoesToTheTransport) {
  options.stall_timeout = seconds{17};
  transport.on("/bucket/key", answer(200));
  ASSERT_TRUE(client().put_object("bucket", "key", "x"));
  EXPECT_EQ(only_request().low_speed_time, seconds{17});
}

TEST_F(S3ClientTest, CreateMultipartUploadPostsUploadsAndReturnsTheUploadId) {
  transport.on("/bucket/big.jsonl?uploads",
               answer(200,
                      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                      "<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                      "<Bucket>bucket</Bucket><Key>big.jsonl</Key><UploadId>VXBsb2FkIElE/x+y=</UploadId>"
                      "</InitiateMultipartUploadResult>"));
  auto id = client().create_multipart_upload("bucket", "big.jsonl");
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(*id, "VXBsb2FkIElE/x+y=");
  const HttpRequest request = only_request();
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.url, "http://127.0.0.1:9000/bucket/big.jsonl?uploads=");
  EXPECT_TRUE(request.body.empty());
  EXPECT_EQ(request.headers.at("x-amz-content-sha256"), kEmptySha256);
  EXPECT_EQ(request.headers.at("Authorization"), expected_authorization({.method = "POST",
                                                                         .host = "127.0.0.1:9000",
                                                                         .canonical_uri = "/bucket/big.jsonl",
                                                                         .canonical_query = "uploads=",
                                                                         .payload_hash = kEmptySha256}));
}

TEST_F(S3ClientTest, CreateMultipartUploadWithoutAnUploadIdIsProtocol) {
  transport.on("?uploads",
               answer(200, "<InitiateMultipartUploadResult><Bucket>b</Bucket></InitiateMultipartUploadResult>"));
  auto id = client().create_multipart_upload("bucket", "big.jsonl");
  ASSERT_FALSE(id);
  EXPECT_EQ(id.error().kind, ErrorKind::Protocol);
  EXPECT_TRUE(contains(id.error().message, "CreateMultipartUpload s3://bucket/big.jsonl")) << id.error().message;
}

TEST_F(S3ClientTest, UploadPartPutsTheNumberedPartAndReturnsItsETag) {
  transport.on("partNumber=3", answer(200, "", {{"etag", "\"9b2cf535f27731c974343645a3985328\""}}));
  const std::string body(5000, 'p');
  auto etag = client().upload_part("bucket", "big.jsonl", "abc/def==", 3, body);
  ASSERT_TRUE(etag) << etag.error().message;
  EXPECT_EQ(*etag, "\"9b2cf535f27731c974343645a3985328\"");
  const HttpRequest request = only_request();
  EXPECT_EQ(request.method, "PUT");
  EXPECT_EQ(request.url, "http://127.0.0.1:9000/bucket/big.jsonl?partNumber=3&uploadId=abc%2Fdef%3D%3D");
  EXPECT_EQ(request.body, body);
  EXPECT_EQ(request.headers.at("x-amz-content-sha256"), sha256_hex(body));
  EXPECT_EQ(request.headers.at("Authorization"),
            expected_authorization({.method = "PUT",
                                    .host = "127.0.0.1:9000",
                                    .canonical_uri = "/bucket/big.jsonl",
                                    .canonical_query = "partNumber=3&uploadId=abc%2Fdef%3D%3D",
                                    .payload_hash = sha256_hex(body)}));
}

TEST_F(S3ClientTest, UploadPartWithoutAnETagIsProtocol) {
  transport.on("partNumber=1", answer(200));
  auto etag = client().upload_part("bucket", "big.jsonl", "id", 1, "x");
  ASSERT_FALSE(etag);
  EXPECT_EQ(etag.error().kind, ErrorKind::Protocol);
  EXPECT_TRUE(contains(etag.error().message, "ETag")) << etag.error().message;
}

TEST_F(S3ClientTest, CompleteMultipartUploadPostsThePartsInOrder) {
  transport.on("?uploadId=", answer(200,
                                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUploadResult>"
                                    "<Location>http://127.0.0.1:9000/bucket/big.jsonl</Location><Bucket>bucket</Bucket>"
                                    "<Key>big.jsonl</Key><ETag>\"3858f62230ac3c915f300c664312c11f-2\"</ETag>"
                                    "</CompleteMultipartUploadResult>"));
  std::vector<s3::Part> parts{{.number = 2, .etag = "\"etag-two\"", .size = 0},
                              {.number = 1, .etag = "\"etag-one\"", .size = 0}};
  auto done = client().complete_multipart_upload("bucket", "big.jsonl", "up/id", parts);
  ASSERT_TRUE(done) << done.error().message;
  const HttpRequest request = only_request();
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.url, "http://127.0.0.1:9000/bucket/big.jsonl?uploadId=up%2Fid");
  EXPECT_TRUE(contains(request.body, "<CompleteMultipartUpload")) << request.body;
  const auto one = request.body.find("<PartNumber>1</PartNumber>");
  const auto two = request.body.find("<PartNumber>2</PartNumber>");
  ASSERT_NE(one, std::string::npos) << request.body;
  ASSERT_NE(two, std::string::npos) << request.body;
  EXPECT_LT(one, two);
  const auto etag_one = request.body.find("etag-one");
  const auto etag_two = request.body.find("etag-two");
  ASSERT_NE(etag_one, std::string::npos);
  ASSERT_NE(etag_two, std::string::npos);
  EXPECT_LT(one, etag_one);
  EXPECT_LT(etag_one, two);
  EXPECT_LT(two, etag_two);
  EXPECT_EQ(request.headers.at("x-amz-content-sha256"), sha256_hex(request.body));
  EXPECT_EQ(request.headers.at("Authorization"), expected_authorization({.method = "POST",
                                                                         .host = "127.0.0.1:9000",
                                                                         .canonical_uri = "/bucket/big.jsonl",
                                                                         .canonical_query = "uploadId=up%2Fid",
                                                                         .payload_hash = sha256_hex(request.body)}));
}

TEST_F(S3ClientTest, CompleteWithNoPartsIsRefusedBeforeAnyRequest) {
  auto done = client().complete_multipart_upload("bucket", "big.jsonl", "id", {});
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().kind, ErrorKind::Protocol);
  EXPECT_TRUE(transport.requests().empty());
}

TEST_F(S3ClientTest, AnErrorInsideA200CompleteAnswerIsAnError) {
  transport.on("?uploadId=",
               answer(200, error_xml("InternalError", "We encountered an internal error. Please try again.", "REQ-C")));
  auto done = client().complete_multipart_upload("bucket", "big.jsonl", "id", {{.number = 1, .etag = "\"e\""}});
  ASSERT_FALSE(done);
  EXPECT_TRUE(contains(done.error().message, "CompleteMultipartUpload s3://bucket/big.jsonl")) << done.error().message;
  EXPECT_TRUE(contains(done.error().message, "InternalError")) << done.error().message;
  EXPECT_EQ(done.error().request_id, "REQ-C");
}

TEST_F(S3ClientTest, AnInternalErrorInsideA200CompleteAnswerIsRetried) {
  int calls = 0;
  transport.on("?uploadId=", [&](const HttpRequest&, const BodySink* sink) {
    if (++calls == 1) return respond(sink, 200, error_xml("InternalError", "Please try again.", "REQ-1"));
    return respond(sink, 200,
                   "<CompleteMultipartUploadResult><Location>x</Location><Bucket>bucket</Bucket><Key>big.jsonl</Key>"
                   "<ETag>\"abc-1\"</ETag></CompleteMultipartUploadResult>");
  });
  auto done = client().complete_multipart_upload("bucket", "big.jsonl", "id", {{.number = 1, .etag = "\"e\""}});
  ASSERT_TRUE(done) << done.error().message;
  EXPECT_EQ(calls, 2);
}

TEST_F(S3ClientTest, AbortMultipartUploadDeletesTheUpload) {
  transport.on("?uploadId=", answer(204));
  ASSERT_TRUE(client().abort_multipart_upload("bucket", "big.jsonl", "up id"));
  const HttpRequest request = only_request();
  EXPECT_EQ(request.method, "DELETE");
  EXPECT_EQ(request.url, "http://127.0.0.1:9000/bucket/big.jsonl?uploadId=up%20id");
  EXPECT_TRUE(request.body.empty());
}

TEST_F(S3ClientTest, AbortingAnUploadThatIsAlreadyGoneSucceeds) {
  transport.on("?uploadId=", answer(404, error_xml("NoSuchUpload", "The specified upload does not exist.", "R")));
  EXPECT_TRUE(client().abort_multipart_upload("bucket", "big.jsonl", "id"));
  EXPECT_EQ(transport.requests().size(), 1u);
}

// --------------------------------------------------------------- get / head

TEST_F(S3ClientTest, GetObjectReturnsTheBytes) {
  const std::string bytes(40'000, 'z');  // several transport chunks
  transport.on("/bucket/state.json", answer(200, bytes));
  auto got = client().get_object("bucket", "state.json", 1 << 20);
  ASSERT_TRUE(got) << got.error().message;
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, bytes);
  const HttpRequest request = only_request();
  EXPECT_EQ(request.method, "GET");
  EXPECT_EQ(request.url, "http://127.0.0.1:9000/bucket/state.json");
  EXPECT_EQ(request.headers.at("x-amz-content-sha256"), kEmptySha256);
}

TEST_F(S3ClientTest, GetObjectOfAMissingKeyIsNullopt) {
  transport.on("/bucket/state.json", answer(404, error_xml("NoSuchKey", "The specified key does not exist.", "R")));
  auto got = client().get_object("bucket", "state.json", 1 << 20);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_FALSE(got->has_value());
  EXPECT_EQ(transport.requests().size(), 1u);
}

TEST_F(S3ClientTest, GetObjectInAMissingBucketIsAnError) {
  transport.on("/bucket/state.json",
               answer(404, error_xml("NoSuchBucket", "The specified bucket does not exist", "REQ-NB")));
  auto got = client().get_object("bucket", "state.json", 1 << 20);
  ASSERT_FALSE(got);
  EXPECT_EQ(exit_code(got.error()), 1);
  EXPECT_EQ(got.error().http_status, 404);
  EXPECT_TRUE(contains(got.error().message, "create it")) << got.error().message;
  EXPECT_TRUE(contains(got.error().message, "REQ-NB")) << got.error().message;
}

TEST_F(S3ClientTest, AnObjectLargerThanMaxBytesIsProtocol) {
  transport.on("/bucket/state.json", answer(200, std::string(101, 'x')));
  auto got = client().get_object("bucket", "state.json", 100);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().kind, ErrorKind::Protocol);
  EXPECT_TRUE(contains(got.error().message, "100")) << got.error().message;
  EXPECT_EQ(transport.requests().size(), 1u);  // not retried

  FakeTransport exact;
  exact.on("/bucket/state.json", answer(200, std::string(100, 'x')));
  auto fits = s3::Client(exact, clock, store, options).get_object("bucket", "state.json", 100);
  ASSERT_TRUE(fits) << fits.error().message;
  ASSERT_TRUE(fits->has_value());
  EXPECT_EQ((*fits)->size(), 100u);
}

TEST_F(S3ClientTest, HeadObjectReturnsTheContentLength) {
  transport.on("/bucket/part-001.jsonl", answer(200, "", {{"content-length", "8388608"}}));
  auto size = client().head_object("bucket", "part-001.jsonl");
  ASSERT_TRUE(size) << size.error().message;
  ASSERT_TRUE(size->has_value());
  EXPECT_EQ(**size, 8388608u);
  const HttpRequest request = only_request();
  EXPECT_EQ(request.method, "HEAD");
  EXPECT_EQ(request.url, "http://127.0.0.1:9000/bucket/part-001.jsonl");
}

TEST_F(S3ClientTest, HeadObjectOfAMissingKeyIsNullopt) {
  transport.on("/bucket/part-001.jsonl", answer(404));
  auto size = client().head_object("bucket", "part-001.jsonl");
  ASSERT_TRUE(size) << size.error().message;
  EXPECT_FALSE(size->has_value());
}

TEST_F(S3ClientTest, HeadObjectWithoutAContentLengthIsProtocol) {
  transport.on("/bucket/part-001.jsonl", answer(200, "", {{"content-length", "12x"}}));
  auto size = client().head_object("bucket", "part-001.jsonl");
  ASSERT_FALSE(size);
  EXPECT_EQ(size.error().kind, ErrorKind::Protocol);
}

// ------------------------------------------------------------ error mapping

TEST_F(S3ClientTest, RefusalsAreExit3WithCodeAndRequestIdButNoSecret) {
  for (const std::string code : {"AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId"}) {
    SCOPED_TRACE(code);
    FakeTransport t;
    // Like S3, echo what was signed (and the signature) in the error body.
    t.on("/bucket/key", [&code](const HttpRequest& request, const BodySink* sink) {
      const std::string extra = "<AWSAccessKeyId>AKID</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256 " +
                                std::string(kSecret) + "</StringToSign><SignatureProvided>" + signature_of(request) +
                                "</SignatureProvided><CanonicalRequest>PUT /bucket/key " + kSecret +
                                "</CanonicalRequest>";
      return respond(sink, 403, error_xml(code, "Access refused", "REQ-" + code, extra));
    });
    auto put = s3::Client(t, clock, store, options).put_object("bucket", "key", "x");
    ASSERT_FALSE(put);
    const Error& error = put.error();
    EXPECT_EQ(error.kind, ErrorKind::Refused);
    EXPECT_EQ(exit_code(error), 3);
    EXPECT_EQ(error.http_status, 403);
    EXPECT_EQ(error.request_id, "REQ-" + code);
    EXPECT_TRUE(contains(error.message, code)) << error.message;
    EXPECT_TRUE(contains(error.message, "REQ-" + code)) << error.message;
    ASSERT_EQ(t.requests().size(), 1u);  // not retried
    const std::string signature = signature_of(t.requests().front());
    ASSERT_EQ(signature.size(), 64u);
    for (const std::string& text : {error.message, describe(error)}) {
      EXPECT_FALSE(contains(text, kSecret)) << text;
      EXPECT_FALSE(contains(text, signature)) << text;
      EXPECT_FALSE(contains(text, "Signature=")) << text;
    }
  }
}

TEST_F(S3ClientTest, A403WithoutAnXmlBodyIsRefusedToo) {
  transport.on("/bucket/key", answer(403, "", {{"x-amz-request-id", "HDR-ID"}}));
  auto put = client().put_object("bucket", "key", "x");
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().kind, ErrorKind::Refused);
  EXPECT_EQ(put.error().request_id, "HDR-ID");
  EXPECT_TRUE(contains(put.error().message, "HDR-ID")) << put.error().message;
}

TEST_F(S3ClientTest, NoSuchBucketSaysToCreateTheBucket) {
  transport.on("/bucket/key", answer(404, error_xml("NoSuchBucket", "The specified bucket does not exist", "R-NB")));
  auto put = client().put_object("bucket", "key", "x");
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().kind, ErrorKind::Io);
  EXPECT_EQ(exit_code(put.error()), 1);
  EXPECT_TRUE(contains(put.error().message, "create it")) << put.error().message;
  EXPECT_TRUE(contains(put.error().message, "PutObject s3://bucket/key")) << put.error().message;
  EXPECT_EQ(transport.requests().size(), 1u);
}

TEST_F(S3ClientTest, AWrongRegionNamesTheBucketsRegion) {
  transport.on("/bucket/key",
               answer(400, error_xml("AuthorizationHeaderMalformed",
                                     "The authorization header is malformed; the region 'us-east-1' is wrong; "
                                     "expecting 'eu-central-1'",
                                     "R-REG", "<Region>eu-central-1</Region>")));
  auto put = client().put_object("bucket", "key", "x");
  ASSERT_FALSE(put);
  EXPECT_EQ(exit_code(put.error()), 1);
  EXPECT_TRUE(contains(put.error().message, "AWS_REGION=eu-central-1")) << put.error().message;
  EXPECT_EQ(transport.requests().size(), 1u);  // a 400 is not retried
}

TEST_F(S3ClientTest, APermanentRedirectNamesTheRegionFromItsHeader) {
  transport.on("/bucket/key", answer(301,
                                     error_xml("PermanentRedirect",
                                               "The bucket you are attempting to access must be "
                                               "addressed using the specified endpoint.",
                                               "R-301", "<Endpoint>bucket.s3.ap-south-1.amazonaws.com</Endpoint>"),
                                     {{"x-amz-bucket-region", "ap-south-1"}}));
  auto put = client().put_object("bucket", "key", "x");
  ASSERT_FALSE(put);
  EXPECT_EQ(exit_code(put.error()), 1);
  EXPECT_TRUE(contains(put.error().message, "ap-south-1")) << put.error().message;
}

TEST_F(S3ClientTest, NoSuchUploadIsNotFound) {
  transport.on("partNumber=2", answer(404, error_xml("NoSuchUpload", "The specified upload does not exist.", "R-U")));
  auto etag = client().upload_part("bucket", "big.jsonl", "gone", 2, "x");
  ASSERT_FALSE(etag);
  EXPECT_EQ(etag.error().kind, ErrorKind::NotFound);
  EXPECT_EQ(transport.requests().size(), 1u);

  FakeTransport t;
  t.on("?uploadId=", answer(404, error_xml("NoSuchUpload", "The specified upload does not exist.", "R-U")));
  auto done = s3::Client(t, clock, store, options)
                  .complete_multipart_upload("bucket", "k", "gone", {{.number = 1, .etag = "\"e\""}});
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().kind, ErrorKind::NotFound);
}

TEST_F(S3ClientTest, AnotherClientErrorIsNotRetried) {
  transport.on("/bucket/key", answer(400, error_xml("InvalidArgument", "Invalid argument.", "R-IA")));
  auto put = client().put_object("bucket", "key", "x");
  ASSERT_FALSE(put);
  EXPECT_EQ(exit_code(put.error()), 1);
  EXPECT_TRUE(contains(put.error().message, "InvalidArgument")) << put.error().message;
  EXPECT_EQ(transport.requests().size(), 1u);
  EXPECT_TRUE(clock.sleeps().empty());
}

// ------------------------------------------------------------------ retries

TEST_F(S3ClientTest, SlowDownIsRetriedOnTheFakeClockAndTheBodySentAgain) {
  int calls = 0;
  transport.on("/bucket/key", [&calls](const HttpRequest&, const BodySink* sink) {
    if (++calls < 3) return respond(sink, 503, error_xml("SlowDown", "Please reduce your request rate.", "R-SD"));
    return respond(sink, 200, "");
  });
  const std::string body = "the part's bytes";
  const auto before = steady_clock::now();
  auto put = client().put_object("bucket", "key", body);
  ASSERT_TRUE(put) << put.error().message;
  EXPECT_LT(steady_clock::now() - before, seconds{5});  // no wall-clock sleeping
  const auto requests = transport.requests();
  ASSERT_EQ(requests.size(), 3u);
  for (const auto& request : requests) {
    EXPECT_EQ(request.body, body);  // a retry sends the whole body again
    EXPECT_EQ(request.headers.at("x-amz-content-sha256"), sha256_hex(body));
    EXPECT_TRUE(request.headers.contains("Authorization"));
  }
  const auto sleeps = clock.sleeps();
  ASSERT_EQ(sleeps.size(), 2u);
  EXPECT_LE(sleeps[0], milliseconds{100});  // full jitter under base_delay * 2^(n-1)
  EXPECT_LE(sleeps[1], milliseconds{200});
}

TEST_F(S3ClientTest, InternalErrorIsRetriedAndReported) {
  std::vector<RetryNotice> notices;
  options.on_retry = [&notices](const RetryNotice& notice) { notices.push_back(notice); };
  int calls = 0;
  transport.on("/bucket/key", [&calls](const HttpRequest&, const BodySink* sink) {
    if (++calls == 1)
      return respond(sink, 500, error_xml("InternalError", "We encountered an internal error.", "R-IE"));
    return respond(sink, 200, "");
  });
  ASSERT_TRUE(client().put_object("bucket", "key", "x"));
  EXPECT_EQ(transport.requests().size(), 2u);
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(notices[0].what, "PutObject s3://bucket/key");
  EXPECT_EQ(notices[0].attempt, 2);
  EXPECT_EQ(notices[0].max_attempts, 4);
  EXPECT_EQ(notices[0].error.kind, ErrorKind::Api);
  EXPECT_EQ(notices[0].error.http_status, 500);
  EXPECT_TRUE(contains(notices[0].error.message, "InternalError")) << notices[0].error.message;
  EXPECT_FALSE(contains(notices[0].error.message, kSecret));
  ASSERT_EQ(clock.sleeps().size(), 1u);
  EXPECT_EQ(notices[0].delay, clock.sleeps()[0]);
}

TEST_F(S3ClientTest, RetriesStopAfterMaxAttempts) {
  int notices = 0;
  options.on_retry = [&notices](const RetryNotice&) { ++notices; };
  transport.on("/bucket/key", answer(503, error_xml("SlowDown", "Please reduce your request rate.", "R-SD")));
  auto put = client().put_object("bucket", "key", "x");
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().kind, ErrorKind::Api);
  EXPECT_EQ(put.error().http_status, 503);
  EXPECT_EQ(exit_code(put.error()), 1);
  EXPECT_TRUE(contains(put.error().message, "after 4 attempts")) << put.error().message;
  EXPECT_EQ(transport.requests().size(), 4u);
  EXPECT_EQ(clock.sleeps().size(), 3u);
  EXPECT_EQ(notices, 3);
}

TEST_F(S3ClientTest, RetryAfterIsHonouredAndTheRetryIsSignedAnew) {
  int calls = 0;
  transport.on("/bucket/key", [&calls](const HttpRequest&, const BodySink* sink) {
    if (++calls == 1) {
      return respond(sink, 503, error_xml("SlowDown", "Please reduce your request rate.", "R"), {{"retry-after", "7"}});
    }
    return respond(sink, 200, "");
  });
  ASSERT_TRUE(client().put_object("bucket", "key", "x"));
  ASSERT_EQ(clock.sleeps().size(), 1u);
  EXPECT_EQ(clock.sleeps()[0], seconds{7});
  const auto requests = transport.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].headers.at("x-amz-date"), "20270115T080000Z");
  EXPECT_EQ(requests[1].headers.at("x-amz-date"), "20270115T080007Z");
  EXPECT_EQ(requests[1].headers.at("Authorization"), expected_authorization({.method = "PUT",
                                                                             .host = "127.0.0.1:9000",
                                                                             .canonical_uri = "/bucket/key",
                                                                             .canonical_query = "",
                                                                             .payload_hash = sha256_hex("x"),
                                                                             .amz_date = "20270115T080007Z"}));
}

TEST_F(S3ClientTest, ARequestTimeoutAnswerIsRetried) {
  int calls = 0;
  transport.on("/bucket/key", [&calls](const HttpRequest&, const BodySink* sink) {
    if (++calls == 1) return respond(sink, 400, error_xml("RequestTimeout", "Your socket connection timed out.", "R"));
    return respond(sink, 200, "");
  });
  ASSERT_TRUE(client().put_object("bucket", "key", "x"));
  EXPECT_EQ(transport.requests().size(), 2u);
}

TEST_F(S3ClientTest, ANetworkErrorIsRetried) {
  int calls = 0;
  transport.on("/bucket/key", [&calls](const HttpRequest&, const BodySink* sink) -> Result<HttpResponse> {
    if (++calls == 1) return std::unexpected(Error{.kind = ErrorKind::Network, .message = "connection reset by peer"});
    return respond(sink, 200, "");
  });
  ASSERT_TRUE(client().put_object("bucket", "key", "x"));
  EXPECT_EQ(transport.requests().size(), 2u);
  EXPECT_EQ(clock.sleeps().size(), 1u);
}

TEST_F(S3ClientTest, APersistentNetworkErrorNamesTheCall) {
  transport.on("/bucket/key", [](const HttpRequest&, const BodySink*) -> Result<HttpResponse> {
    return std::unexpected(Error{.kind = ErrorKind::Network, .message = "connection refused"});
  });
  auto got = client().get_object("bucket", "key", 100);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().kind, ErrorKind::Network);
  EXPECT_TRUE(got.error().message.starts_with("GetObject s3://bucket/key: connection refused")) << got.error().message;
  EXPECT_EQ(transport.requests().size(), 4u);
}

TEST_F(S3ClientTest, ErrorFromAnswerTakesTheRequestIdFromTheHeaderAndRetries429) {
  HttpResponse response{.status = 429, .headers = {{"x-amz-request-id", "HDR"}, {"retry-after", "3"}}, .body = ""};
  const Error error = s3::error_from_answer(response, "PutObject s3://bucket/key", "us-east-1", UtcTime{});
  EXPECT_EQ(error.kind, ErrorKind::Api);
  EXPECT_TRUE(is_retryable(error));
  EXPECT_EQ(error.request_id, "HDR");
  EXPECT_EQ(error.retry_after_seconds, 3);
}

// --------------------------------------------------------------- endpoints

TEST_F(S3ClientTest, PlainHttpToAnotherHostIsRefusedBeforeAnyRequest) {
  store.endpoint = "http://minio.example:9000";
  transport.on("/bucket/key", answer(200));
  auto put = client().put_object("bucket", "key", "x");
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().kind, ErrorKind::Usage);
  EXPECT_EQ(exit_code(put.error()), 2);
  EXPECT_TRUE(contains(put.error().message, "--allow-insecure-http")) << put.error().message;
  auto got = client().get_object("bucket", "key", 100);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().kind, ErrorKind::Usage);
  EXPECT_TRUE(transport.requests().empty());

  options.allow_insecure_http = true;
  ASSERT_TRUE(client().put_object("bucket", "key", "x"));
  EXPECT_EQ(only_request().url, "http://minio.example:9000/bucket/key");
}

TEST_F(S3ClientTest, PlainHttpToLocalhostAndHttpsAnywhereAreAllowed) {
  transport.on("/bucket/key", answer(200));
  store.endpoint = "http://localhost:9000";
  ASSERT_TRUE(client().put_object("bucket", "key", "x"));
  store.endpoint = "https://minio.example:9000/";
  ASSERT_TRUE(client().put_object("bucket", "key", "x"));
  const auto requests = transport.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].url, "http://localhost:9000/bucket/key");
  EXPECT_EQ(requests[1].url, "https://minio.example:9000/bucket/key");
}

TEST_F(S3ClientTest, AnInvalidBucketOrKeyIsUsageWithoutARequest) {
  auto bad_bucket = client().put_object("Bad_Bucket", "key", "x");
  ASSERT_FALSE(bad_bucket);
  EXPECT_EQ(bad_bucket.error().kind, ErrorKind::Usage);
  auto bad_key = client().put_object("bucket", "a/../b", "x");
  ASSERT_FALSE(bad_key);
  EXPECT_EQ(bad_key.error().kind, ErrorKind::Usage);
  EXPECT_TRUE(transport.requests().empty());
}

// ---------------------------------------------------------------- s3:// URLs

TEST(S3UrlTest, ParsesBucketAndPrefix) {
  auto location = parse_s3_url("s3://bucket/a/b");
  ASSERT_TRUE(location) << location.error().message;
  EXPECT_EQ(location->bucket, "bucket");
  EXPECT_EQ(location->prefix, "a/b");
  EXPECT_TRUE(location->store.endpoint.empty());
  EXPECT_EQ(location->store.region, "us-east-1");
}

TEST(S3UrlTest, TrailingSlashesAreDropped) {
  auto location = parse_s3_url("s3://bucket/a/b/");
  ASSERT_TRUE(location) << location.error().message;
  EXPECT_EQ(location->prefix, "a/b");
  auto top = parse_s3_url("s3://bucket/");
  ASSERT_TRUE(top) << top.error().message;
  EXPECT_EQ(top->bucket, "bucket");
  EXPECT_EQ(top->prefix, "");
}

TEST(S3UrlTest, ABucketAloneHasAnEmptyPrefix) {
  auto location = parse_s3_url("s3://my-bucket.example");
  ASSERT_TRUE(location) << location.error().message;
  EXPECT_EQ(location->bucket, "my-bucket.example");
  EXPECT_EQ(location->prefix, "");
}

TEST(S3UrlTest, RecognisesTheScheme) {
  EXPECT_TRUE(is_s3_url("s3://bucket"));
  EXPECT_TRUE(is_s3_url("S3://bucket"));
  EXPECT_FALSE(is_s3_url("/tmp/out"));
  EXPECT_FALSE(is_s3_url("https://bucket.s3.amazonaws.com/"));
}

TEST(S3UrlTest, InvalidLocationsAreUsage) {
  for (const char* text :
       {"https://bucket/a", "s3://", "s3:///a", "s3://ab/x", "s3://Bucket/x", "s3://-bucket/x", "s3://bucket-/x",
        "s3://bu_cket/x", "s3://b/../x", "s3://bucket/../x", "s3://bucket/a/./b", "s3://bucket/a/..", "s3://bkt/a//b",
        "s3://bucket//a", "s3://bucket/a\\b", "s3://bucket/a\nb", "s3://bucket/a\x7f"}) {
    SCOPED_TRACE(text);
    auto location = parse_s3_url(text);
    ASSERT_FALSE(location);
    EXPECT_EQ(location.error().kind, ErrorKind::Usage);
    EXPECT_EQ(exit_code(location.error()), 2);
  }
}

TEST(S3UrlTest, LocationKeysChildrenAndDisplay) {
  S3Location location{.store = {}, .bucket = "bucket", .prefix = "a/b"};
  location.store.endpoint = "http://127.0.0.1:9000";
  EXPECT_EQ(location.key("part-001.jsonl"), "a/b/part-001.jsonl");
  EXPECT_EQ(location.display(), "s3://bucket/a/b");
  const S3Location child = location.child("OrderItem");
  EXPECT_EQ(child.bucket, "bucket");
  EXPECT_EQ(child.prefix, "a/b/OrderItem");
  EXPECT_EQ(child.store.endpoint, "http://127.0.0.1:9000");
  EXPECT_EQ(child.key("x"), "a/b/OrderItem/x");
  EXPECT_EQ(child.display(), "s3://bucket/a/b/OrderItem");

  const S3Location top{.store = {}, .bucket = "bucket", .prefix = ""};
  EXPECT_EQ(top.key("state.json"), "state.json");
  EXPECT_EQ(top.display(), "s3://bucket");
  EXPECT_EQ(top.child("c").prefix, "c");
  EXPECT_EQ(top.child("c").display(), "s3://bucket/c");
}

}  // namespace
