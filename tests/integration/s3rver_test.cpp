// The s3rver harness (support/s3rver_process.hpp) against the real s3rver: it
// comes up on an ephemeral loopback port with private storage, its helpers
// read back what plain HTTP requests stored, and it goes away with the object.
#include <signal.h>

#include <cerrno>
#include <chrono>
#include <ctime>
#include <regex>
#include <string>

#include <gtest/gtest.h>
#include <httplib.h>

#include "support/s3rver_process.hpp"

namespace mews_export::testing {
namespace {

httplib::Client client_for(const S3rverProcess& s3) {
  httplib::Client client(s3.host(), s3.port());
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(30, 0);
  return client;
}

// "YYYYMMDDThhmmssZ" of now (UTC).
std::string amz_date() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

TEST(S3rverHarness, StartsOnAnEphemeralLoopbackPortWithPrivateStorage) {
  S3rverProcess a;
  S3rverProcess b;
  EXPECT_TRUE(std::regex_match(a.endpoint(), std::regex(R"(http://127\.0\.0\.1:\d+)"))) << a.endpoint();
  EXPECT_EQ(a.endpoint(), "http://127.0.0.1:" + std::to_string(a.port()));
  EXPECT_NE(a.port(), b.port());

  auto client = client_for(a);
  auto res = client.Get("/");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->body.find("<ListAllMyBucketsResult"), std::string::npos) << res->body;

  a.create_bucket("only-in-a");
  EXPECT_TRUE(std::filesystem::is_directory(a.data_dir() / "only-in-a"));
  EXPECT_EQ(a.keys("only-in-a"), std::vector<std::string>{});
  EXPECT_THROW(b.keys("only-in-a"), std::runtime_error);           // 404 NoSuchBucket
  EXPECT_THROW(a.create_bucket("only-in-a"), std::runtime_error);  // 409 BucketAlreadyExists
}

TEST(S3rverHarness, GetAndKeysSeeWhatAPutStored) {
  S3rverProcess s3;
  s3.create_bucket("exports");
  const char raw[] = "line 1\n\0\xff binary\r\n";
  const std::string bytes = std::string(raw, sizeof raw - 1) + std::string(100000, 'x');

  auto client = client_for(s3);
  auto res = client.Put("/exports/2024/reservations%20%2B%20more.jsonl", bytes, "application/octet-stream");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  ASSERT_EQ(res->status, 200) << res->body;
  s3.put("exports", "2024/a.jsonl", "a");
  s3.put("exports", "2025/b.jsonl", "b");

  EXPECT_EQ(s3.get("exports", "2024/reservations + more.jsonl"), bytes);
  EXPECT_EQ(s3.get("exports", "2024/a.jsonl"), "a");
  EXPECT_EQ(s3.get("exports", "2024/missing.jsonl"), std::nullopt);
  EXPECT_THROW(s3.get("no-such-bucket", "2024/a.jsonl"), std::runtime_error);  // 404 NoSuchBucket, not "absent"

  EXPECT_EQ(s3.keys("exports"),
            (std::vector<std::string>{"2024/a.jsonl", "2024/reservations + more.jsonl", "2025/b.jsonl"}));
  EXPECT_EQ(s3.keys("exports", "2024/"), (std::vector<std::string>{"2024/a.jsonl", "2024/reservations + more.jsonl"}));
  EXPECT_EQ(s3.keys("exports", "2026/"), std::vector<std::string>{});
}

TEST(S3rverHarness, KeysFollowsContinuationTokens) {
  S3rverProcess s3;
  s3.create_bucket("paged");
  std::vector<std::string> expected;
  for (int i = 0; i < 7; ++i) {
    expected.push_back("p/" + std::to_string(i));
    s3.put("paged", expected.back(), std::to_string(i));
  }
  s3.put("paged", "q/other", "not under p/");
  EXPECT_EQ(s3.keys("paged", "p/", 2), expected);  // 4 pages: 2 + 2 + 2 + 1
  EXPECT_EQ(s3.keys("paged", "p/", 7), expected);  // one full page, not truncated
  EXPECT_EQ(s3.keys("paged", "", 3).size(), 8u);
}

// Pins what the S3 tests can and cannot prove: s3rver takes any SigV4
// signature (and any region) for its access key, but rejects unknown access
// keys and signed requests without x-amz-content-sha256.
TEST(S3rverHarness, ChecksTheAccessKeyButNotTheSigV4Signature) {
  S3rverProcess s3;
  s3.create_bucket("signed");
  auto client = client_for(s3);
  auto authorization = [](const std::string& access_key) {
    return "AWS4-HMAC-SHA256 Credential=" + access_key +
           "/20240101/xx-nowhere-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
           "Signature=0000000000000000000000000000000000000000000000000000000000000000";
  };
  httplib::Headers good = {{"Authorization", authorization(S3rverProcess::access_key())},
                           {"x-amz-date", amz_date()},
                           {"x-amz-content-sha256", "UNSIGNED-PAYLOAD"}};
  auto res = client.Put("/signed/k", good, "bytes", "application/octet-stream");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(s3.get("signed", "k"), "bytes");

  httplib::Headers unknown_key = {{"Authorization", authorization("NOT-S3RVER")},
                                  {"x-amz-date", amz_date()},
                                  {"x-amz-content-sha256", "UNSIGNED-PAYLOAD"}};
  res = client.Get("/signed/k", unknown_key);
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 403);
  EXPECT_NE(res->body.find("<Code>InvalidAccessKeyId</Code>"), std::string::npos) << res->body;

  httplib::Headers no_sha = {{"Authorization", authorization(S3rverProcess::access_key())}, {"x-amz-date", amz_date()}};
  res = client.Get("/signed/k", no_sha);
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 400);
  EXPECT_NE(res->body.find("<Code>InvalidRequest</Code>"), std::string::npos) << res->body;
}

TEST(S3rverHarness, DestructorStopsAndReapsTheServer) {
  pid_t pid = -1;
  {
    S3rverProcess s3;
    pid = s3.pid();
    ASSERT_GT(pid, 0);
    EXPECT_EQ(kill(pid, 0), 0);
  }
  errno = 0;
  EXPECT_EQ(kill(pid, 0), -1);  // reaped, not a zombie
  EXPECT_EQ(errno, ESRCH);
}

TEST(S3rverHarness, StopReportsTheExitOfSigterm) {
  S3rverProcess s3;
  auto started = std::chrono::steady_clock::now();
  int code = s3.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5)) << "needed SIGKILL";
  EXPECT_EQ(code, 128 + SIGTERM);
  EXPECT_EQ(s3.stop(), -1);
}

}  // namespace
}  // namespace mews_export::testing
