// Downloader and atomic file tests: FakeTransport + FakeClock, each test in its
// own temporary directory (kept when the test fails).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <future>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include "atomic_file.hpp"
#include "block_writer.hpp"
#include "mews_export/cancel.hpp"
#include "mews_export/downloader.hpp"
#include "mews_export/time.hpp"
#include "ranged.hpp"
#include "sha256.hpp"
#include "support/fake_clock.hpp"
#include "support/fake_transport.hpp"
#include "support/temp_dir.hpp"

namespace mews_export {
namespace {

namespace fs = std::filesystem;
using mews_export::testing::FakeTransport;
using mews_export::testing::respond;
using mews_export::testing::respond_cut;
using mews_export::testing::respond_file;
using nlohmann::json;
using namespace std::chrono_literals;

using testing::slurp;
using testing::TempDir;
using testing::write_text;

// `count` JSON lines, distinct per `seed`.
std::string make_lines(int count, const std::string& seed) {
  std::string out;
  for (int i = 0; i < count; ++i) {
    out += R"({"Id":")" + seed + "-" + std::to_string(i) + R"(","Value":)" + std::to_string(i * 7) + "}\n";
  }
  return out;
}

std::string url_of(const std::string& id, std::size_t index, const std::string& sig) {
  return "https://files.example.com/" + id + "/f" + std::to_string(index) + "?sig=" + sig;
}

// The route of file `index`: "/f3?" does not match "/f31?".
std::string route(std::size_t index) { return "/f" + std::to_string(index) + "?"; }

Export make_export(const std::string& id, const std::vector<std::string>& contents, const std::string& sig = "OLD",
                   ExportStatus status = ExportStatus::Success) {
  Export e;
  e.id = id;
  e.status = status;
  e.status_name = std::string(to_string(status));
  e.entity_type = EntityType::OrderItem;
  e.entity_type_name = "OrderItem";
  e.expires_utc = "2027-01-22T10:00:00Z";
  json files = json::array();
  for (std::size_t i = 0; i < contents.size(); ++i) {
    e.files.push_back(ExportFile{.url = url_of(id, i, sig), .size_in_bytes = contents[i].size()});
    files.push_back({{"Url", e.files.back().url}, {"SizeInBytes", contents[i].size()}});
  }
  e.raw = json{{"Id", id},
               {"Status", e.status_name},
               {"EntityType", "OrderItem"},
               {"Scope", {{"EnterpriseIds", {"ent-1"}}, {"ChainIds", nullptr}}},
               {"Filters", nullptr},
               {"Files", files},
               {"ExpiresUtc", *e.expires_utc}};
  return e;
}

// Serves `body`, honouring Range (206 + Content-Range) unless told not to; small
// chunks so that every test exercises chunk boundaries.
FakeTransport::Handler serve(std::string body, bool honour_range = true) {
  return [body = std::move(body), honour_range](const HttpRequest& r, const BodySink* sink) {
    if (!honour_range) return respond(sink, 200, body, {}, 7);
    return respond_file(r, sink, body, 7);
  };
}

// The first request gets the first `cut_at` bytes of `body`, then a connection
// reset; later ones are served by serve(body, honour_range).
FakeTransport::Handler reset_once_then_serve(const std::string& body, std::size_t cut_at, bool honour_range = true) {
  auto calls = std::make_shared<std::atomic<int>>(0);
  return [body, cut_at, calls, h = serve(body, honour_range)](const HttpRequest& r,
                                                              const BodySink* sink) -> Result<HttpResponse> {
    if ((*calls)++ == 0) return respond_cut(sink, std::string_view(body).substr(0, cut_at));
    return h(r, sink);
  };
}

class DownloaderTest : public ::testing::Test {
 protected:
  void SetUp() override { reset_cancel(); }
  void TearDown() override { reset_cancel(); }

  void serve_all(const std::vector<std::string>& contents) {
    for (std::size_t i = 0; i < contents.size(); ++i) transport.on(route(i), serve(contents[i]));
  }
  DownloadOptions dir_options(int parallel = 1) {
    DownloadOptions o;
    o.out_dir = dir.path();
    o.parallel = parallel;
    o.retry.max_attempts = 4;
    return o;
  }
  // A refresher returning `fresh` and counting its calls.
  UrlRefresher refresher(Export fresh) {
    return [this, fresh = std::move(fresh)]() -> Result<Export> {
      ++refreshes;
      std::this_thread::sleep_for(5ms);  // widen the window for concurrent callers
      return fresh;
    };
  }

  TempDir dir;
  FakeTransport transport;
  FakeClock clock;
  std::atomic<int> refreshes{0};
};

// ------------------------------------------------------------- happy paths

TEST_F(DownloaderTest, WritesByteIdenticalFilesAndManifestLast) {
  const std::vector<std::string> contents = {"abc", make_lines(50, "b"), "", "x\ny"};
  const auto exp = make_export("exp-1", contents);
  serve_all(contents);
  std::vector<DownloadProgress> progress;
  auto options = dir_options();
  options.on_progress = [&](const DownloadProgress& p) { progress.push_back(p); };

  Downloader downloader(transport, clock, nullptr);
  auto result = downloader.download(exp, options);
  ASSERT_TRUE(result) << result.error().message;
  const auto out = dir.path() / "exp-1";
  EXPECT_EQ(result->directory, out);
  EXPECT_FALSE(result->already_complete);
  for (std::size_t i = 0; i < contents.size(); ++i) {
    EXPECT_EQ(slurp(out / part_file_name(i)), contents[i]) << i;
    EXPECT_FALSE(fs::exists(out / (part_file_name(i) + ".part"))) << i;
  }

  const auto manifest = json::parse(slurp(out / kManifestName));
  EXPECT_EQ(manifest["ExportId"], "exp-1");
  EXPECT_EQ(manifest["EntityType"], "OrderItem");
  EXPECT_EQ(manifest["Scope"], exp.raw["Scope"]);
  EXPECT_TRUE(manifest["Filters"].is_null());
  EXPECT_EQ(manifest["ExpiresUtc"], "2027-01-22T10:00:00Z");
  EXPECT_EQ(manifest["CompletedUtc"], format_utc(std::chrono::floor<std::chrono::seconds>(clock.now())));
  ASSERT_EQ(manifest["Files"].size(), 4u);
  const auto& f = manifest["Files"];
  EXPECT_EQ(f[0]["Name"], "part-001.jsonl");
  EXPECT_EQ(f[0]["SizeInBytes"], 3);
  EXPECT_EQ(f[0]["Sha256"], "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");  // FIPS 180-2 "abc"
  EXPECT_EQ(f[0]["Lines"], 1);  // a last line without '\n' is a record
  EXPECT_EQ(f[1]["Sha256"], detail::sha256_hex(contents[1]));
  EXPECT_EQ(f[1]["Lines"], 50);
  EXPECT_EQ(f[2]["Sha256"], "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");  // empty
  EXPECT_EQ(f[2]["Lines"], 0);
  EXPECT_EQ(f[3]["Lines"], 2);
  EXPECT_EQ(f[3]["Name"], "part-004.jsonl");

  auto parsed = parse_manifest(manifest);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->files.size(), 4u);
  EXPECT_EQ(parsed->files[1].sha256, result->manifest.files[1].sha256);

  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back().file_bytes, progress.back().file_total);
}

TEST_F(DownloaderTest, PartFileNamesHaveThreeDigitsOrMore) {
  EXPECT_EQ(part_file_name(0), "part-001.jsonl");
  EXPECT_EQ(part_file_name(98), "part-099.jsonl");
  EXPECT_EQ(part_file_name(999), "part-1000.jsonl");
}

TEST_F(DownloaderTest, ZeroFileExportWritesAManifestWithNoFiles) {
  const auto exp = make_export("exp-empty", {});
  Downloader downloader(transport, clock, nullptr);
  auto result = downloader.download(exp, dir_options());
  ASSERT_TRUE(result) << result.error().message;
  const auto manifest = json::parse(slurp(dir.path() / "exp-empty" / kManifestName));
  EXPECT_TRUE(manifest["Files"].is_array());
  EXPECT_TRUE(manifest["Files"].empty());
  EXPECT_TRUE(transport.requests().empty());
}

TEST_F(DownloaderTest, ParallelDownloadOfManyFilesKeepsFileOrder) {
  std::vector<std::string> contents;
  for (int i = 0; i < 40; ++i) contents.push_back(make_lines(20 + i, "p" + std::to_string(i)));
  const auto exp = make_export("exp-par", contents);
  std::atomic<int> in_flight{0};
  std::atomic<int> max_in_flight{0};
  for (std::size_t i = 0; i < contents.size(); ++i) {
    transport.on(route(i), [&, h = serve(contents[i])](const HttpRequest& r, const BodySink* sink) {
      const int now = ++in_flight;
      int seen = max_in_flight.load();
      while (now > seen && !max_in_flight.compare_exchange_weak(seen, now)) {
      }
      std::this_thread::sleep_for(2ms);
      auto response = h(r, sink);
      --in_flight;
      return response;
    });
  }
  Downloader downloader(transport, clock, nullptr);
  auto result = downloader.download(exp, dir_options(4));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_GT(max_in_flight.load(), 1);
  EXPECT_LE(max_in_flight.load(), 4);
  ASSERT_EQ(result->manifest.files.size(), 40u);
  for (std::size_t i = 0; i < contents.size(); ++i) {
    EXPECT_EQ(result->manifest.files[i].name, part_file_name(i));
    EXPECT_EQ(result->manifest.files[i].sha256, detail::sha256_hex(contents[i]));
    EXPECT_EQ(slurp(dir.path() / "exp-par" / part_file_name(i)), contents[i]);
  }
}

