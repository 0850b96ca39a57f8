// S3's XML: the responses of AWS's S3 API Reference examples (CreateMultipartUpload,
// ListParts, ListObjectsV2, CompleteMultipartUpload, Error responses), malformed
// and hostile documents, and the CompleteMultipartUpload body we send.
#include <gtest/gtest.h>

#include <string>

#include "s3_xml.hpp"

using namespace mews_export;
using namespace mews_export::s3;

namespace {

// --- InitiateMultipartUploadResult -------------------------------------------

TEST(S3Xml, InitiateMultipartUploadGivesTheUploadId) {
  // The CreateMultipartUpload example of the S3 API Reference.
  const auto upload_id = parse_initiate_multipart_upload(R"(<?xml version="1.0" encoding="UTF-8"?>
<InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>example-bucket</Bucket>
  <Key>example-object</Key>
  <UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>
</InitiateMultipartUploadResult>)");
  ASSERT_TRUE(upload_id) << upload_id.error().message;
  EXPECT_EQ(*upload_id, "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA");
}

TEST(S3Xml, InitiateMultipartUploadDecodesEntitiesAndCdata) {
  const auto escaped = parse_initiate_multipart_upload(
      "<InitiateMultipartUploadResult><UploadId>a&amp;b&#x2F;c&lt;d</UploadId></InitiateMultipartUploadResult>");
  ASSERT_TRUE(escaped);
  EXPECT_EQ(*escaped, "a&b/c<d");
  const auto cdata = parse_initiate_multipart_upload(
      "<InitiateMultipartUploadResult><UploadId><![CDATA[x<y&z]]></UploadId></InitiateMultipartUploadResult>");
  ASSERT_TRUE(cdata);
  EXPECT_EQ(*cdata, "x<y&z");
}

TEST(S3Xml, InitiateMultipartUploadWithoutAnUploadIdIsAProtocolError) {
  for (const char* body : {"<InitiateMultipartUploadResult><Bucket>b</Bucket></InitiateMultipartUploadResult>",
                           "<InitiateMultipartUploadResult><UploadId></UploadId></InitiateMultipartUploadResult>",
                           "<InitiateMultipartUploadResult><Wrapper><UploadId>nested</UploadId></Wrapper>"
                           "</InitiateMultipartUploadResult>"}) {
    SCOPED_TRACE(body);
    const auto upload_id = parse_initiate_multipart_upload(body);
    ASSERT_FALSE(upload_id);
    EXPECT_EQ(upload_id.error().kind, ErrorKind::Protocol);
    EXPECT_NE(upload_id.error().message.find("<UploadId>"), std::string::npos);
  }
}

TEST(S3Xml, MalformedXmlIsAProtocolErrorThatQuotesNothingOfTheBody) {
  for (const char* body : {"", "not xml at all SECRET", "<InitiateMultipartUploadResult><UploadId>SECRET</UploadId>",
                           "<InitiateMultipartUploadResult><UploadId>SECRET</Bucket></InitiateMultipartUploadResult>",
                           "<InitiateMultipartUploadResult a=SECRET><UploadId>x</UploadId>"
                           "</InitiateMultipartUploadResult>"}) {
    SCOPED_TRACE(body);
    const auto upload_id = parse_initiate_multipart_upload(body);
    ASSERT_FALSE(upload_id);
    EXPECT_EQ(upload_id.error().kind, ErrorKind::Protocol);
    EXPECT_EQ(upload_id.error().message.find("SECRET"), std::string::npos) << upload_id.error().message;
  }
}

TEST(S3Xml, AnotherRootElementIsAProtocolError) {
  const auto upload_id = parse_initiate_multipart_upload("<ListPartsResult><UploadId>x</UploadId></ListPartsResult>");
  ASSERT_FALSE(upload_id);
  EXPECT_EQ(upload_id.error().kind, ErrorKind::Protocol);
  EXPECT_NE(upload_id.error().message.find("<InitiateMultipartUploadResult>"), std::string::npos);
}

TEST(S3Xml, DoesNotExpandDocumentTypeEntities) {
  // An external entity (XXE) and a "billion laughs" entity stay unexpanded text.
  const auto upload_id = parse_initiate_multipart_upload(R"(<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd"><!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>
<InitiateMultipartUploadResult><UploadId>&xxe;&b;</UploadId></InitiateMultipartUploadResult>)");
  ASSERT_TRUE(upload_id) << upload_id.error().message;
  EXPECT_EQ(*upload_id, "&xxe;&b;");
}

TEST(S3Xml, RefusesBodiesOverTheSizeCap) {
  const std::string head = "<InitiateMultipartUploadResult><UploadId>x</UploadId>";
  const std::string tail = "</InitiateMultipartUploadResult>";
  const std::string at_cap = head + std::string(kMaxResponseBytes - head.size() - tail.size(), ' ') + tail;
  EXPECT_TRUE(parse_initiate_multipart_upload(at_cap));
  const auto over = parse_initiate_multipart_upload(at_cap + " ");
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().kind, ErrorKind::Protocol);
  EXPECT_NE(over.error().message.find("larger than 1048576 bytes"), std::string::npos) << over.error().message;
}

