#include <gtest/gtest.h>

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
  EXPECT_EQ(transport.count("/exports/getAll"), 4u);  // one call per tick for all ids
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