// ------------------------------------------------------------ verification

TEST_F(DownloaderTest, TooLongBodyFailsVerificationAndLeavesNoFile) {
  auto exp = make_export("exp-long", {"0123456789"});
  exp.files[0].size_in_bytes = 5;
  serve_all({"0123456789"});
  Downloader downloader(transport, clock, nullptr);
  auto result = downloader.download(exp, dir_options());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::Verification);
  EXPECT_EQ(exit_code(result.error()), 6);
  const auto out = dir.path() / "exp-long";
  EXPECT_FALSE(fs::exists(out / "part-001.jsonl"));
  EXPECT_FALSE(fs::exists(out / "part-001.jsonl.part"));
  EXPECT_FALSE(fs::exists(out / kManifestName));
}

TEST_F(DownloaderTest, BodyAlwaysShorterThanAnnouncedFailsVerificationAfterRetries) {
  auto exp = make_export("exp-short", {"0123456789"});
  exp.files[0].size_in_bytes = 20;
  serve_all({"0123456789"});
  Downloader downloader(transport, clock, nullptr);
  auto result = downloader.download(exp, dir_options());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::Verification);
  EXPECT_FALSE(fs::exists(dir.path() / "exp-short" / "part-001.jsonl"));
}

// ------------------------------------------------------- retries and resume

TEST_F(DownloaderTest, TruncatedTransferIsResumedWithRange) {
  const std::string body = make_lines(40, "t");
  const auto exp = make_export("exp-trunc", {body});
  transport.on(route(0), reset_once_then_serve(body, 100));
  Downloader downloader(transport, clock, nullptr);
  auto result = downloader.download(exp, dir_options());
  ASSERT_TRUE(result) << result.error().message;
  const auto requests = transport.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_FALSE(requests[0].range_from.has_value());
  ASSERT_TRUE(requests[1].range_from.has_value());
  EXPECT_EQ(*requests[1].range_from, 100u);
  EXPECT_EQ(slurp(dir.path() / "exp-trunc" / "part-001.jsonl"), body);
  EXPECT_EQ(result->manifest.files[0].sha256, detail::sha256_hex(body));
  EXPECT_EQ(result->manifest.files[0].lines, 40u);
  EXPECT_EQ(clock.sleeps().size(), 1u);
}

TEST_F(DownloaderTest, ServerIgnoringRangeRestartsCleanly) {
  const std::string body = make_lines(40, "r");
  const auto exp = make_export("exp-norange", {body});
  transport.on(route(0), reset_once_then_serve(body, 100, /*honour_range=*/false));  // then 200, the whole file
  Downloader downloader(transport, clock, nullptr);
  auto result = downloader.download(exp, dir_options());
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(transport.requests().at(1).range_from.value_or(0), 100u);
  EXPECT_EQ(slurp(dir.path() / "exp-norange" / "part-001.jsonl"), body);
  EXPECT_EQ(result->manifest.files[0].sha256, detail::sha256_hex(body));
  EXPECT_EQ(result->manifest.files[0].lines, 40u);
}

TEST_F(DownloaderTest, WrongContentRangeRestartsFromZero) {
  const std::string body = make_lines(30, "w");
  const auto exp = make_export("exp-cr", {body});
  auto calls = std::make_shared<std::atomic<int>>(0);
  transport.on(route(0),
               [body, calls, h = serve(body)](const HttpRequest& r, const BodySink* sink) -> Result<HttpResponse> {
                 const int n = (*calls)++;
                 if (n == 0) return respond_cut(sink, std::string_view(body).substr(0, 100));
                 if (n == 1) return respond(sink, 206, body.substr(150), {{"content-range", "bytes 150-999/1000"}});
                 return h(r, sink);
               });
  Downloader downloader(transport, clock, nullptr);
  auto result = downloader.download(exp, dir_options());
  ASSERT_TRUE(result) << result.error().message;
  const auto requests = transport.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_FALSE(requests[2].range_from.has_value());
  EXPECT_EQ(slurp(dir.path() / "exp-cr" / "part-001.jsonl"), body);
}

TEST_F(DownloaderTest, PartFileFromAnEarlierRunIsResumed) {
  const std::string body = make_lines(30, "e");
  const auto exp = make_export("exp-prev", {body});
  fs::create_directories(dir.path() / "exp-prev");
  write_text(dir.path() / "exp-prev" / "part-001.jsonl.part", body.substr(0, 50));
  serve_all({body});
  Downloader downloader(transport, clock, nullptr);
  auto result = downloader.download(exp, dir_options());
  ASSERT_TRUE(result) << result.error().message;
  const auto requests = transport.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].range_from.value_or(0), 50u);
  EXPECT_EQ(slurp(dir.path() / "exp-prev" / "part-001.jsonl"), body);
  EXPECT_EQ(result->manifest.files[0].sha256, detail::sha256_hex(body));  // covers the old bytes too
  EXPECT_EQ(result->manifest.files[0].lines, 30u);
}

TEST_F(DownloaderTest, PartFileLongerThanAnnouncedIsDiscarded) {
  const std::string body = "short\n";
  const auto exp = make_export("exp-big-part", {body});
  fs::create_directories(dir.path() / "exp-big-part");
  write_text(dir.path() / "exp-big-part" / "part-001.jsonl.part", "something much longer\n");
  serve_all({body});
  Downloader downloader(transport, clock, nullptr);
  auto result = downloader.download(exp, dir_options());
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_FALSE(transport.requests().at(0).range_from.has_value());
  EXPECT_EQ(slurp(dir.path() / "exp-big-part" / "part-001.jsonl"), body);
}

TEST_F(DownloaderTest, RetryAfterIsHonoured) {
  const std::string body = make_lines(5, "ra");
  const auto exp = make_export("exp-ra", {body});
  auto calls = std::make_shared<std::atomic<int>>(0);
  transport.on(route(0), [calls, h = serve(body)](const HttpRequest& r, const BodySink* sink) {
    const int n = (*calls)++;
    if (n == 0) return respond(sink, 429, "", {{"retry-after", "7"}});
    if (n == 1) return respond(sink, 503, "", {{"retry-after", "42"}});
    return h(r, sink);
  });
  Downloader downloader(transport, clock, nullptr);
  auto result = downloader.download(exp, dir_options());
  ASSERT_TRUE(result) << result.error().message;
  const auto sleeps = clock.sleeps();
  ASSERT_EQ(sleeps.size(), 2u);
  EXPECT_EQ(sleeps[0], 7s);
  EXPECT_EQ(sleeps[1], 42s);
}

TEST_F(DownloaderTest, ServerErrorsUntilMaxAttemptsFail) {
  const auto exp = make_export("exp-500", {"data\n"});
  transport.on(route(0), [](const HttpRequest&, const BodySink* sink) { return respond(sink, 500, "oops"); });
  auto options = dir_options();
  options.retry.max_attempts = 3;
  Downloader downloader(transport, clock, nullptr);
  auto result = downloader.download(exp, options);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::Http);
  EXPECT_EQ(result.error().http_status, 500);
  EXPECT_EQ(exit_code(result.error()), 1);
  EXPECT_EQ(transport.count(route(0)), 3u);
  EXPECT_EQ(clock.sleeps().size(), 2u);
  EXPECT_EQ(result.error().message.find("sig="), std::string::npos) << result.error().message;
  EXPECT_NE(result.error().message.find("part-001.jsonl"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir.path() / "exp-500" / "part-001.jsonl"));
}

TEST_F(DownloaderTest, NonRetryableStatusFailsAtOnce) {
  const auto exp = make_export("exp-400", {"data\n"});
  transport.on(route(0), [](const HttpRequest&, const BodySink* sink) { return respond(sink, 400, "bad"); });
  Downloader downloader(transport, clock, nullptr);
  auto result = downloader.download(exp, dir_options());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::Http);
  EXPECT_EQ(transport.count(route(0)), 1u);
}

// ------------------------------------------------------------- URL refresh

TEST_F(DownloaderTest, RefusedUrlIsRefreshedOnceAndTheFreshUrlUsed) {
  const std::string body = make_lines(10, "f");
  const auto exp = make_export("exp-403", {body}, "OLD");
  transport.on(route(0), [h = serve(body)](const HttpRequest& r, const BodySink* sink) {
    if (r.url.find("sig=OLD") != std::string::npos) return respond(sink, 403, "AuthenticationFailed");
    return h(r, sink);
  });
  Downloader downloader(transport, clock, refresher(make_export("exp-403", {body}, "NEW")));
  auto result = downloader.download(exp, dir_options());
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(refreshes.load(), 1);
  const auto requests = transport.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_NE(requests[1].url.find("sig=NEW"), std::string::npos);
  EXPECT_TRUE(clock.sleeps().empty());
  EXPECT_EQ(slurp(dir.path() / "exp-403" / "part-001.jsonl"), body);
}