// --- Error --------------------------------------------------------------------

TEST(S3Xml, ErrorGivesCodeMessageAndRequestId) {
  // The NoSuchKey example of the S3 API Reference ("Error responses").
  const auto error = parse_error(R"(<?xml version="1.0" encoding="UTF-8"?>
<Error>
  <Code>NoSuchKey</Code>
  <Message>The resource you requested does not exist</Message>
  <Resource>/mybucket/myfoto.jpg</Resource>
  <RequestId>4442587FB7D0A2F9</RequestId>
</Error>)");
  ASSERT_TRUE(error) << error.error().message;
  EXPECT_EQ(error->code, "NoSuchKey");
  EXPECT_EQ(error->message, "The resource you requested does not exist");
  EXPECT_EQ(error->request_id, "4442587FB7D0A2F9");
  EXPECT_EQ(error->region, "");
  EXPECT_EQ(error->endpoint, "");
}

TEST(S3Xml, ErrorGivesTheRegionAndEndpointHints) {
  const auto malformed = parse_error(
      "<Error><Code>AuthorizationHeaderMalformed</Code><Message>The authorization header is malformed; the region "
      "'us-east-1' is wrong; expecting 'eu-west-1'</Message><Region>eu-west-1</Region>"
      "<RequestId>D9D1A2B5E6E58C4F</RequestId><HostId>Zx1Z2dWWJXwz0v7P0J8bXk1ZMMc=</HostId></Error>");
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->code, "AuthorizationHeaderMalformed");
  EXPECT_EQ(malformed->region, "eu-west-1");
  const auto redirect = parse_error(
      "<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access must be addressed using "
      "the specified endpoint. Please send all future requests to this endpoint.</Message>"
      "<Endpoint>examplebucket.s3.eu-west-1.amazonaws.com</Endpoint><Bucket>examplebucket</Bucket>"
      "<RequestId>5A37A8A2E2A1C5B3</RequestId></Error>");
  ASSERT_TRUE(redirect);
  EXPECT_EQ(redirect->endpoint, "examplebucket.s3.eu-west-1.amazonaws.com");
  EXPECT_EQ(redirect->request_id, "5A37A8A2E2A1C5B3");
}

TEST(S3Xml, ErrorKeepsNothingOfTheEchoedSigningData) {
  // SignatureDoesNotMatch echoes the string to sign and the canonical request,
  // which may hold a session token: none of it is kept.
  const auto error = parse_error(
      "<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the "
      "signature you provided. Check your key and signing method.</Message><AWSAccessKeyId>AKIAIOSFODNN7EXAMPLE"
      "</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256\n20130524T000000Z</StringToSign><SignatureProvided>abc"
      "</SignatureProvided><CanonicalRequest>GET\n/\n\nx-amz-security-token:SESSION-TOKEN\n</CanonicalRequest>"
      "<RequestId>4442587FB7D0A2F9</RequestId></Error>");
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, "SignatureDoesNotMatch");
  for (const std::string& field : {error->code, error->message, error->request_id, error->region, error->endpoint}) {
    EXPECT_EQ(field.find("SESSION-TOKEN"), std::string::npos);
    EXPECT_EQ(field.find("AKIA"), std::string::npos);
  }
}

TEST(S3Xml, ErrorWithoutACodeOrWithAnotherRootIsAProtocolError) {
  for (const char* body : {"<Error><Message>no code</Message></Error>", "<Error/>", "<Other><Code>X</Code></Other>",
                           "<html><body>502 Bad Gateway</body></html>"}) {
    SCOPED_TRACE(body);
    const auto error = parse_error(body);
    ASSERT_FALSE(error);
    EXPECT_EQ(error.error().kind, ErrorKind::Protocol);
  }
}

