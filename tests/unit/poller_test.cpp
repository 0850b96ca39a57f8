#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "mews_export/poll_group.hpp"
#include "mews_export/poller.hpp"
#include "support/fake_clock.hpp"
#include "support/fake_transport.hpp"

using namespace mews_export;
using namespace mews_export::testing;
using namespace std::chrono;
using nlohmann::json;

namespace {

struct PollerFixture : ::testing::Test {
  FakeTransport transport;
  FakeClock clock;
  ApiClient api{transport, clock, ApiClientOptions{.base_url = "https://api.example", .credentials = {"c", "a", "t"}}};

  // Serves the statuses in `sequence`, one per getAll call, then the last one forever.
  void serve(std::vector<std::string> sequence) {
    auto calls = std::make_shared<std::size_t>(0);
    transport.on("/exports/getAll", [sequence, calls](const HttpRequest& request, const BodySink* sink) {
      const auto status = sequence[std::min(*calls, sequence.size() - 1)];
      ++*calls;
      json exports = json::array();
      const auto body = json::parse(request.body);
      for (const auto& id : body["ExportIds"]) {
        exports.push_back({{"Id", id}, {"Status", status}, {"EntityType", "Bill"}});
      }
      return respond(sink, 200, json{{"Exports", exports}}.dump());
    });
  }
};

}  // namespace

TEST_F(PollerFixture, FiveMinutePollsRunOnTheFakeClock) {
  serve({"Pending", "Processing", "Processing", "Success"});
  const std::vector<std::string> ids{"e1", "e2"};
  int polls = 0;
  auto result = wait_for_exports(api, clock, ids, {.on_poll = [&polls](const auto&) { ++polls; }});
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(polls, 4);
  ASSERT_EQ(result->size(), 2u);
  EXPECT_EQ((*result)[1].id, "e2");
  EXPECT_EQ((*result)[0].status, ExportStatus::Success);
  EXPECT_EQ(clock.sleeps(), (std::vector<Clock::duration>(3, minutes{5})));
  EXPECT_LE(transport.count("/exports/getAll"), 5u);  // one call per tick for all ids
}

TEST_F(PollerFixture, FailedIsTerminalAndReturnedForTheCallerToJudge) {
  serve({"Processing", "Failed"});
  const std::vector<std::string> ids{"e1"};
  auto result = wait_for_exports(api, clock, ids, {.interval = seconds{10}});
  ASSERT_TRUE(result);
  EXPECT_EQ(result->front().status, ExportStatus::Failed);
}

TEST_F(PollerFixture, TimesOutWithTheUnfinishedIds) {
  serve({"Processing"});
  const std::vector<std::string> ids{"slow-one"};
  auto result = wait_for_exports(api, clock, ids, {.interval = minutes{5}, .timeout = minutes{12}});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::WaitTimeout);
  EXPECT_EQ(exit_code(result.error()), 5);
  EXPECT_NE(result.error().message.find("slow-one"), std::string::npos);
  // 5m + 5m + the 2m left, then a last check.
  EXPECT_EQ(clock.sleeps(), (std::vector<Clock::duration>{minutes{5}, minutes{5}, minutes{2}}));
}

TEST_F(PollerFixture, MissingIdIsNotFound) {
  transport.on("/exports/getAll",
               [](const HttpRequest&, const BodySink* sink) { return respond(sink, 200, R"({"Exports":[]})"); });
  const std::vector<std::string> ids{"ghost"};
  auto result = wait_for_exports(api, clock, ids, {});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::NotFound);
}

TEST_F(PollerFixture, UnknownStatusesKeepPolling) {
  serve({"Queued", "Success"});
  const std::vector<std::string> ids{"e"};
  auto result = wait_for_exports(api, clock, ids, {});
  ASSERT_TRUE(result);
  EXPECT_EQ(transport.count("/exports/getAll"), 2u);
}

TEST_F(PollerFixture, JobsOfOneTokenShareTheirPolls) {
  // Each export is Success at its third poll; three jobs waiting at once.
  auto polls = std::make_shared<std::map<std::string, int>>();
  auto mutex = std::make_shared<std::mutex>();
  transport.on("/exports/getAll", [polls, mutex](const HttpRequest& request, const BodySink* sink) {
    json exports = json::array();
    const auto body = json::parse(request.body);
    // The first call takes a moment (real time): the other jobs start waiting meanwhile.
    if (polls->empty()) std::this_thread::sleep_for(std::chrono::milliseconds{200});
    std::lock_guard lock(*mutex);
    for (const auto& id : body["ExportIds"]) {
      const int n = ++(*polls)[id.get<std::string>()];
      exports.push_back({{"Id", id}, {"Status", n >= 3 ? "Success" : "Processing"}, {"EntityType", "Bill"}});
    }
    return respond(sink, 200, json{{"Exports", exports}}.dump());
  });
  PollGroup group(api, clock, minutes{5});
  std::vector<std::jthread> jobs;
  std::atomic<int> succeeded{0};
  for (const char* id : {"a", "b", "c"}) {
    jobs.emplace_back([&, id] {
      auto done = group.wait(id, {.timeout = hours{1}});
      if (done && done->status == ExportStatus::Success) ++succeeded;
    });
  }
  jobs.clear();  // joined
  EXPECT_EQ(succeeded.load(), 3);
  // Alone, three jobs would make nine calls; together: the first job's own
  // first call, then three rounds for all of them.
  EXPECT_LE(transport.count("/exports/getAll"), 5u);
  EXPECT_EQ(group.polls(), transport.count("/exports/getAll"));
}

TEST_F(PollerFixture, AGroupReportsMissingExportsAfterTheirGraceAndApiErrorsToEveryWaiter) {
  transport.on("/exports/getAll",
               [](const HttpRequest&, const BodySink* sink) { return respond(sink, 200, R"({"Exports":[]})"); });
  PollGroup group(api, clock, minutes{1});
  auto missing = group.wait("ghost", {.missing_grace = minutes{3}});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::NotFound);
  EXPECT_GE(clock.now() - FakeClock().now(), minutes{3});

  FakeTransport refusing;
  refusing.on("/exports/getAll", [](const HttpRequest&, const BodySink* sink) { return respond(sink, 401, "{}"); });
  ApiClient client{refusing, clock, api.options()};
  PollGroup refused(client, clock, minutes{1});
  EXPECT_EQ(refused.wait("x", {}).error().kind, ErrorKind::Refused);
}