TEST_F(DownloaderTest, ConcurrentRefusalsShareOneRefresh) {
  std::vector<std::string> contents;
  for (int i = 0; i < 8; ++i) contents.push_back(make_lines(10, "c" + std::to_string(i)));
  const auto exp = make_export("exp-many403", contents, "OLD");
  auto arrived = std::make_shared<std::atomic<int>>(0);
  for (std::size_t i = 0; i < contents.size(); ++i) {
    transport.on(route(i), [arrived, h = serve(contents[i])](const HttpRequest& r, const BodySink* sink) {
      if (r.url.find("sig=OLD") != std::string::npos) {
        // Hold every worker here until all eight are in flight (bounded wait).
        ++*arrived;
        for (int spin = 0; spin < 2000 && arrived->load() < 8; ++spin) std::this_thread::sleep_for(1ms);
        return respond(sink, 403, "expired");
      }
      return h(r, sink);
    });
  }
  Downloader downloader(transport, clock, refresher(make_export("exp-many403", contents, "NEW")));
  auto result = downloader.download(exp, dir_options(8));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(arrived->load(), 8);
  EXPECT_EQ(refreshes.load(), 1);
  for (std::size_t i = 0; i < contents.size(); ++i) {
    EXPECT_EQ(slurp(dir.path() / "exp-many403" / part_file_name(i)), contents[i]);
  }
}

TEST_F(DownloaderTest, UrlOlderThanNineMinutesIsRefreshedBeforeRetrying) {
  const std::string body = make_lines(5, "old");
  const auto exp = make_export("exp-age", {body}, "OLD");
  auto calls = std::make_shared<std::atomic<int>>(0);
  transport.on(route(0), [calls, h = serve(body)](const HttpRequest& r, const BodySink* sink) {
    if ((*calls)++ == 0) return respond(sink, 429, "", {{"retry-after", "600"}});
    return h(r, sink);
  });
  Downloader downloader(transport, clock, refresher(make_export("exp-age", {body}, "NEW")));
  auto result = downloader.download(exp, dir_options());
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(refreshes.load(), 1);
  EXPECT_NE(transport.requests().at(1).url.find("sig=NEW"), std::string::npos);
}

TEST_F(DownloaderTest, ExportNoLongerSuccessfulOnRefreshIsExportFailed) {
  const auto exp = make_export("exp-gone", {"a\n"}, "OLD");
  transport.on(route(0), [](const HttpRequest&, const BodySink* sink) { return respond(sink, 403, ""); });
  Downloader downloader(transport, clock, refresher(make_export("exp-gone", {}, "NEW", ExportStatus::Expired)));
  auto result = downloader.download(exp, dir_options());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::ExportFailed);
  EXPECT_EQ(exit_code(result.error()), 4);
}

TEST_F(DownloaderTest, UrlRefusedEvenWhenFreshGivesUpAfterThreeRefreshes) {
  const auto exp = make_export("exp-deny", {"a\n"}, "OLD");
  transport.on(route(0), [](const HttpRequest&, const BodySink* sink) { return respond(sink, 403, ""); });
  Downloader downloader(transport, clock, refresher(make_export("exp-deny", {"a\n"}, "NEW")));
  auto result = downloader.download(exp, dir_options());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::Http);
  EXPECT_EQ(result.error().http_status, 403);
  EXPECT_EQ(refreshes.load(), 3);
  EXPECT_EQ(result.error().message.find("sig="), std::string::npos) << result.error().message;
}

// -------------------------------------------------- manifest and --force

TEST_F(DownloaderTest, VerifiedManifestMeansNothingIsFetchedAgain) {
  const std::vector<std::string> contents = {make_lines(3, "m0"), make_lines(4, "m1")};
  const auto exp = make_export("exp-done", contents);
  serve_all(contents);
  Downloader downloader(transport, clock, nullptr);
  ASSERT_TRUE(downloader.download(exp, dir_options()));
  const auto before = transport.requests().size();

  auto again = downloader.download(exp, dir_options());
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_TRUE(again->already_complete);
  EXPECT_EQ(transport.requests().size(), before);
  EXPECT_EQ(again->manifest.files.at(1).sha256, detail::sha256_hex(contents[1]));
}

TEST_F(DownloaderTest, ForceFetchesAgain) {
  const std::vector<std::string> contents = {make_lines(3, "m0"), make_lines(4, "m1")};
  const auto exp = make_export("exp-force", contents);
  serve_all(contents);
  Downloader downloader(transport, clock, nullptr);
  ASSERT_TRUE(downloader.download(exp, dir_options()));
  const auto before = transport.requests().size();

  auto options = dir_options();
  options.force = true;
  auto again = downloader.download(exp, options);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_FALSE(again->already_complete);
  EXPECT_EQ(transport.requests().size(), before + 2);
}

TEST_F(DownloaderTest, ManifestWithAMissingFileIsNotTrusted) {
  const std::vector<std::string> contents = {make_lines(3, "x0"), make_lines(4, "x1")};
  const auto exp = make_export("exp-miss", contents);
  serve_all(contents);
  Downloader downloader(transport, clock, nullptr);
  ASSERT_TRUE(downloader.download(exp, dir_options()));
  fs::remove(dir.path() / "exp-miss" / "part-002.jsonl");
  const auto before = transport.requests().size();

  auto again = downloader.download(exp, dir_options());
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_FALSE(again->already_complete);
  EXPECT_EQ(transport.requests().size(), before + 1);  // part-001 is re-hashed, not fetched
  EXPECT_EQ(slurp(dir.path() / "exp-miss" / "part-002.jsonl"), contents[1]);
  EXPECT_EQ(again->manifest.files[0].sha256, detail::sha256_hex(contents[0]));
}

TEST_F(DownloaderTest, ParseManifestRejectsMalformedObjects) {
  EXPECT_FALSE(parse_manifest(json::array()));
  EXPECT_FALSE(parse_manifest(json{{"ExportId", 3}, {"Files", json::array()}}));
  EXPECT_FALSE(parse_manifest(json{{"ExportId", "x"}}));
  EXPECT_FALSE(parse_manifest(json{{"ExportId", "x"}, {"Files", {{{"Name", "a"}, {"SizeInBytes", -1}}}}}));
  auto ok = parse_manifest(json{{"ExportId", "x"}, {"Files", json::array()}, {"Future", true}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->export_id, "x");
}

// ------------------------------------------------------------- stream mode

class StreamFile {
 public:
  StreamFile() : file_(std::tmpfile()) {}
  ~StreamFile() { std::fclose(file_); }
  std::FILE* get() const { return file_; }
  std::string contents() const {
    std::fflush(file_);
    std::rewind(file_);
    std::string out;
    char buffer[4096];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, file_)) > 0) out.append(buffer, n);
    return out;
  }

 private:
  std::FILE* file_;
};

TEST_F(DownloaderTest, StreamModeConcatenatesInOrderWithNewlineRepair) {
  const std::vector<std::string> contents = {"{\"a\":1}\n{\"a\":2}", "", "{\"a\":3}\n", "{\"a\":4}"};
  const auto exp = make_export("exp-stream", contents);
  serve_all(contents);
  StreamFile out;
  DownloadOptions options;
  options.out_stream = out.get();
  Downloader downloader(transport, clock, nullptr);
  auto result = downloader.download(exp, options);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(out.contents(), "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n{\"a\":4}\n");
  EXPECT_TRUE(result->directory.empty());
  EXPECT_TRUE(fs::is_empty(dir.path()));
  EXPECT_EQ(result->manifest.files.at(0).lines, 2u);
}

TEST_F(DownloaderTest, StreamModeResumeDoesNotRepeatBytes) {
  const std::string body = make_lines(30, "s");
  const auto exp = make_export("exp-sresume", {body});
  transport.on(route(0), reset_once_then_serve(body, 100, /*honour_range=*/false));  // then the whole file again
  StreamFile out;
  DownloadOptions options;
  options.out_stream = out.get();
  Downloader downloader(transport, clock, nullptr);
  auto result = downloader.download(exp, options);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(transport.requests().at(1).range_from.value_or(0), 100u);
  EXPECT_EQ(out.contents(), body);
}

TEST_F(DownloaderTest, StreamModeSizeMismatchFailsVerification) {
  auto exp = make_export("exp-smis", {"abcdef\n"});
  exp.files[0].size_in_bytes = 3;
  serve_all({"abcdef\n"});
  StreamFile out;
  DownloadOptions options;
  options.out_stream = out.get();
  Downloader downloader(transport, clock, nullptr);
  auto result = downloader.download(exp, options);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::Verification);
}

TEST_F(DownloaderTest, StreamWriteErrorIsIo) {
  const auto exp = make_export("exp-epipe", {"abc\n"});
  serve_all({"abc\n"});
  std::FILE* full = std::fopen("/dev/full", "w");
  if (full == nullptr) GTEST_SKIP() << "no /dev/full";
  DownloadOptions options;
  options.out_stream = full;
  Downloader downloader(transport, clock, nullptr);
  auto result = downloader.download(exp, options);
  std::fclose(full);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::Io);
}

