// Sync windows, bookmarks and sync.jsonl, and sync_job() on fakes.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <atomic>

#include "mews_export/metrics.hpp"
#include "mews_export/sync.hpp"
#include "support/fake_clock.hpp"
#include "support/fake_transport.hpp"
#include "support/temp_dir.hpp"

using namespace mews_export;
using namespace mews_export::testing;
using namespace std::chrono;
using nlohmann::json;

namespace {

UtcTime at(const char* text) { return *parse_utc(text); }

// A fake API: every add succeeds at the first poll with one small file; the
// add requests are kept.
class FakeApi {
 public:
  explicit FakeApi(FakeTransport& transport) {
    transport.on("/exports/add", [this](const HttpRequest& r, const BodySink* sink) {
      if (fail_adds > 0) {
        --fail_adds;
        return respond(sink, 500, R"({"Message":"down"})");
      }
      const json body = json::parse(r.body);
      adds.push_back(body);
      const std::string id = "00000000-0000-0000-0000-" + std::to_string(100000000000 + adds.size());
      return respond(sink, 200, json{{"Export", export_json(id, "Pending", body)}}.dump());
    });
    transport.on("/exports/getAll", [this](const HttpRequest& r, const BodySink* sink) {
      const json body = json::parse(r.body);
      json exports = json::array();
      for (const auto& id : body["ExportIds"]) {
        const auto n = std::stoul(id.get<std::string>().substr(24)) - 100000000000;
        if (n >= 1 && n <= adds.size()) exports.push_back(export_json(id, "Success", adds[n - 1]));
      }
      return respond(sink, 200, json{{"Exports", exports}}.dump());
    });
    transport.on("files.example", [this](const HttpRequest&, const BodySink* sink) {
      if (fail_files > 0) {
        --fail_files;
        return respond(sink, 410, "gone");
      }
      return respond(sink, 200, "{}\n");
    });
  }

  static json export_json(const std::string& id, const std::string& status, const json& request) {
    json files = json::array();
    if (status == "Success") files.push_back({{"Url", "https://files.example/" + id + "?sig=x"}, {"SizeInBytes", 3}});
    return {{"Id", id},
            {"Status", status},
            {"EntityType", request["EntityType"]},
            {"Filters", request.value("Filters", json(nullptr))},
            {"Files", files},
            {"ExpiresUtc", "2099-01-01T00:00:00Z"}};
  }

  std::vector<json> adds;
  int fail_adds = 0;
  int fail_files = 0;
};

class SyncTest : public ::testing::Test {
 protected:
  SyncTest() { reset_cancel(); }

  SyncSpec spec(EntityType entity = EntityType::OrderItem) const {
    return SyncSpec{.entity = entity,
                    .out_dir = dir.path() / "out" / std::string(to_string(entity)),
                    .parallel = 1,
                    .wait = WaitOptions{.interval = seconds{1}}};
  }
  std::vector<json> sync_lines(EntityType entity = EntityType::OrderItem) {
    std::vector<json> out;
    std::istringstream in(slurp(dir.path() / "out" / std::string(to_string(entity)) / "sync.jsonl"));
    for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
    return out;
  }