// --- CompleteMultipartUploadResult ----------------------------------------------

TEST(S3Xml, CompleteMultipartUploadGivesTheObjectETag) {
  // The CompleteMultipartUpload example of the S3 API Reference.
  const auto etag = parse_complete_multipart_upload(R"(<?xml version="1.0" encoding="UTF-8"?>
<CompleteMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Location>http://Example-Bucket.s3.Region.amazonaws.com/Example-Object</Location>
  <Bucket>Example-Bucket</Bucket>
  <Key>Example-Object</Key>
  <ETag>&quot;3858f62230ac3c915f300c664312c11f-9&quot;</ETag>
</CompleteMultipartUploadResult>)");
  ASSERT_TRUE(etag) << etag.error().message;
  EXPECT_EQ(*etag, "\"3858f62230ac3c915f300c664312c11f-9\"");
}

TEST(S3Xml, AnErrorInsteadOfAResultIsAnApiErrorWithS3sCode) {
  // S3 may answer CompleteMultipartUpload with 200 OK and an <Error> body.
  const auto etag = parse_complete_multipart_upload(R"(<?xml version="1.0" encoding="UTF-8"?>
<Error>
  <Code>InternalError</Code>
  <Message>We encountered an internal error. Please try again.</Message>
  <RequestId>656c76696e6727732072657175657374</RequestId>
  <HostId>Uuag1LuByRx9e6j5Onimru9pO4ZVKnJ2Qz7/C1NPcfTWAtRPfTaOFg==</HostId>
</Error>)");
  ASSERT_FALSE(etag);
  EXPECT_EQ(etag.error().kind, ErrorKind::Api);
  EXPECT_EQ(etag.error().message, "S3 error InternalError: We encountered an internal error. Please try again.");
  EXPECT_EQ(etag.error().request_id, "656c76696e6727732072657175657374");
}

// --- ListPartsResult ------------------------------------------------------------

TEST(S3Xml, ListPartsGivesPartsAndTheNextMarker) {
  // The ListParts example of the S3 API Reference, with S3's &quot; in ETags.
  const auto list = parse_list_parts(R"(<?xml version="1.0" encoding="UTF-8"?>
<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>example-bucket</Bucket>
  <Key>example-object</Key>
  <UploadId>XXBsb2FkIElEIGZvciBlbHZpbmcncyVcdS1tb3ZpZS5tMnRzEEEwbG9hZA</UploadId>
  <Initiator>
    <ID>arn:aws:iam::111122223333:user/some-user-11116a31-17b5-4fb7-9df5-b288870f11xx</ID>
    <DisplayName>umat-user-11116a31-17b5-4fb7-9df5-b288870f11xx</DisplayName>
  </Initiator>
  <Owner>
    <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>
    <DisplayName>someName</DisplayName>
  </Owner>
  <StorageClass>STANDARD</StorageClass>
  <PartNumberMarker>1</PartNumberMarker>
  <NextPartNumberMarker>3</NextPartNumberMarker>
  <MaxParts>2</MaxParts>
  <IsTruncated>true</IsTruncated>
  <Part>
    <PartNumber>2</PartNumber>
    <LastModified>2010-11-10T20:48:34.000Z</LastModified>
    <ETag>&quot;7778aef83f66abc1fa1e8477f296d394&quot;</ETag>
    <Size>10485760</Size>
  </Part>
  <Part>
    <PartNumber>3</PartNumber>
    <LastModified>2010-11-10T20:48:33.000Z</LastModified>
    <ETag>"aaaa18db4cc2f85cedef654fccc4a4x8"</ETag>
    <Size>10485760</Size>
  </Part>
</ListPartsResult>)");
  ASSERT_TRUE(list) << list.error().message;
  ASSERT_EQ(list->parts.size(), 2U);
  EXPECT_EQ(list->parts[0].number, 2);
  EXPECT_EQ(list->parts[0].etag, "\"7778aef83f66abc1fa1e8477f296d394\"");
  EXPECT_EQ(list->parts[0].size, 10485760U);
  EXPECT_EQ(list->parts[1].number, 3);
  EXPECT_EQ(list->parts[1].etag, "\"aaaa18db4cc2f85cedef654fccc4a4x8\"");
  EXPECT_TRUE(list->is_truncated);
  EXPECT_EQ(list->next_part_number_marker, 3);
}