// File 0 is answered only once file `ahead` has been asked for, which only
// fetching ahead gets to; `also` runs first at every request for `ahead`.
void hold_first_until_fetched_ahead(FakeTransport& transport, const std::vector<std::string>& contents,
                                    std::size_t ahead, const std::function<void()>& also = {}) {
  auto asked = std::make_shared<std::promise<void>>();
  auto answered = asked->get_future().share();
  transport.on(route(ahead), [asked, also, once = std::make_shared<std::once_flag>(), h = serve(contents[ahead])](
                                 const HttpRequest& r, const BodySink* sink) {
    std::call_once(*once, [&] { asked->set_value(); });
    if (also) also();
    return h(r, sink);
  });
  transport.on(route(0), [answered, h = serve(contents[0])](const HttpRequest& r, const BodySink* sink) {
    if (answered.wait_for(10s) != std::future_status::ready) return respond(sink, 400, "never fetched ahead");
    return h(r, sink);
  });
}

// Stream mode into `out`, with `parallel` transfers (fetch-ahead above 1).
DownloadOptions stream_options(StreamFile& out, int parallel) {
  DownloadOptions options;
  options.out_stream = out.get();
  options.parallel = parallel;
  return options;
}

TEST_F(DownloaderTest, StreamWithParallelFetchesAheadAndKeepsTheOrder) {
  std::vector<std::string> contents;
  for (int i = 0; i < 7; ++i) contents.push_back(make_lines(40 + i, "f" + std::to_string(i)));
  contents[3].pop_back();  // a last line without its newline, repaired in the stream
  contents[5].clear();     // an empty file
  const auto exp = make_export("exp-ahead", contents);
  serve_all(contents);
  hold_first_until_fetched_ahead(transport, contents, 2);
  StreamFile out;
  DownloadOptions options = stream_options(out, 3);
  Downloader downloader(transport, clock, nullptr);
  auto result = downloader.download(exp, options);
  ASSERT_TRUE(result) << result.error().message;
  std::string expected;
  for (const auto& c : contents) expected += c + (c.empty() || c.back() == '\n' ? "" : "\n");
  EXPECT_EQ(out.contents(), expected);
  ASSERT_EQ(result->manifest.files.size(), contents.size());
  EXPECT_EQ(result->manifest.files[3].lines, 43u);
  EXPECT_EQ(result->manifest.files[5].size_in_bytes, 0u);
  EXPECT_TRUE(result->manifest.files[1].sha256.empty());  // a stream is not hashed unless asked
}

// A pipe is limited by its receiving thread: a stream of one file at a time
// reads a whole block at once; files to disk, and several files at once, leave
// the transport its own (smaller) buffer.
TEST_F(DownloaderTest, OnlyAStreamOfOneFileAtATimeAsksForABlockSizedReceiveBuffer) {
  const std::vector<std::string> contents = {make_lines(30, "a"), make_lines(20, "b"), make_lines(10, "c")};
  serve_all(contents);
  const auto buffers_of = [&](const std::vector<std::string>& files, DownloadOptions options) {
    const std::size_t before = transport.requests().size();
    Downloader downloader(transport, clock, nullptr);
    auto result = downloader.download(make_export("exp-buffers", files), options);
    EXPECT_TRUE(result) << result.error().message;
    const auto requests = transport.requests();
    std::vector<std::size_t> buffers;
    for (std::size_t i = before; i < requests.size(); ++i) buffers.push_back(requests[i].receive_buffer);
    return buffers;
  };
  const std::size_t block = detail::kBlockSize;
  StreamFile one;
  EXPECT_EQ(buffers_of({contents[0]}, stream_options(one, 4)), std::vector<std::size_t>{block});
  StreamFile in_turn;
  EXPECT_EQ(buffers_of(contents, stream_options(in_turn, 1)), (std::vector<std::size_t>{block, block, block}));
  StreamFile ahead;
  EXPECT_EQ(buffers_of(contents, stream_options(ahead, 3)), (std::vector<std::size_t>{0, 0, 0}));
  DownloadOptions to_disk;
  to_disk.out_dir = dir.path();
  to_disk.parallel = 1;
  EXPECT_EQ(buffers_of({contents[0]}, to_disk), std::vector<std::size_t>{0});
}

TEST_F(DownloaderTest, StreamHashesWhenAskedAlsoForFilesFetchedAhead) {
  const std::vector<std::string> contents = {make_lines(30, "a"), make_lines(31, "b"), make_lines(32, "c")};
  const auto exp = make_export("exp-ahead-hash", contents);
  serve_all(contents);
  StreamFile out;
  DownloadOptions options = stream_options(out, 3);
  options.hash_stream = true;
  Downloader downloader(transport, clock, nullptr);
  auto result = downloader.download(exp, options);
  ASSERT_TRUE(result) << result.error().message;
  for (std::size_t i = 0; i < contents.size(); ++i) {
    EXPECT_EQ(result->manifest.files[i].sha256, detail::sha256_hex(contents[i])) << i;
  }
}

TEST_F(DownloaderTest, StreamWithParallelEmitsTheFilesBeforeOneThatFailed) {
  const std::vector<std::string> contents = {make_lines(20, "a"), make_lines(21, "b"), make_lines(22, "c"),
                                             make_lines(23, "d")};
  const auto exp = make_export("exp-ahead-fail", contents);
  serve_all(contents);
  transport.on(route(2), [](const HttpRequest&, const BodySink* sink) { return respond(sink, 400, "no"); });
  StreamFile out;
  DownloadOptions options = stream_options(out, 4);
  Downloader downloader(transport, clock, nullptr);
  auto result = downloader.download(exp, options);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::Http);
  EXPECT_EQ(out.contents(), contents[0] + contents[1]);  // in order, and nothing after the failed file
}

// ------------------------------------------------------- parallel ranges

// Options that split a file of 1 KiB or more into `split` ranges.
DownloadOptions split_options(const fs::path& out, int split) {
  DownloadOptions options;
  options.out_dir = out;
  options.split = split;
  options.split_min_size = 1024;
  return options;
}

TEST_F(DownloaderTest, ABigFileIsFetchedAsBoundedRangesIntoOneFileHashedInOrder) {
  const std::vector<std::string> contents = {make_lines(3000, "big")};
  const auto exp = make_export("exp-split", contents);
  serve_all(contents);
  Downloader downloader(transport, clock, nullptr);
  auto result = downloader.download(exp, split_options(dir.path(), 4));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(slurp(result->directory / "part-001.jsonl"), contents[0]);
  EXPECT_EQ(result->manifest.files[0].sha256, detail::sha256_hex(contents[0]));
  EXPECT_EQ(result->manifest.files[0].lines, 3000u);
  const auto requests = transport.requests();
  ASSERT_EQ(requests.size(), 4u);
  std::uint64_t covered = 0;
  for (const auto& r : requests) {
    ASSERT_TRUE(r.range_from && r.range_to);
    covered += *r.range_to - *r.range_from + 1;
  }
  EXPECT_EQ(covered, contents[0].size());  // no byte asked for twice
  EXPECT_FALSE(fs::exists(result->directory / "part-001.jsonl.part.ranges"));
}

TEST_F(DownloaderTest, AFailedRangeIsTheOnlyOneFetchedAgainByTheNextRun) {
  const std::vector<std::string> contents = {make_lines(2000, "resume")};
  const auto exp = make_export("exp-split-resume", contents);
  serve_all(contents);
  const auto third_from = (contents[0].size() / 4) * 2;
  // The third range: a few bytes, then a refusal that is not retried.
  transport.on(route(0), [&, h = serve(contents[0])](const HttpRequest& r, const BodySink* sink) {
    if (r.range_from == third_from) {  // a 206 whose connection drops after 100 bytes
      HttpResponse head;
      head.status = 206;
      head.headers["content-range"] = "bytes " + std::to_string(third_from) + "-" + std::to_string(*r.range_to) + "/" +
                                      std::to_string(contents[0].size());
      if (sink->decide(head) == BodyAction::Receive)
        sink->on_data(std::string_view(contents[0]).substr(third_from, 100));
      return Result<HttpResponse>(std::unexpected(Error{.kind = ErrorKind::Network, .message = "reset"}));
    }
    if (r.range_from == third_from + 100) return respond(sink, 400, "no");
    return h(r, sink);
  });
  DownloadOptions options = split_options(dir.path(), 4);
  Downloader downloader(transport, clock, nullptr);
  ASSERT_FALSE(downloader.download(exp, options));
  const auto sidecar = dir.path() / exp.id / "part-001.jsonl.part.ranges";
  ASSERT_TRUE(fs::exists(sidecar));

  serve_all(contents);
  const auto before = transport.requests().size();
  auto result = downloader.download(exp, options);
  ASSERT_TRUE(result) << result.error().message;
  const auto requests = transport.requests();
  ASSERT_EQ(requests.size(), before + 1);  // only the unfinished range, from where it stopped
  EXPECT_EQ(requests.back().range_from, third_from + 100);
  EXPECT_EQ(slurp(result->directory / "part-001.jsonl"), contents[0]);
  EXPECT_EQ(result->manifest.files[0].sha256, detail::sha256_hex(contents[0]));
  EXPECT_FALSE(fs::exists(sidecar));
}