  TempDir dir;
  FakeTransport transport;
  FakeClock clock{system_clock::time_point{seconds{1'800'000'000}}};
  FakeApi fake{transport};
  ApiClient api{transport, clock,
                ApiClientOptions{.base_url = "https://api.example", .credentials = {"c", "a", "test"}}};
  Services services{.api = api, .transport = transport, .clock = clock, .state_dir = dir.path() / "state"};
};

}  // namespace

TEST(SyncWindows, UpdatedWindowsEndFiveMinutesAgoAndSpanAtMost180Days) {
  const auto now = at("2026-11-30T12:00:00Z");
  const auto full = next_window(std::nullopt, now, false, false);
  ASSERT_TRUE(full);
  EXPECT_FALSE(full->start);
  EXPECT_EQ(full->end, at("2026-11-30T11:55:00Z"));
  EXPECT_EQ(full->directory_name(), "beginning_20261130T115500Z");

  const auto recent = next_window(at("2026-11-30T10:00:00Z"), now, false, false);
  EXPECT_EQ(recent->start, at("2026-11-30T10:00:00Z"));
  EXPECT_EQ(recent->end, at("2026-11-30T11:54:00Z"));  // five minutes and the skew margin
  EXPECT_EQ(recent->directory_name(), "20261130T100000Z_20261130T115400Z");

  const auto long_ago = next_window(at("2025-01-01T00:00:00Z"), now, false, false);
  EXPECT_EQ(long_ago->end - *long_ago->start, days{180});
  EXPECT_FALSE(next_window(at("2026-11-30T11:54:00Z"), now, false, false));  // nothing new yet
}

TEST(SyncWindows, PostingWindowsAreWholeDatesToYesterday) {
  const auto now = at("2026-11-30T12:00:00Z");
  EXPECT_FALSE(next_window(std::nullopt, now, true, false));
  const auto first = next_window(at("2026-11-01T00:00:00Z"), now, true, /*from_is_since=*/true);
  EXPECT_EQ(first->start, at("2026-11-01T00:00:00Z"));
  EXPECT_EQ(first->end, at("2026-11-29T00:00:00Z"));
  EXPECT_EQ(first->directory_name(), "20261101_20261129");
  EXPECT_EQ(first->arguments(EntityType::LedgerEntry).posting_to, "2026-11-29");
  const auto next = next_window(at("2026-11-28T00:00:00Z"), now, true, false);  // a bookmark's last date
  EXPECT_EQ(next->start, at("2026-11-29T00:00:00Z"));
  EXPECT_FALSE(next_window(at("2026-11-29T00:00:00Z"), now, true, false));
}

TEST(SyncLines, AppendedWholeAndAHalfLineFromACrashIsCutOff) {
  TempDir dir;
  write_text(dir.path() / "sync.jsonl", "{\"EndUtc\":\"2026-01-01T00:00:00Z\"}\n{\"half");
  const SyncLine line{.entity_type = "Bill",
                      .export_id = "e",
                      .window = SyncWindow{.start = at("2026-01-01T00:00:00Z"), .end = at("2026-02-01T00:00:00Z")},
                      .directory = "d",
                      .files = {"part-001.jsonl"},
                      .size_in_bytes = 3,
                      .lines = 1,
                      .completed_utc = "2026-02-01T00:10:00Z"};
  ASSERT_TRUE(append_sync_line(dir.path(), line));
  const auto text = slurp(dir.path() / "sync.jsonl");
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2);
  EXPECT_EQ(text.back(), '\n');
  EXPECT_EQ(last_synced_end(dir.path()), at("2026-02-01T00:00:00Z"));
}

TEST_F(SyncTest, TwoSyncsGiveContiguousWindowsAndMoveTheBookmark) {
  auto first = sync_job(spec(), services);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->windows, 1);
  ASSERT_EQ(fake.adds.size(), 1u);
  EXPECT_FALSE(fake.adds[0].contains("Filters"));  // the first sync is a full export
  clock.advance(hours{24});
  auto second = sync_job(spec(), services);
  ASSERT_TRUE(second) << second.error().message;
  ASSERT_EQ(fake.adds.size(), 2u);
  const auto lines = sync_lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(lines[0]["StartUtc"].is_null());
  EXPECT_EQ(lines[1]["StartUtc"], lines[0]["EndUtc"]);
  EXPECT_EQ(fake.adds[1]["Filters"]["UpdatedUtc"]["StartUtc"], lines[0]["EndUtc"]);
  EXPECT_EQ(fake.adds[1]["Filters"]["UpdatedUtc"]["EndUtc"], lines[1]["EndUtc"]);
  for (const auto& l : lines) {
    const auto window = dir.path() / "out" / "OrderItem" / l["Directory"].get<std::string>();
    EXPECT_EQ(slurp(window / "part-001.jsonl"), "{}\n");
    EXPECT_EQ(json::parse(slurp(window / "manifest.json"))["CompletedUtc"], l["CompletedUtc"]);
  }
}

TEST_F(SyncTest, AFirstSyncFromLongAgoBecomesConsecutiveWindowsOfAtMost180Days) {
  auto s = spec();
  s.since = utc_now(clock) - days{400};
  auto result = sync_job(s, services);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->windows, 3);
  const auto lines = sync_lines();
  ASSERT_EQ(lines.size(), 3u);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto start = *parse_utc(lines[i]["StartUtc"].get<std::string>());
    const auto end = *parse_utc(lines[i]["EndUtc"].get<std::string>());
    EXPECT_LE(end - start, days{180});
    if (i > 0) {
      EXPECT_EQ(lines[i]["StartUtc"], lines[i - 1]["EndUtc"]);
    }
  }
}

