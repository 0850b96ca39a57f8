// Drives the library itself (ApiClient over the libcurl transport, the poller
// and the downloader) against the real mews-sandbox over loopback HTTP.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "mews_export/api_client.hpp"
#include "mews_export/downloader.hpp"
#include "mews_export/poller.hpp"
#include "sha256.hpp"
#include "support/export_checks.hpp"
#include "support/sandbox_process.hpp"

using namespace mews_export;
using namespace mews_export::testing;
using namespace std::chrono;
using nlohmann::json;

namespace {

class Library : public ::testing::Test {
 protected:
  explicit Library(const json& scenario = json{{"entities", {{"*", {{"files", 3}, {"records_per_file", 200}}}}}})
      : sandbox_(scenario),
        transport_(make_curl_transport({.user_agent = "library-test"})),
        api_(*transport_, clock_,
             ApiClientOptions{.base_url = sandbox_.url(),
                              .credentials = {sandbox_.client_token(), sandbox_.access_token(), "library-test 1.0"},
                              .retry = {.max_attempts = 3, .base_delay = milliseconds{10}}}) {}

  Export wait_until_done(const std::string& id) {
    const std::vector<std::string> ids{id};
    auto done = wait_for_exports(api_, clock_, ids, {.interval = milliseconds{20}, .timeout = seconds{30}});
    EXPECT_TRUE(done) << (done ? "" : done.error().message);
    return done ? done->front() : Export{};
  }

  SandboxProcess sandbox_;
  SystemClock clock_;
  std::unique_ptr<HttpTransport> transport_;
  ApiClient api_;
  TempDir dir_{"mews-lib"};
};

}  // namespace

TEST_F(Library, AddPollAndDownloadByteIdenticalFiles) {
  auto created = api_.add_export(
      {.entity_type = EntityType::Reservation, .scope = {.enterprise_ids = std::vector<std::string>{"e-1", "e-2"}}});
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(created->status, ExportStatus::Pending);
  EXPECT_EQ(created->entity_type, EntityType::Reservation);
  const Export done = wait_until_done(created->id);
  ASSERT_EQ(done.status, ExportStatus::Success);
  ASSERT_EQ(done.files.size(), 3u);
  ASSERT_TRUE(done.scope && done.scope->enterprise_ids);
  EXPECT_EQ(done.scope->enterprise_ids->size(), 2u);

  Downloader downloader(*transport_, clock_, [&] {
    const std::vector<std::string> ids{done.id};
    auto fresh = api_.get_exports(ids);
    return fresh ? Result<Export>(fresh->front()) : std::unexpected(fresh.error());
  });
  auto result = downloader.download(done, {.out_dir = dir_.path(), .parallel = 3});
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->directory, dir_ / done.id);
  ASSERT_EQ(result->manifest.files.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    const auto served = sandbox_.file_content(done.id, i);
    ASSERT_TRUE(served);
    EXPECT_TRUE(read_file(result->directory / part_file_name(i)) == *served);
    EXPECT_EQ(result->manifest.files[i].sha256, detail::sha256_hex(*served));
    EXPECT_EQ(result->manifest.files[i].size_in_bytes, done.files[i].size_in_bytes);
    EXPECT_EQ(result->manifest.files[i].lines, 200u);
  }
  const auto manifest = parse_manifest(json::parse(read_file(result->directory / kManifestName)));
  ASSERT_TRUE(manifest);
  EXPECT_EQ(manifest->export_id, done.id);
}

TEST_F(Library, SecondPendingAddOfATypeIsRefusedWith400AndARequestId) {
  ASSERT_TRUE(api_.add_export({.entity_type = EntityType::Bill}));
  auto second = api_.add_export({.entity_type = EntityType::Bill});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().kind, ErrorKind::Api);
  EXPECT_EQ(second.error().http_status, 400);
  EXPECT_FALSE(second.error().request_id.empty());
  EXPECT_TRUE(api_.add_export({.entity_type = EntityType::Payment}));  // another type is fine
}

TEST_F(Library, GetAllBatchesMoreThanAThousandIdsAndOmitsUnknownOnes) {
  auto created = api_.add_export({.entity_type = EntityType::Customer});
  ASSERT_TRUE(created);
  std::vector<std::string> ids;
  for (int i = 0; i < 2100; ++i) ids.push_back("00000000-0000-0000-0000-" + std::to_string(100000000000 + i));
  ids.push_back(created->id);
  auto answer = api_.get_exports(ids);
  ASSERT_TRUE(answer) << answer.error().message;
  ASSERT_EQ(answer->size(), 1u);
  EXPECT_EQ(answer->front().id, created->id);
  EXPECT_EQ(sandbox_.stats()["api_requests"]["getAll"], 3);
}

TEST_F(Library, BadTokensAreRefused) {
  ApiClient wrong(*transport_, clock_,
                  ApiClientOptions{.base_url = sandbox_.url(), .credentials = {"x", "y", "library-test 1.0"}});
  auto answer = wrong.add_export({.entity_type = EntityType::Bill});
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().kind, ErrorKind::Refused);
  EXPECT_EQ(answer.error().http_status, 401);
}