// With a probe of 1000 bytes: `per_request` is how long each file request
// takes on the fake clock; `adjust` changes the options further.
Result<DownloadResult> probe_and_fetch(FakeTransport& transport, FakeClock& clock, const Export& exp,
                                       const std::string& body, const fs::path& out, Clock::duration per_request,
                                       const std::function<void(DownloadOptions&)>& adjust = {}) {
  transport.on(route(0), [&clock, per_request, h = serve(body)](const HttpRequest& r, const BodySink* sink) {
    clock.advance(per_request);
    return h(r, sink);
  });
  DownloadOptions options = split_options(out, 4);
  options.split_probe_bytes = 1000;
  options.split_below_rate = 1e6;  // bytes/s
  if (adjust) adjust(options);
  Downloader downloader(transport, clock, nullptr);
  return downloader.download(exp, options);
}

TEST_F(DownloaderTest, ASlowProbeSplitsTheRestOfTheFile) {
  const std::string body = make_lines(2000, "slow");
  const auto exp = make_export("exp-probe-slow", {body});
  auto result = probe_and_fetch(transport, clock, exp, body, dir.path(), std::chrono::seconds{1});  // 1000 B/s
  ASSERT_TRUE(result) << result.error().message;
  const auto requests = transport.requests();
  ASSERT_EQ(requests.size(), 5u);  // the probe, then the rest in 4 ranges
  EXPECT_EQ(requests[0].range_from, 0u);
  EXPECT_EQ(requests[0].range_to, 999u);
  EXPECT_EQ(slurp(result->directory / "part-001.jsonl"), body);
  EXPECT_EQ(result->manifest.files[0].sha256, detail::sha256_hex(body));
}

TEST_F(DownloaderTest, AFastProbeKeepsTheRestOnOneConnection) {
  // The rest is appended in one piece, as a resumed .part would be: hashed
  // as it comes, with no sidecar left and the probe's bytes kept.
  const std::string body = make_lines(2000, "fast");
  const auto exp = make_export("exp-probe-fast", {body});
  auto result = probe_and_fetch(transport, clock, exp, body, dir.path(), std::chrono::milliseconds{0});
  ASSERT_TRUE(result) << result.error().message;
  const auto requests = transport.requests();
  ASSERT_EQ(requests.size(), 2u);  // the probe, then everything else at once
  EXPECT_EQ(requests[1].range_from, 1000u);
  EXPECT_FALSE(requests[1].range_to);  // to the end
  EXPECT_EQ(slurp(result->directory / "part-001.jsonl"), body);
  EXPECT_EQ(result->manifest.files[0].sha256, detail::sha256_hex(body));
  EXPECT_EQ(result->manifest.files[0].lines, 2000u);
  EXPECT_FALSE(fs::exists(result->directory / "part-001.jsonl.part.ranges"));
}

TEST_F(DownloaderTest, WithForceAFastProbeIsNotFetchedTwice) {
  // --force starts the file again, but the probe this run just fetched is
  // not thrown away with the old .part.
  const std::string body = make_lines(2000, "forced");
  const auto exp = make_export("exp-probe-force", {body});
  auto result = probe_and_fetch(transport, clock, exp, body, dir.path(), std::chrono::milliseconds{0},
                                [](DownloadOptions& o) { o.force = true; });
  ASSERT_TRUE(result) << result.error().message;
  const auto requests = transport.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].range_from, 1000u);
  EXPECT_EQ(slurp(result->directory / "part-001.jsonl"), body);
  EXPECT_EQ(result->manifest.files[0].sha256, detail::sha256_hex(body));
}

TEST_F(DownloaderTest, AFreshBigFileIsNotProbedWhileEveryConnectionIsBusy) {
  // 4 big files, --parallel 4 --split 4: the 4 files in flight hold the
  // whole budget, so a probe could never be followed by ranges. Each file
  // comes in one request from its first byte, with no sidecar written.
  std::vector<std::string> contents;
  for (int i = 0; i < 4; ++i) contents.push_back(make_lines(2000, "busy" + std::to_string(i)));
  const auto exp = make_export("exp-busy", contents);
  // No answer before every file has been asked for: a worker that finished
  // early would otherwise free its connection before the last file started.
  std::mutex mutex;
  std::condition_variable asked;
  std::size_t requests_made = 0;
  for (std::size_t i = 0; i < contents.size(); ++i) {
    transport.on(route(i), [&, h = serve(contents[i])](const HttpRequest& r, const BodySink* sink) {
      {
        std::unique_lock lock(mutex);
        ++requests_made;
        asked.notify_all();
        asked.wait_for(lock, std::chrono::seconds{10}, [&] { return requests_made >= contents.size(); });
      }
      clock.advance(std::chrono::seconds{1});  // slow: a probe would split
      return h(r, sink);
    });
  }
  DownloadOptions options = split_options(dir.path(), 4);
  options.parallel = 4;
  options.split_probe_bytes = 1000;
  options.split_below_rate = 1e6;  // bytes/s
  Downloader downloader(transport, clock, nullptr);
  auto result = downloader.download(exp, options);
  ASSERT_TRUE(result) << result.error().message;
  const auto requests = transport.requests();
  ASSERT_EQ(requests.size(), 4u);
  for (const auto& r : requests) {
    EXPECT_FALSE(r.range_to) << "a bounded range (a probe) was asked for";
    EXPECT_EQ(r.range_from.value_or(0), 0u);
  }
  for (std::size_t i = 0; i < contents.size(); ++i) {
    const auto name = result->manifest.files[i].name;
    EXPECT_EQ(slurp(result->directory / name), contents[i]);
    EXPECT_EQ(result->manifest.files[i].sha256, detail::sha256_hex(contents[i]));
    EXPECT_FALSE(fs::exists(result->directory / (name + ".part.ranges")));
  }
}

TEST_F(DownloaderTest, ParallelOneStillSplitsALoneBigFileIntoSplitRanges) {
  // The connection budget is the larger of --parallel and --split: one file
  // at a time may still come as --split ranges.
  const std::string body = make_lines(2000, "lone");
  const auto exp = make_export("exp-lone", {body});
  auto result = probe_and_fetch(transport, clock, exp, body, dir.path(), std::chrono::seconds{1},  // a slow probe
                                [](DownloadOptions& o) { o.parallel = 1; });
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(transport.requests().size(), 5u);  // the probe, then the rest in 4 ranges
  EXPECT_EQ(slurp(result->directory / "part-001.jsonl"), body);
}

// --parallel 3 --split 3 into `out` (`adjust` may change the options), with
// every probe slow: `contents` served slowly (1 s per request on the fake
// clock, 5 ms for real so that requests overlap), keeping in `most` the most
// requests that were in flight at once.
Result<DownloadResult> fetch_with_a_budget_of_three(FakeTransport& transport, FakeClock& clock, const Export& exp,
                                                    const std::vector<std::string>& contents, const fs::path& out,
                                                    std::atomic<int>& most,
                                                    const std::function<void(DownloadOptions&)>& adjust = {}) {
  auto in_flight = std::make_shared<std::atomic<int>>(0);
  for (std::size_t i = 0; i < contents.size(); ++i) {
    transport.on(route(i), [&, in_flight, h = serve(contents[i])](const HttpRequest& r, const BodySink* sink) {
      const int now = ++*in_flight;
      int seen = most.load();
      while (now > seen && !most.compare_exchange_weak(seen, now)) {
      }
      clock.advance(std::chrono::seconds{1});
      std::this_thread::sleep_for(std::chrono::milliseconds{5});
      auto answer = h(r, sink);
      --*in_flight;
      return answer;
    });
  }
  DownloadOptions options = split_options(out, 3);
  options.parallel = 3;
  options.split_probe_bytes = 1000;
  options.split_below_rate = 1e12;
  if (adjust) adjust(options);
  return Downloader(transport, clock, nullptr).download(exp, options);
}

TEST_F(DownloaderTest, RangesNeverOpenMoreConnectionsThanTheBudget) {
  // Every probe is slow, so every file would split; but 2 files in flight
  // (--parallel 2, --split 3: a budget of 3) leave one connection idle:
  // ranges only take connections that no file is using, so never more than
  // 3 requests are in flight.
  std::vector<std::string> contents;
  for (int i = 0; i < 6; ++i) contents.push_back(make_lines(1500, "budget" + std::to_string(i)));
  const auto exp = make_export("exp-budget", contents);
  std::atomic<int> most{0};
  auto result = fetch_with_a_budget_of_three(transport, clock, exp, contents, dir.path(), most,
                                             [](DownloadOptions& o) { o.parallel = 2; });
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_LE(most.load(), 3);
  EXPECT_GT(transport.requests().size(), contents.size());  // some file was probed and split
  for (std::size_t i = 0; i < contents.size(); ++i) {
    EXPECT_EQ(slurp(result->directory / part_file_name(i)), contents[i]) << i;
    EXPECT_EQ(result->manifest.files[i].sha256, detail::sha256_hex(contents[i])) << i;
  }
}

// probe_and_fetch()'s options for a stream into `out` instead of a directory.
std::function<void(DownloadOptions&)> into_stream(StreamFile& out,
                                                  const std::function<void(DownloadOptions&)>& more = {}) {
  return [&out, more](DownloadOptions& o) {
    o.out_dir.reset();
    o.out_stream = out.get();
    if (more) more(o);
  };
}

// A stream into `out` that probes files of 1 KiB or more with 1000 bytes and
// splits them into `split` ranges when the probe came slower than 1 MB/s.
DownloadOptions probed_stream_options(StreamFile& out, int split) {
  DownloadOptions options;
  options.out_stream = out.get();
  options.split = split;
  options.split_min_size = 1024;
  options.split_probe_bytes = 1000;
  options.split_below_rate = 1e6;
  return options;
}