TEST(S3Xml, ListPartsLastPageAndEmptyList) {
  const auto last = parse_list_parts(
      "<ListPartsResult><IsTruncated>false</IsTruncated><Part><PartNumber>10000</PartNumber>"
      "<ETag>\"e\"</ETag><Size>17179869184</Size></Part></ListPartsResult>");
  ASSERT_TRUE(last) << last.error().message;
  EXPECT_FALSE(last->is_truncated);
  EXPECT_EQ(last->next_part_number_marker, 0);
  ASSERT_EQ(last->parts.size(), 1U);
  EXPECT_EQ(last->parts[0].size, 17179869184U);  // sizes beyond 32 bits
  const auto empty = parse_list_parts("<ListPartsResult><IsTruncated>false</IsTruncated></ListPartsResult>");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->parts.empty());
}

TEST(S3Xml, ListPartsRefusesWhatWouldMisleadACompletion) {
  const char* part = "<Part><PartNumber>1</PartNumber><ETag>\"e\"</ETag><Size>5</Size></Part>";
  const std::string cases[] = {
      "<ListPartsResult>" + std::string(part) + "</ListPartsResult>",                                 // no IsTruncated
      "<ListPartsResult><IsTruncated>yes</IsTruncated></ListPartsResult>",                            // not a boolean
      "<ListPartsResult><IsTruncated>true</IsTruncated>" + std::string(part) + "</ListPartsResult>",  // no marker
      "<ListPartsResult><IsTruncated>true</IsTruncated><NextPartNumberMarker>x</NextPartNumberMarker></"
      "ListPartsResult>",
      "<ListPartsResult><IsTruncated>false</IsTruncated><Part><PartNumber>0</PartNumber><ETag>e</ETag><Size>1</Size>"
      "</Part></ListPartsResult>",
      "<ListPartsResult><IsTruncated>false</IsTruncated><Part><PartNumber>10001</PartNumber><ETag>e</ETag>"
      "<Size>1</Size></Part></ListPartsResult>",
      "<ListPartsResult><IsTruncated>false</IsTruncated><Part><PartNumber>2x</PartNumber><ETag>e</ETag>"
      "<Size>1</Size></Part></ListPartsResult>",
      "<ListPartsResult><IsTruncated>false</IsTruncated><Part><PartNumber>1</PartNumber><Size>1</Size></Part>"
      "</ListPartsResult>",
      "<ListPartsResult><IsTruncated>false</IsTruncated><Part><PartNumber>1</PartNumber><ETag>e</ETag>"
      "<Size>-1</Size></Part></ListPartsResult>",
      "<ListPartsResult><IsTruncated>false</IsTruncated><Part><PartNumber>1</PartNumber><ETag>e</ETag></Part>"
      "</ListPartsResult>",
  };
  for (const std::string& body : cases) {
    SCOPED_TRACE(body);
    const auto list = parse_list_parts(body);
    ASSERT_FALSE(list);
    EXPECT_EQ(list.error().kind, ErrorKind::Protocol);
  }
}

TEST(S3Xml, ListsAcceptBodiesUpToTheirLargerCap) {
  const std::string head = "<ListPartsResult><IsTruncated>false</IsTruncated>";
  const std::string tail = "</ListPartsResult>";
  const std::string at_cap = head + std::string(kMaxListResponseBytes - head.size() - tail.size(), '\n') + tail;
  EXPECT_TRUE(parse_list_parts(at_cap));
  const auto over = parse_list_parts(at_cap + "\n");
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().kind, ErrorKind::Protocol);
}

// --- ListBucketResult (ListObjectsV2) -----------------------------------------------