TEST_F(Library, StreamModeConcatenatesEveryFileInOrder) {
  auto created = api_.add_export({.entity_type = EntityType::LedgerEntry,
                                  .filters = {.ledger_posting = PostingInterval{"2026-01-01", "2026-01-31"}}});
  ASSERT_TRUE(created) << created.error().message;
  const Export done = wait_until_done(created->id);
  Downloader downloader(*transport_, clock_, [] { return Result<Export>(fail(ErrorKind::Http, "no refresh")); });
  const auto path = dir_ / "stream.jsonl";
  std::FILE* out = std::fopen(path.c_str(), "wb");
  ASSERT_NE(out, nullptr);
  auto result = downloader.download(done, {.out_stream = out});
  std::fclose(out);
  ASSERT_TRUE(result) << result.error().message;
  std::string expected;
  for (std::size_t i = 0; i < done.files.size(); ++i) expected += *sandbox_.file_content(done.id, i);
  EXPECT_TRUE(read_file(path) == expected);
  // LedgerEntry records have the dedicated shape.
  const auto first = json::parse(expected.substr(0, expected.find('\n')));
  for (const char* key : {"Id", "EnterpriseId", "AccountingCategoryId", "LedgerEntryType", "PostingDate", "Value"}) {
    EXPECT_TRUE(first.contains(key)) << key;
  }
}

TEST_F(Library, BigFilesComeAsBoundedRangesOverRealHttpAndAreByteIdentical) {
  auto created = api_.add_export({.entity_type = EntityType::OrderItem});
  ASSERT_TRUE(created) << created.error().message;
  const Export done = wait_until_done(created->id);
  ASSERT_EQ(done.status, ExportStatus::Success);
  Downloader downloader(*transport_, clock_, [] { return Result<Export>(fail(ErrorKind::Http, "no refresh")); });
  DownloadOptions options{.out_dir = dir_.path(), .parallel = 1};
  options.split = 4;
  options.split_min_size = 1024;  // every file here is split
  options.split_probe_bytes = 0;  // always, without a probe
  options.validate = true;
  auto result = downloader.download(done, options);
  ASSERT_TRUE(result) << result.error().message;
  for (std::size_t i = 0; i < done.files.size(); ++i) {
    const auto served = sandbox_.file_content(done.id, i);
    ASSERT_TRUE(served);
    EXPECT_TRUE(read_file(result->directory / part_file_name(i)) == *served);
    EXPECT_EQ(result->manifest.files[i].sha256, detail::sha256_hex(*served));
    EXPECT_EQ(result->manifest.files[i].lines, 200u);
    EXPECT_FALSE(std::filesystem::exists(result->directory / (part_file_name(i) + ".part.ranges")));
  }
  // libcurl sent "bytes=A-B": 4 bounded ranges per file, as the sandbox saw them.
  const auto ranges = sandbox_.stats()["ranges"];
  ASSERT_EQ(ranges.size(), 4 * done.files.size());
  for (const auto& r : ranges) {
    const auto text = r.get<std::string>();
    EXPECT_TRUE(text.starts_with("bytes=") && text.back() != '-') << text;
  }
}

TEST_F(Library, AStreamOfBigFilesSpoolsRangesOverRealHttpInOrder) {
  auto created = api_.add_export({.entity_type = EntityType::OrderItem});
  ASSERT_TRUE(created) << created.error().message;
  const Export done = wait_until_done(created->id);
  ASSERT_EQ(done.status, ExportStatus::Success);
  Downloader downloader(*transport_, clock_, [] { return Result<Export>(fail(ErrorKind::Http, "no refresh")); });
  const auto path = dir_ / "split-stream.jsonl";
  std::FILE* out = std::fopen(path.c_str(), "wb");
  ASSERT_NE(out, nullptr);
  DownloadOptions options{.out_stream = out, .parallel = 1};
  options.split = 3;
  options.split_min_size = 1024;  // every file here is split
  options.split_probe_bytes = 0;  // always, without a probe
  options.hash_stream = true;
  auto result = downloader.download(done, options);
  std::fclose(out);
  ASSERT_TRUE(result) << result.error().message;
  std::string expected;
  for (std::size_t i = 0; i < done.files.size(); ++i) {
    const auto served = sandbox_.file_content(done.id, i);
    ASSERT_TRUE(served);
    expected += *served;
    EXPECT_EQ(result->manifest.files[i].sha256, detail::sha256_hex(*served));
    EXPECT_EQ(result->manifest.files[i].lines, 200u);
  }
  EXPECT_TRUE(read_file(path) == expected);
  EXPECT_EQ(sandbox_.stats()["ranges"].size(), 3 * done.files.size());  // the first live, two spooled
}

TEST_F(Library, AnyReceiveBufferARequestAsksForGetsTheSameBytes) {
  auto created = api_.add_export({.entity_type = EntityType::Reservation});
  ASSERT_TRUE(created) << created.error().message;
  const Export done = wait_until_done(created->id);
  ASSERT_FALSE(done.files.empty());
  const auto served = sandbox_.file_content(done.id, 0);
  ASSERT_TRUE(served);
  // 0: the transport's own; 100 and 4 MiB lie outside what libcurl takes and
  // are brought within it.
  for (const std::size_t buffer : {std::size_t{0}, std::size_t{100}, std::size_t{256} << 10, std::size_t{4} << 20}) {
    std::string body;
    const BodySink sink{.on_data = [&](std::string_view chunk) {
      body.append(chunk);
      return true;
    }};
    auto response = transport_->perform({.url = done.files[0].url, .receive_buffer = buffer}, &sink);
    ASSERT_TRUE(response) << buffer << ": " << response.error().message;
    EXPECT_EQ(response->status, 200) << buffer;
    EXPECT_TRUE(body == *served) << buffer;
  }
}