TEST_F(DownloaderTest, AStreamSplitsABigFileAfterASlowProbeAndEmitsItInOrder) {
  // The probe, then the rest as 4 ranges: the first streams live, the other
  // three are spooled and copied out after it, every byte once and in order.
  const std::string body = make_lines(2000, "stream-slow");
  const auto exp = make_export("exp-stream-slow", {body});
  StreamFile out;
  auto result = probe_and_fetch(transport, clock, exp, body, dir.path(), std::chrono::seconds{1},
                                into_stream(out, [](DownloadOptions& o) { o.hash_stream = true; }));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(out.contents(), body);
  const auto requests = transport.requests();
  ASSERT_EQ(requests.size(), 5u);
  EXPECT_EQ(requests[0].range_from, 0u);
  EXPECT_EQ(requests[0].range_to, 999u);
  // The probe, alone, reads a block at once; the ranges share the download
  // and keep the transport's own buffer (memory).
  EXPECT_EQ(requests[0].receive_buffer, detail::kBlockSize);
  for (std::size_t i = 1; i < requests.size(); ++i) EXPECT_EQ(requests[i].receive_buffer, 0u) << i;
  std::uint64_t covered = 0;
  for (const auto& r : requests) {
    ASSERT_TRUE(r.range_from && r.range_to);
    covered += *r.range_to - *r.range_from + 1;
  }
  EXPECT_EQ(covered, body.size());  // no byte asked for twice
  EXPECT_EQ(result->manifest.files[0].sha256, detail::sha256_hex(body));
  EXPECT_EQ(result->manifest.files[0].lines, 2000u);
  EXPECT_EQ(result->manifest.files[0].size_in_bytes, body.size());
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST_F(DownloaderTest, AStreamKeepsTheRestOfAFastProbeOnOneConnection) {
  const std::string body = make_lines(2000, "stream-fast");
  const auto exp = make_export("exp-stream-fast", {body});
  StreamFile out;
  auto result =
      probe_and_fetch(transport, clock, exp, body, dir.path(), std::chrono::milliseconds{0}, into_stream(out));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(out.contents(), body);
  const auto requests = transport.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].range_from, 1000u);
  EXPECT_FALSE(requests[1].range_to);  // to the end
  EXPECT_EQ(result->manifest.files[0].lines, 2000u);
}

TEST_F(DownloaderTest, AStreamWithNowhereToSpoolGetsTheRestInOnePiece) {
  const std::string body = make_lines(2000, "stream-notmp");
  const auto exp = make_export("exp-stream-notmp", {body});
  const char* old_tmpdir = std::getenv("TMPDIR");
  const std::string saved = old_tmpdir != nullptr ? old_tmpdir : "";
  ::setenv("TMPDIR", (dir.path() / "missing").c_str(), 1);
  StreamFile out;
  auto result = probe_and_fetch(transport, clock, exp, body, dir.path(), std::chrono::seconds{1}, into_stream(out));
  if (old_tmpdir != nullptr) {
    ::setenv("TMPDIR", saved.c_str(), 1);
  } else {
    ::unsetenv("TMPDIR");
  }
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(out.contents(), body);
  const auto requests = transport.requests();
  ASSERT_EQ(requests.size(), 2u);  // the slow probe, then the rest on its one connection
  EXPECT_EQ(requests[1].range_from, 1000u);
  EXPECT_FALSE(requests[1].range_to);
}

TEST_F(DownloaderTest, EmptyFilesAreFetchedWhateverTheSplitSize) {
  const std::vector<std::string> contents = {"", make_lines(10, "after")};
  const auto exp = make_export("exp-split-empty", contents);
  serve_all(contents);
  DownloadOptions to_dir = split_options(dir.path(), 4);
  to_dir.split_min_size = 0;
  auto result = Downloader(transport, clock, nullptr).download(exp, to_dir);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(slurp(result->directory / "part-001.jsonl"), "");
  EXPECT_EQ(slurp(result->directory / "part-002.jsonl"), contents[1]);
  StreamFile out;
  DownloadOptions to_stream = to_dir;
  into_stream(out)(to_stream);
  auto streamed = Downloader(transport, clock, nullptr).download(exp, to_stream);
  ASSERT_TRUE(streamed) << streamed.error().message;
  EXPECT_EQ(out.contents(), contents[1]);
}

TEST_F(DownloaderTest, AStreamFromAHostThatIgnoresRangesGetsTheFileInOnePiece) {
  const std::string body = make_lines(2000, "stream-whole");
  const auto exp = make_export("exp-stream-whole", {body});
  transport.on(route(0), serve(body, /*honour_range=*/false));
  StreamFile out;
  DownloadOptions options = split_options(dir.path(), 4);
  into_stream(out)(options);
  options.split_probe_bytes = 1000;
  auto result = Downloader(transport, clock, nullptr).download(exp, options);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(out.contents(), body);
  EXPECT_EQ(transport.requests().size(), 2u);  // the refused probe, then the whole file
}

TEST_F(DownloaderTest, AStreamWhoseSpooledRangeFailsEmitsOnlyBytesInOrderAndFails) {
  const std::string body = make_lines(2000, "stream-fail");
  const auto exp = make_export("exp-stream-fail", {body});
  const std::uint64_t rest = body.size() - 1000;
  const std::uint64_t third = 1000 + rest / 4 * 2;  // the start of the second spooled range
  transport.on(route(0), [&, h = serve(body)](const HttpRequest& r, const BodySink* sink) {
    clock.advance(std::chrono::seconds{1});  // a slow link: the probe splits
    if (r.range_from == third) return respond(sink, 403, "no");
    return h(r, sink);
  });
  StreamFile out;
  auto result = Downloader(transport, clock, nullptr).download(exp, probed_stream_options(out, 4));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::Http);
  const std::string emitted = out.contents();
  EXPECT_LE(emitted.size(), third);  // nothing of the failed range or after it
  EXPECT_EQ(emitted, body.substr(0, emitted.size()));
}

TEST_F(DownloaderTest, RangesResumedFromSidecarsStayWithinTheBudget) {
  // Three files, each left by an interrupted run as 3 ranges with 10 bytes
  // each: resumed with --parallel 3 --split 3, every file holds one of the 3
  // connections, so each fetches its ranges one at a time, never 9 at once.
  std::vector<std::string> contents;
  for (int i = 0; i < 3; ++i) contents.push_back(make_lines(1500, "resumed" + std::to_string(i)));
  const auto exp = make_export("exp-resumed-budget", contents);
  fs::create_directories(dir.path() / exp.id);
  for (std::size_t i = 0; i < contents.size(); ++i) {
    auto ranges = detail::plan_ranges(contents[i].size(), 3);
    std::ofstream part(dir.path() / exp.id / (part_file_name(i) + ".part"), std::ios::binary);
    for (auto& r : ranges) {
      r.done = 10;
      part.seekp(static_cast<std::streamoff>(r.start));
      part << contents[i].substr(r.start, 10);
    }
    write_text(dir.path() / exp.id / detail::ranges_file_name(part_file_name(i)),
               detail::ranges_text(contents[i].size(), ranges));
  }
  std::atomic<int> most{0};
  auto result = fetch_with_a_budget_of_three(transport, clock, exp, contents, dir.path(), most);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_LE(most.load(), 3);
  EXPECT_EQ(transport.requests().size(), 9u);  // each range once, from its 11th byte
  for (const auto& r : transport.requests()) EXPECT_NE(r.range_from.value_or(0), 0u);
  for (std::size_t i = 0; i < contents.size(); ++i) {
    EXPECT_EQ(slurp(result->directory / part_file_name(i)), contents[i]) << i;
    EXPECT_EQ(result->manifest.files[i].sha256, detail::sha256_hex(contents[i])) << i;
  }
}

TEST_F(DownloaderTest, AFileFetchedAheadSplitsOnTheConnectionsLeftIdle) {
  // --parallel 2 --split 3: the writer and one fetcher hold 2 of the 3
  // connections; the big file fetched ahead takes the third for its rest.
  const std::vector<std::string> contents = {make_lines(5, "small"), make_lines(2000, "ahead-big")};
  const auto exp = make_export("exp-ahead-split", contents);
  hold_first_until_fetched_ahead(transport, contents, 1, [&] { clock.advance(std::chrono::seconds{1}); });  // slow
  StreamFile out;
  DownloadOptions options = probed_stream_options(out, 3);
  options.parallel = 2;
  options.hash_stream = true;
  auto result = Downloader(transport, clock, nullptr).download(exp, options);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(out.contents(), contents[0] + contents[1]);
  std::vector<HttpRequest> big;
  for (const auto& r : transport.requests()) {
    if (r.url.find(route(1)) != std::string::npos) big.push_back(r);
  }
  ASSERT_EQ(big.size(), 3u);  // the probe, then the rest as 2 ranges
  std::uint64_t covered = 0;
  for (const auto& r : big) {
    ASSERT_TRUE(r.range_from && r.range_to);
    covered += *r.range_to - *r.range_from + 1;
  }
  EXPECT_EQ(covered, contents[1].size());
  EXPECT_EQ(result->manifest.files[1].sha256, detail::sha256_hex(contents[1]));
  EXPECT_EQ(result->manifest.files[1].lines, 2000u);
}

