// run_job() on fakes: one add at most, re-attaching through the journal,
// asking again for an export getAll does not list yet, and what the journal
// says afterwards.
#include <gtest/gtest.h>

#include "mews_export/job.hpp"
#include "support/fake_clock.hpp"
#include "support/fake_transport.hpp"
#include "support/temp_dir.hpp"

using namespace mews_export;
using namespace mews_export::testing;
using namespace std::chrono;
using nlohmann::json;

namespace {

constexpr const char* kId = "3fa85f64-5717-4562-b3fc-2c963f66afa6";

// A fake API whose exports are Success after `polls` getAlls, with one file.
class FakeApi {
 public:
  explicit FakeApi(FakeTransport& transport) : transport_(transport) {
    transport.on("/exports/add", [this](const HttpRequest&, const BodySink* sink) {
      ++adds;
      if (pending_elsewhere > 0) {
        --pending_elsewhere;
        return respond(sink, 400, R"({"Message":"An export of this entity type is already pending."})");
      }
      return respond(sink, 200, json{{"Export", export_json(kId, "Pending")}}.dump());
    });
    transport.on("/exports/getAll", [this](const HttpRequest& r, const BodySink* sink) {
      json exports = json::array();
      if (hidden > 0) {
        --hidden;
      } else {
        const json body = json::parse(r.body);
        for (const auto& id : body["ExportIds"]) {
          if (id == kId || id == known) exports.push_back(export_json(id, ++polls >= 2 ? "Success" : "Processing"));
        }
      }
      return respond(sink, 200, json{{"Exports", exports}}.dump());
    });
    transport.on("files.example", [](const HttpRequest&, const BodySink* sink) { return respond(sink, 200, "{}\n"); });
  }

  static json export_json(const std::string& id, const std::string& status) {
    json files = json::array();
    if (status == "Success") files.push_back({{"Url", "https://files.example/" + id + "?sig=x"}, {"SizeInBytes", 3}});
    return {{"Id", id},
            {"Status", status},
            {"EntityType", "Bill"},
            {"Files", files},
            {"ExpiresUtc", "2099-01-01T00:00:00Z"}};
  }

  int adds = 0;
  int polls = 0;
  int hidden = 0;             // getAll answers that list nothing
  int pending_elsewhere = 0;  // adds answered 400 first
  std::string known;          // another id the API knows

 private:
  FakeTransport& transport_;
};

class JobTest : public ::testing::Test {
 protected:
  JobTest() { reset_cancel(); }

  JobSpec spec() const {
    return JobSpec{.args = AddArguments{.entity = "Bill"},
                   .output = DownloadSpec{.out_dir = dir.path() / "out", .parallel = 1},
                   .wait = WaitOptions{.interval = minutes{5}}};
  }
  Result<JobResult> run(const JobSpec& s) { return run_job(s, services); }
  JournalEntry journaled(const std::string& id) { return *Journal::open(dir.path() / "state")->find(id); }

  TempDir dir;
  FakeTransport transport;
  FakeClock clock;
  FakeApi fake{transport};
  ApiClient api{transport, clock,
                ApiClientOptions{.base_url = "https://api.example", .credentials = {"c", "a", "test"}}};
  Services services{.api = api, .transport = transport, .clock = clock, .state_dir = dir.path() / "state"};
};

}  // namespace

TEST_F(JobTest, AddsWaitsDownloadsAndJournalsTheOutcome) {
  auto result = run(spec());
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_FALSE(result->reattached);
  EXPECT_EQ(fake.adds, 1);
  EXPECT_EQ(result->download.directory, dir.path() / "out" / kId);
  EXPECT_EQ(slurp(result->download.directory / "part-001.jsonl"), "{}\n");
  const auto entry = journaled(kId);
  EXPECT_TRUE(entry.downloaded);
  EXPECT_EQ(entry.status, ExportStatus::Success);
  EXPECT_EQ(clock.sleeps(), (std::vector<Clock::duration>{minutes{5}}));
}

TEST_F(JobTest, AnExportGetAllDoesNotListIsAskedForAgainNeverAddedTwice) {
  fake.hidden = 3;  // the API lags behind its own add
  auto late = run(spec());
  ASSERT_TRUE(late) << late.error().message;
  EXPECT_EQ(fake.adds, 1);

  FakeTransport t;
  FakeApi never(t);
  never.hidden = 1'000'000;
  ApiClient client{t, clock, api.options()};
  Services other{.api = client, .transport = t, .clock = clock, .state_dir = dir.path() / "state2"};
  auto lost = run_job(spec(), other);
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().kind, ErrorKind::NotFound);
  EXPECT_EQ(lost.error().export_id, kId);
  EXPECT_EQ(never.adds, 1);
}

TEST_F(JobTest, AnUnfinishedExportOfTheSameJobIsReattachedNotAddedAgain) {
  auto journal = Journal::open(dir.path() / "state");
  ASSERT_TRUE(journal);
  const auto request = build_add_request(spec().args, utc_now(clock));
  const auto key = make_job_key("https://api.example", "c", "a", spec().args, *request);
  Export pending;
  pending.id = kId;
  pending.status = ExportStatus::Processing;
  ASSERT_TRUE(journal->record(JournalEntry::created(pending, key, "out", utc_now(clock))));
  auto result = run(spec());
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_TRUE(result->reattached);
  EXPECT_EQ(fake.adds, 0);
}

TEST_F(JobTest, AJournaledExportTheApiForgotIsReplacedOnce) {
  auto journal = Journal::open(dir.path() / "state");
  const auto request = build_add_request(spec().args, utc_now(clock));
  const auto key = make_job_key("https://api.example", "c", "a", spec().args, *request);
  Export old;
  old.id = "0ld0ld00-0000-0000-0000-000000000000";
  old.status = ExportStatus::Processing;
  ASSERT_TRUE(journal->record(JournalEntry::created(old, key, "out", utc_now(clock) - hours{48})));
  auto result = run(spec());
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_FALSE(result->reattached);
  EXPECT_EQ(fake.adds, 1);
  EXPECT_EQ(journaled(old.id).status, ExportStatus::NotFound);
}

TEST_F(JobTest, APendingExportThatIsNotOursIsTryLaterOrWaitedFor) {
  fake.pending_elsewhere = 1;
  auto refused = run(spec());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::PendingExists);
  EXPECT_EQ(exit_code(refused.error()), 75);

  fake.pending_elsewhere = 2;
  auto s = spec();
  s.wait_pending = true;
  auto waited = run(s);
  ASSERT_TRUE(waited) << waited.error().message;
  EXPECT_EQ(fake.adds, 4);  // refused, refused, refused, accepted
}