TEST_F(SyncTest, AFailedWindowKeepsTheBookmarkAndTheNextSyncFinishesItsExport) {
  ASSERT_TRUE(sync_job(spec(), services));
  clock.advance(hours{1});
  fake.fail_files = 1000;  // every download fails
  auto failed = sync_job(spec(), services);
  ASSERT_FALSE(failed);
  EXPECT_FALSE(failed.error().export_id.empty());
  EXPECT_EQ(sync_lines().size(), 1u);
  ASSERT_EQ(fake.adds.size(), 2u);
  const auto start = fake.adds[1]["Filters"]["UpdatedUtc"]["StartUtc"];

  fake.fail_files = 0;
  clock.advance(hours{1});
  auto again = sync_job(spec(), services);
  ASSERT_TRUE(again) << again.error().message;
  // The failed window's export is finished (re-attached, not added again),
  // then one more window reaches up to five minutes ago.
  EXPECT_EQ(again->windows, 2);
  EXPECT_EQ(fake.adds.size(), 3u);
  const auto lines = sync_lines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[1]["StartUtc"], start);
  EXPECT_EQ(lines[1]["ExportId"], "00000000-0000-0000-0000-100000000002");
  EXPECT_EQ(lines[2]["StartUtc"], lines[1]["EndUtc"]);
}

TEST_F(SyncTest, SinceWithABookmarkIsRefusedUnlessReset) {
  ASSERT_TRUE(sync_job(spec(), services));
  auto s = spec();
  s.since = utc_now(clock) - days{10};
  auto refused = sync_job(s, services);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::Usage);
  EXPECT_NE(refused.error().message.find("--reset"), std::string::npos);
  EXPECT_EQ(fake.adds.size(), 1u);
  s.reset = true;
  auto restarted = sync_job(s, services);
  ASSERT_TRUE(restarted) << restarted.error().message;
  EXPECT_EQ(fake.adds.back()["Filters"]["UpdatedUtc"]["StartUtc"], format_utc(*s.since));
}

TEST_F(SyncTest, LedgerEntriesSyncByPostingDateAndNeedAFirstDate) {
  auto refused = sync_job(spec(EntityType::LedgerEntry), services);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::Usage);
  auto s = spec(EntityType::LedgerEntry);
  s.since = utc_now(clock) - days{10};
  ASSERT_TRUE(sync_job(s, services));
  clock.advance(days{3});
  ASSERT_TRUE(sync_job(spec(EntityType::LedgerEntry), services));
  ASSERT_EQ(fake.adds.size(), 2u);
  const auto& first = fake.adds[0]["Filters"]["LedgerEntryFilters"]["Posting"];
  const auto& second = fake.adds[1]["Filters"]["LedgerEntryFilters"]["Posting"];
  EXPECT_EQ(first["Start"], format_date(*s.since));
  const auto first_end = *parse_date(first["End"].get<std::string>());
  EXPECT_EQ(second["Start"], format_date(first_end + days{1}));                               // the day after
  EXPECT_EQ(second["End"], format_date(std::chrono::floor<days>(utc_now(clock)) - days{1}));  // yesterday
}

TEST(Metrics, TextRoundTripsAndAFailedRunKeepsTheLastSuccess) {
  TempDir dir;
  const auto path = dir.path() / "mews.prom";
  const JobMetrics ok{.profile = "hotel \"a\"",
                      .entity = "Bill",
                      .last_run = 100,
                      .last_success = 160,
                      .exit_code = 0,
                      .bytes = 5,
                      .records = 2,
                      .files = 1,
                      .duration_seconds = 60};
  const JobMetrics other{.profile = "default", .entity = "Payment", .last_run = 90, .exit_code = 3};
  ASSERT_TRUE(update_metrics_file(path, {ok, other}));
  auto parsed = parse_metrics(slurp(path));
  ASSERT_EQ(parsed.size(), 2u);
  EXPECT_EQ(parsed[1].profile, "hotel \"a\"");
  EXPECT_EQ(parsed[1].last_success, 160);
  EXPECT_FALSE(parsed[0].last_success);  // never succeeded: no series

  JobMetrics failed = ok;
  failed.last_run = 200;
  failed.last_success.reset();
  failed.exit_code = 1;
  ASSERT_TRUE(update_metrics_file(path, {failed}));
  parsed = parse_metrics(slurp(path));
  ASSERT_EQ(parsed.size(), 2u);  // Payment's series kept
  EXPECT_EQ(parsed[1].last_run, 200);
  EXPECT_EQ(parsed[1].exit_code, 1);
  EXPECT_EQ(parsed[1].last_success, 160);
}

TEST(Metrics, TheFileIsReadableByTheCollectorWhateverTheUmask) {
  TempDir dir;
  const auto path = dir.path() / "mews.prom";
  const mode_t old = ::umask(077);
  const auto written = update_metrics_file(path, {JobMetrics{.profile = "default", .entity = "Bill", .last_run = 1}});
  ::umask(old);
  ASSERT_TRUE(written);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);  // node_exporter runs as another user
}