TEST_F(DownloaderTest, AStreamSplitsOnlyOnConnectionsNoFileIsUsing) {
  // Every probe is slow; the writer and two fetchers hold the budget of 3
  // until the fetchers run out of files: never more than 3 requests at once.
  std::vector<std::string> contents;
  for (int i = 0; i < 5; ++i) contents.push_back(make_lines(1500, "sbudget" + std::to_string(i)));
  const auto exp = make_export("exp-stream-budget", contents);
  std::atomic<int> most{0};
  StreamFile out;
  auto result = fetch_with_a_budget_of_three(transport, clock, exp, contents, dir.path(), most, into_stream(out));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_LE(most.load(), 3);
  std::string expected;
  for (const auto& c : contents) expected += c;
  EXPECT_EQ(out.contents(), expected);
}

TEST_F(DownloaderTest, APartWithHolesAndNoSidecarIsFetchedAgainFromTheStart) {
  const std::vector<std::string> contents = {make_lines(60000, "holes")};  // a few MiB
  const auto exp = make_export("exp-holes", contents);
  serve_all(contents);
  fs::create_directories(dir.path() / exp.id);
  const auto part = dir.path() / exp.id / "part-001.jsonl.part";
  {  // the last range of an interrupted split download, its sidecar deleted
    std::ofstream out(part, std::ios::binary);
    const auto at = contents[0].size() / 2;
    out.seekp(static_cast<std::streamoff>(at));
    out << contents[0].substr(at, 1000);
  }
  {
    const int fd = ::open(part.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    const off_t hole = ::lseek(fd, 0, SEEK_HOLE);
    ::close(fd);
    if (hole < 0 || static_cast<std::uint64_t>(hole) >= fs::file_size(part)) {
      GTEST_SKIP() << "this file system does not report holes";
    }
  }
  Downloader downloader(transport, clock, nullptr);
  DownloadOptions options = dir_options();
  options.split = 1;
  auto result = downloader.download(exp, options);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_FALSE(transport.requests().at(0).range_from.has_value());  // from byte 0, not from the .part's size
  EXPECT_EQ(slurp(result->directory / "part-001.jsonl"), contents[0]);
  EXPECT_EQ(result->manifest.files[0].sha256, detail::sha256_hex(contents[0]));
}

TEST_F(DownloaderTest, AHostThatIgnoresRangesGetsTheFileInOnePiece) {
  const std::vector<std::string> contents = {make_lines(1500, "whole")};
  const auto exp = make_export("exp-split-ignored", contents);
  transport.on(route(0), serve(contents[0], /*honour_range=*/false));
  Downloader downloader(transport, clock, nullptr);
  auto result = downloader.download(exp, split_options(dir.path(), 4));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(slurp(result->directory / "part-001.jsonl"), contents[0]);
  EXPECT_EQ(result->manifest.files[0].sha256, detail::sha256_hex(contents[0]));
  EXPECT_FALSE(fs::exists(result->directory / "part-001.jsonl.part.ranges"));
}

TEST_F(DownloaderTest, AOnePiecePartFileIsResumedInOnePiece) {
  const std::vector<std::string> contents = {make_lines(1500, "seq")};
  const auto exp = make_export("exp-split-seq", contents);
  serve_all(contents);
  fs::create_directories(dir.path() / exp.id);
  write_text(dir.path() / exp.id / "part-001.jsonl.part", contents[0].substr(0, 5000));
  Downloader downloader(transport, clock, nullptr);
  auto result = downloader.download(exp, split_options(dir.path(), 4));
  ASSERT_TRUE(result) << result.error().message;
  ASSERT_EQ(transport.requests().size(), 1u);
  EXPECT_EQ(transport.requests()[0].range_from, 5000u);
  EXPECT_FALSE(transport.requests()[0].range_to.has_value());
  EXPECT_EQ(slurp(result->directory / "part-001.jsonl"), contents[0]);
}

TEST_F(DownloaderTest, ValidateNamesTheFirstLineThatIsNotAnObjectAndKeepsThePart) {
  const std::vector<std::string> contents = {make_lines(5, "ok"),
                                             make_lines(2, "x") + "not json\n" + make_lines(3, "y")};
  const auto exp = make_export("exp-validate", contents);
  serve_all(contents);
  DownloadOptions options = dir_options();
  options.validate = true;
  Downloader downloader(transport, clock, nullptr);
  auto result = downloader.download(exp, options);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::Verification);
  EXPECT_NE(result.error().message.find("part-002.jsonl"), std::string::npos) << result.error().message;
  EXPECT_NE(result.error().message.find("line 3 (byte " + std::to_string(make_lines(2, "x").size()) + ")"),
            std::string::npos)
      << result.error().message;
  EXPECT_TRUE(fs::exists(dir.path() / exp.id / "part-001.jsonl"));  // a good file keeps its name
  EXPECT_FALSE(fs::exists(dir.path() / exp.id / "part-002.jsonl"));
  EXPECT_FALSE(fs::exists(dir.path() / exp.id / "manifest.json"));

  options.validate = false;  // without --validate the same bytes are accepted
  EXPECT_TRUE(downloader.download(exp, options));
}

TEST_F(DownloaderTest, ValidateAcceptsGoodFilesInEveryMode) {
  const std::vector<std::string> contents = {make_lines(300, "a"), make_lines(40, "b")};
  const auto exp = make_export("exp-validate-ok", contents);
  serve_all(contents);
  Downloader downloader(transport, clock, nullptr);
  DownloadOptions to_dir = split_options(dir.path(), 3);  // file 1 in ranges, through the PrefixHasher
  to_dir.validate = true;
  ASSERT_TRUE(downloader.download(exp, to_dir));
  StreamFile out;
  DownloadOptions to_stream = stream_options(out, 2);  // file 2 fetched ahead
  to_stream.validate = true;
  ASSERT_TRUE(downloader.download(exp, to_stream));
  EXPECT_EQ(out.contents(), contents[0] + contents[1]);
}

// -------------------------------------------------------- failure modes

TEST_F(DownloaderTest, ExportThatIsNotSuccessIsExportFailed) {
  const auto exp = make_export("exp-proc", {}, "OLD", ExportStatus::Processing);
  Downloader downloader(transport, clock, nullptr);
  auto result = downloader.download(exp, dir_options());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::ExportFailed);
  EXPECT_TRUE(transport.requests().empty());
  EXPECT_FALSE(fs::exists(dir.path() / "exp-proc"));
}

TEST_F(DownloaderTest, CancellationIsInterruptedAndKeepsThePartFile) {
  const std::string body = make_lines(40, "k");
  const auto exp = make_export("exp-cancel", {body});
  transport.on(route(0), [body](const HttpRequest&, const BodySink* sink) -> Result<HttpResponse> {
    if (sink->decide(HttpResponse{.status = 200}) != BodyAction::Receive ||
        !sink->on_data(std::string_view(body).substr(0, 100))) {
      return std::unexpected(Error{.kind = ErrorKind::Io});
    }
    request_cancel(SIGTERM);
    if (!sink->on_data(std::string_view(body).substr(100))) {
      return std::unexpected(Error{.kind = ErrorKind::Io, .message = "sink aborted"});
    }
    return respond(nullptr, 200, "");
  });
  Downloader downloader(transport, clock, nullptr);
  auto result = downloader.download(exp, dir_options());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::Interrupted);
  EXPECT_EQ(result.error().signal, SIGTERM);
  EXPECT_EQ(exit_code(result.error()), 143);
  const auto out = dir.path() / "exp-cancel";
  EXPECT_EQ(slurp(out / "part-001.jsonl.part"), body.substr(0, 100));
  EXPECT_FALSE(fs::exists(out / "part-001.jsonl"));
  EXPECT_FALSE(fs::exists(out / kManifestName));

  // The next run resumes where the interrupted one stopped.
  reset_cancel();
  FakeTransport second;
  second.on(route(0), serve(body));
  Downloader again(second, clock, nullptr);
  auto resumed = again.download(exp, dir_options());
  ASSERT_TRUE(resumed) << resumed.error().message;
  EXPECT_EQ(second.requests().at(0).range_from.value_or(0), 100u);
  EXPECT_EQ(slurp(out / "part-001.jsonl"), body);
}

TEST_F(DownloaderTest, UnwritableOutputDirectoryIsIoNamingThePath) {
  write_text(dir.path() / "not-a-dir", "x");
  const auto exp = make_export("exp-io", {"a\n"});
  auto options = dir_options();
  options.out_dir = dir.path() / "not-a-dir";
  Downloader downloader(transport, clock, nullptr);
  auto result = downloader.download(exp, options);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::Io);
  EXPECT_NE(result.error().message.find("not-a-dir"), std::string::npos) << result.error().message;
}

// ----------------------------------------------------- hostile servers