TEST(S3Xml, ListObjectsV2GivesKeysAndTheContinuationToken) {
  // The ListObjectsV2 examples of the S3 API Reference (a truncated page).
  const auto list = parse_list_objects_v2(R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>bucket</Name>
  <Prefix>mews/</Prefix>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
  <KeyCount>2</KeyCount>
  <MaxKeys>2</MaxKeys>
  <IsTruncated>true</IsTruncated>
  <Contents>
    <Key>mews/part-001.jsonl</Key>
    <LastModified>2009-10-12T17:50:30.000Z</LastModified>
    <ETag>"fba9dede5f27731c9771645a39863328"</ETag>
    <Size>434234</Size>
    <StorageClass>STANDARD</StorageClass>
  </Contents>
  <Contents>
    <Key>mews/R&amp;D &lt;draft&gt;.jsonl</Key>
    <LastModified>2009-10-12T17:50:30.000Z</LastModified>
    <ETag>"fba9dede5f27731c9771645a39863329"</ETag>
    <Size>10</Size>
    <StorageClass>STANDARD</StorageClass>
  </Contents>
</ListBucketResult>)");
  ASSERT_TRUE(list) << list.error().message;
  EXPECT_EQ(list->keys, (std::vector<std::string>{"mews/part-001.jsonl", "mews/R&D <draft>.jsonl"}));
  EXPECT_TRUE(list->is_truncated);
  EXPECT_EQ(list->next_continuation_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
}

TEST(S3Xml, ListObjectsV2LastAndEmptyPages) {
  const auto empty = parse_list_objects_v2(
      "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>bucket</Name><Prefix>none/</Prefix>"
      "<KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>");
  ASSERT_TRUE(empty) << empty.error().message;
  EXPECT_TRUE(empty->keys.empty());
  EXPECT_FALSE(empty->is_truncated);
  EXPECT_EQ(empty->next_continuation_token, "");
}

TEST(S3Xml, ListObjectsV2RefusesIncompleteOrEncodedPages) {
  for (const char* body : {
           "<ListBucketResult><Contents><Key>a</Key></Contents></ListBucketResult>",
           "<ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>a</Key></Contents></ListBucketResult>",
           "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Size>1</Size></Contents></ListBucketResult>",
           "<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated></ListBucketResult>",
           "<ListAllMyBucketsResult><IsTruncated>false</IsTruncated></ListAllMyBucketsResult>",
       }) {
    SCOPED_TRACE(body);
    const auto list = parse_list_objects_v2(body);
    ASSERT_FALSE(list);
    EXPECT_EQ(list.error().kind, ErrorKind::Protocol);
  }
}

// --- CompleteMultipartUpload body ---------------------------------------------------

TEST(S3Xml, CompleteBodyListsPartsInOrder) {
  const auto body = complete_multipart_upload_body({{.number = 2, .etag = "\"0c78aef83f66abc1fa1e8477f296d394\""},
                                                    {.number = 1, .etag = "\"a54357aff0632cce46d942af68356b38\""},
                                                    {.number = 3, .etag = "\"acbd18db4cc2f85cedef654fccc4a4d8\""}});
  ASSERT_TRUE(body) << body.error().message;
  EXPECT_EQ(*body,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
            "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
            "<Part><PartNumber>1</PartNumber><ETag>\"a54357aff0632cce46d942af68356b38\"</ETag></Part>"
            "<Part><PartNumber>2</PartNumber><ETag>\"0c78aef83f66abc1fa1e8477f296d394\"</ETag></Part>"
            "<Part><PartNumber>3</PartNumber><ETag>\"acbd18db4cc2f85cedef654fccc4a4d8\"</ETag></Part>"
            "</CompleteMultipartUpload>");
}

TEST(S3Xml, CompleteBodyEscapesETags) {
  const auto body = complete_multipart_upload_body({{.number = 1, .etag = "\"a&b<c>d\""}});
  ASSERT_TRUE(body) << body.error().message;
  EXPECT_NE(body->find("<ETag>\"a&amp;b&lt;c&gt;d\"</ETag>"), std::string::npos) << *body;
}

TEST(S3Xml, CompleteBodyRefusesImpossiblePartLists) {
  const std::vector<Part> cases[] = {
      {},
      {{.number = 0, .etag = "e"}},
      {{.number = 10001, .etag = "e"}},
      {{.number = 1, .etag = "e"}, {.number = 1, .etag = "f"}},
      {{.number = 1, .etag = ""}},
      {{.number = 1, .etag = "e\n<Part>"}},
  };
  for (const auto& parts : cases) {
    const auto body = complete_multipart_upload_body(parts);
    ASSERT_FALSE(body);
    EXPECT_EQ(body.error().kind, ErrorKind::Protocol);
  }
}

}  // namespace