TEST_F(DownloaderTest, RedirectsAreFollowedOnlyToHttpsOrLoopbackHttp) {
  const std::string body = make_lines(5, "rd");
  const auto exp = make_export("exp-redir", {body});
  transport.on(route(0), [](const HttpRequest&, const BodySink* sink) {
    return respond(sink, 307, "", {{"location", "https://cdn.example.com/moved/f0?sig=CDN"}});
  });
  transport.on("/moved/f0", serve(body));
  Downloader downloader(transport, clock, nullptr);
  auto result = downloader.download(exp, dir_options());
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(slurp(dir.path() / "exp-redir" / "part-001.jsonl"), body);
  EXPECT_TRUE(clock.sleeps().empty());

  for (const std::string target : {"ftp://cdn.example.com/f", "file:///etc/passwd", "http://10.1.2.3/f?sig=x"}) {
    FakeTransport t;
    t.on(route(0), [target](const HttpRequest&, const BodySink* sink) {
      return respond(sink, 302, "", {{"location", target}});
    });
    const auto refused = make_export("exp-redir-bad", {body});
    Downloader d(t, clock, nullptr);
    auto r = d.download(refused, dir_options());
    ASSERT_FALSE(r) << target;
    EXPECT_EQ(r.error().kind, ErrorKind::Protocol) << r.error().message;
    EXPECT_NE(r.error().message.find("refusing a redirect"), std::string::npos) << r.error().message;
    EXPECT_EQ(t.requests().size(), 1u) << target;  // the target was never asked
  }
}

TEST_F(DownloaderTest, EndlessRedirectsStopAfterTen) {
  const auto exp = make_export("exp-loop", {"a\n"});
  transport.on(route(0), [](const HttpRequest& r, const BodySink* sink) {
    return respond(sink, 302, "", {{"location", r.url + "x"}});
  });
  Downloader downloader(transport, clock, nullptr);
  auto result = downloader.download(exp, dir_options());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::Protocol);
  EXPECT_EQ(transport.requests().size(), 11u);
}

TEST_F(DownloaderTest, UnusableFileUrlsFailAtOnceWithoutARequest) {
  for (const std::string url : {"", "relative/path", "ftp://h/f", "file:///etc/passwd", "http://10.1.2.3/f?sig=s"}) {
    auto exp = make_export("exp-badurl", {"a\n"});
    exp.files[0].url = url;
    FakeTransport t;
    Downloader d(t, clock, nullptr);
    auto result = d.download(exp, dir_options());
    ASSERT_FALSE(result) << url;
    EXPECT_EQ(result.error().kind, ErrorKind::Protocol) << url;
    EXPECT_TRUE(t.requests().empty()) << url;
    EXPECT_TRUE(clock.sleeps().empty()) << url;
    EXPECT_EQ(result.error().message.find("sig=s"), std::string::npos) << result.error().message;
  }
  auto insecure = make_export("exp-insecure", {"a\n"});
  insecure.files[0].url = "http://10.1.2.3/f0?sig=s";
  transport.on(route(0), serve("a\n"));
  auto options = dir_options();
  options.allow_insecure_http = true;
  Downloader downloader(transport, clock, nullptr);
  EXPECT_TRUE(downloader.download(insecure, options));
}

TEST_F(DownloaderTest, ResumeSendsIfRangeAndAChangedFileStartsOver) {
  const std::string first = make_lines(40, "v1");
  std::string second = first;
  second[20] = second[20] == 'a' ? 'b' : 'a';  // same size, other bytes
  const auto exp = make_export("exp-ifrange", {first});
  auto calls = std::make_shared<std::atomic<int>>(0);
  auto if_range = std::make_shared<std::string>();
  transport.on(route(0), [=](const HttpRequest& r, const BodySink* sink) -> Result<HttpResponse> {
    if ((*calls)++ == 0) return respond_cut(sink, std::string_view(first).substr(0, 100), {{"etag", "\"v1\""}});
    *if_range = r.headers.count("If-Range") ? r.headers.at("If-Range") : "";
    return respond(sink, 200, second, {{"etag", "\"v2\""}}, 7);  // the validator no longer matches
  });
  Downloader downloader(transport, clock, nullptr);
  auto result = downloader.download(exp, dir_options());
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(*if_range, "\"v1\"");
  EXPECT_EQ(slurp(dir.path() / "exp-ifrange" / "part-001.jsonl"), second);  // never spliced
  EXPECT_EQ(result->manifest.files[0].sha256, detail::sha256_hex(second));
}

TEST_F(DownloaderTest, AStreamThatChangedUnderneathFailsVerification) {
  const std::string first = make_lines(40, "v1");
  std::string second = first;
  second[20] = second[20] == 'a' ? 'b' : 'a';
  const auto exp = make_export("exp-schanged", {first});
  auto calls = std::make_shared<std::atomic<int>>(0);
  transport.on(route(0), [=](const HttpRequest&, const BodySink* sink) -> Result<HttpResponse> {
    if ((*calls)++ == 0) return respond_cut(sink, std::string_view(first).substr(0, 100), {{"etag", "\"v1\""}});
    return respond(sink, 200, second, {{"etag", "\"v2\""}});
  });
  StreamFile out;
  DownloadOptions options;
  options.out_stream = out.get();
  Downloader downloader(transport, clock, nullptr);
  auto result = downloader.download(exp, options);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::Verification);
  EXPECT_EQ(out.contents(), first.substr(0, 100));  // nothing of the other version
}

TEST_F(DownloaderTest, EveryByteThatArrivedStaysEvenWhenResumedResponsesFail) {
  // Each response is cut after 6 KiB: a 16 KiB file needs exactly three requests,
  // and a resumed response's bytes are kept although that response failed.
  const std::string body = make_lines(500, "cut");
  ASSERT_GT(body.size(), 12u * 1024);
  ASSERT_LT(body.size(), 18u * 1024);
  const std::size_t cut = 6 * 1024;
  const auto exp = make_export("exp-cuts", {body});
  transport.on(route(0), [body, cut](const HttpRequest& r, const BodySink* sink) -> Result<HttpResponse> {
    const std::size_t from = r.range_from.value_or(0);
    const std::string rest = body.substr(from);
    if (rest.size() <= cut) return serve(body)(r, sink);
    HttpResponse head{.status = from > 0 ? 206 : 200};
    if (from > 0)
      head.headers["content-range"] =
          "bytes " + std::to_string(from) + "-" + std::to_string(body.size() - 1) + "/" + std::to_string(body.size());
    if (sink->decide(head) != BodyAction::Receive) return std::unexpected(Error{.kind = ErrorKind::Io});
    sink->on_data(std::string_view(rest).substr(0, cut));
    return std::unexpected(Error{.kind = ErrorKind::Network, .message = "connection reset by peer"});
  });
  Downloader downloader(transport, clock, nullptr);
  auto result = downloader.download(exp, dir_options());
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(transport.requests().size(), (body.size() + cut - 1) / cut);
  EXPECT_EQ(slurp(dir.path() / "exp-cuts" / "part-001.jsonl"), body);
  // No scratch file anywhere: resumed bytes go straight into the .part.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path() / "exp-cuts"), fs::directory_iterator{}), 2);
}

TEST_F(DownloaderTest, SymbolicLinksInTheOutputAreRefusedNotFollowed) {
  const std::string body = make_lines(5, "sl");
  serve_all({body});
  const auto victim = dir.path() / "victim.txt";
  write_text(victim, "precious\n");
  for (const std::string name : {"part-001.jsonl", "part-001.jsonl.part", "manifest.json"}) {
    const auto exp = make_export("exp-link", {body});
    const auto out = dir.path() / "exp-link";
    fs::remove_all(out);
    fs::create_directories(out);
    fs::create_symlink(victim, out / name);
    Downloader downloader(transport, clock, nullptr);
    auto result = downloader.download(exp, dir_options());
    ASSERT_FALSE(result) << name;
    EXPECT_EQ(result.error().kind, ErrorKind::Io) << name;
    EXPECT_NE(result.error().message.find((out / name).string()), std::string::npos) << result.error().message;
    EXPECT_NE(result.error().message.find("symbolic link"), std::string::npos) << result.error().message;
    EXPECT_EQ(slurp(victim), "precious\n") << name;
  }
  // The export directory itself as a link to elsewhere.
  fs::remove_all(dir.path() / "exp-link");
  fs::create_directories(dir.path() / "elsewhere");
  fs::create_directory_symlink(dir.path() / "elsewhere", dir.path() / "exp-link");
  Downloader downloader(transport, clock, nullptr);
  auto result = downloader.download(make_export("exp-link", {body}), dir_options());
  ASSERT_FALSE(result);
  EXPECT_TRUE(fs::is_empty(dir.path() / "elsewhere"));
}

TEST_F(DownloaderTest, ALinkWithTheRightSizeIsNotTakenForAVerifiedFile) {
  const std::string body = "0123456789\n";
  const auto exp = make_export("exp-sized", {body});
  const auto out = dir.path() / "exp-sized";
  fs::create_directories(out);
  write_text(dir.path() / "same-size.txt", "abcdefghij\n");
  fs::create_symlink(dir.path() / "same-size.txt", out / "part-001.jsonl");
  serve_all({body});
  Downloader downloader(transport, clock, nullptr);
  auto result = downloader.download(exp, dir_options());
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("symbolic link"), std::string::npos) << result.error().message;
}

TEST_F(DownloaderTest, IdsThatCannotNameADirectoryAreRefused) {
  for (const std::string& id : std::vector<std::string>{"../escape", "a/b", "\x1b[2J", std::string("nul\0", 4), ".."}) {
    const auto exp = make_export(id, {"a\n"});
    Downloader downloader(transport, clock, nullptr);
    auto result = downloader.download(exp, dir_options());
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().kind, ErrorKind::Protocol);
  }
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

}  // namespace
}  // namespace mews_export
