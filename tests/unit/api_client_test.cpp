#include <gtest/gtest.h>

#include "mews_export/api_client.hpp"
#include "support/fake_clock.hpp"
#include "support/fake_transport.hpp"

using namespace mews_export;
using namespace mews_export::testing;
using namespace std::chrono;
using nlohmann::json;

namespace {

struct ApiFixture : ::testing::Test {
  FakeTransport transport;
  FakeClock clock;
  ApiClient api{transport, clock,
                ApiClientOptions{.base_url = "https://api.example/",
                                 .credentials = {.client_token = "CT", .access_token = "AT", .client = "test 1.0"},
                                 .retry = {.max_attempts = 4, .base_delay = milliseconds{100}}}};
};

json export_json(const std::string& id, const std::string& status = "Pending") {
  return {
      {"Id", id}, {"Status", status}, {"EntityType", "OrderItem"}, {"Files", json::array()}, {"ExpiresUtc", nullptr}};
}

}  // namespace

TEST_F(ApiFixture, AddPostsTheDocumentedBodyToTheExactPath) {
  transport.on("/exports/add", [](const HttpRequest&, const BodySink* sink) {
    return respond(sink, 200, json{{"Export", export_json("new-id")}}.dump());
  });
  auto created = api.add_export({.entity_type = EntityType::OrderItem});
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(created->id, "new-id");
  const auto requests = transport.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].url, "https://api.example/api/connector/v1/exports/add");
  EXPECT_EQ(requests[0].headers.at("Content-Type"), "application/json");
  const auto body = json::parse(requests[0].body);
  EXPECT_EQ(body["ClientToken"], "CT");
  EXPECT_EQ(body["AccessToken"], "AT");
  EXPECT_EQ(body["Client"], "test 1.0");
  EXPECT_EQ(body["EntityType"], "OrderItem");
}

TEST_F(ApiFixture, ErrorsCarryStatusMessageAndRequestId) {
  transport.on("/exports/add", [](const HttpRequest&, const BodySink* sink) {
    return respond(sink, 400, R"({"Message":"An export is already pending.","RequestId":"body-id"})",
                   {{"request-id", "header-id"}});
  });
  auto created = api.add_export({.entity_type = EntityType::Bill});
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().kind, ErrorKind::Api);
  EXPECT_EQ(created.error().http_status, 400);
  EXPECT_EQ(created.error().request_id, "header-id");
  EXPECT_NE(created.error().message.find("already pending"), std::string::npos);
  EXPECT_EQ(transport.count("/exports/add"), 1u);  // 400 is not retried
}

TEST_F(ApiFixture, UnauthorisedAndForbiddenAreRefusedWithoutRetry) {
  for (int status : {401, 403}) {
    FakeTransport t;
    ApiClient client{t, clock, api.options()};
    t.on("/exports/getAll",
         [status](const HttpRequest&, const BodySink* sink) { return respond(sink, status, R"({"Message":"nope"})"); });
    const std::vector<std::string> ids{"x"};
    auto answer = client.get_exports(ids);
    ASSERT_FALSE(answer);
    EXPECT_EQ(answer.error().kind, ErrorKind::Refused);
    EXPECT_EQ(exit_code(answer.error()), 3);
    EXPECT_EQ(t.count("/exports/getAll"), 1u);
  }
}

TEST_F(ApiFixture, RetriesServerErrorsAndHonoursRetryAfterOnTheFakeClock) {
  int calls = 0;
  transport.on("/exports/getAll", [&calls](const HttpRequest&, const BodySink* sink) {
    ++calls;
    if (calls == 1) return respond(sink, 429, R"({"Message":"slow down"})", {{"retry-after", "30"}});
    if (calls == 2) return respond(sink, 503, "");
    return respond(sink, 200, json{{"Exports", json::array({export_json("a", "Success")})}}.dump());
  });
  const std::vector<std::string> ids{"a"};
  const auto before = clock.now();
  auto answer = api.get_exports(ids);
  ASSERT_TRUE(answer) << answer.error().message;
  EXPECT_EQ(calls, 3);
  const auto sleeps = clock.sleeps();
  ASSERT_EQ(sleeps.size(), 2u);
  EXPECT_EQ(sleeps[0], seconds{30});
  EXPECT_LE(sleeps[1], milliseconds{200});
  EXPECT_GE(clock.now() - before, seconds{30});
}

TEST_F(ApiFixture, NetworkErrorsAreRetriedUntilTheAttemptBudgetIsSpent) {
  transport.on("/exports/getAll", [](const HttpRequest&, const BodySink*) -> Result<HttpResponse> {
    return fail(ErrorKind::Network, "connection reset");
  });
  const std::vector<std::string> ids{"a"};
  auto answer = api.get_exports(ids);
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().kind, ErrorKind::Network);
  EXPECT_EQ(transport.count("/exports/getAll"), 4u);
  EXPECT_NE(answer.error().message.find("4 attempts"), std::string::npos);
}

TEST_F(ApiFixture, GetAllSplitsMoreThanAThousandIds) {
  std::vector<std::size_t> batch_sizes;
  transport.on("/exports/getAll", [&batch_sizes](const HttpRequest& request, const BodySink* sink) {
    const auto ids = json::parse(request.body)["ExportIds"];
    batch_sizes.push_back(ids.size());
    json exports = json::array();
    for (const auto& id : ids) {
      if (id.get<std::string>() != "missing") exports.push_back(export_json(id.get<std::string>()));
    }
    return respond(sink, 200, json{{"Exports", exports}}.dump());
  });
  std::vector<std::string> ids;
  for (int i = 0; i < 2500; ++i) ids.push_back("id-" + std::to_string(i));
  ids.push_back("missing");
  auto answer = api.get_exports(ids);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->size(), 2500u);
  EXPECT_EQ(batch_sizes, (std::vector<std::size_t>{1000, 1000, 501}));
}

TEST_F(ApiFixture, MalformedSuccessBodyIsAProtocolError) {
  transport.on("/exports/getAll",
               [](const HttpRequest&, const BodySink* sink) { return respond(sink, 200, "<html>"); });
  const std::vector<std::string> ids{"a"};
  auto answer = api.get_exports(ids);
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().kind, ErrorKind::Protocol);
}

TEST_F(ApiFixture, SuccessfulAnswersAreReadWholeUpToTheCap) {
  // Far beyond the 64 KiB kept of error bodies: a getAll of thousands of files.
  json exports = json::array();
  json files = json::array();
  for (int i = 0; i < 5000; ++i) {
    files.push_back(
        {{"Url", "https://files.example/" + std::to_string(i) + "?sig=" + std::string(200, 's')}, {"SizeInBytes", i}});
  }
  exports.push_back({{"Id", "big"}, {"Status", "Success"}, {"EntityType", "Bill"}, {"Files", files}});
  const std::string body = json{{"Exports", exports}}.dump();
  ASSERT_GT(body.size(), 1u << 20);
  transport.on("/exports/getAll", [body](const HttpRequest&, const BodySink* sink) {
    return respond(sink, 200, body, {{"content-length", std::to_string(body.size())}});
  });
  const std::vector<std::string> ids{"big"};
  auto answer = api.get_exports(ids);
  ASSERT_TRUE(answer) << answer.error().message;
  EXPECT_EQ(answer->at(0).files.size(), 5000u);
}

TEST_F(ApiFixture, AnswersOverTheCapAreRefusedWithOrWithoutContentLength) {
  auto options = api.options();
  options.max_answer_bytes = 1024;
  for (const bool announce : {true, false}) {
    FakeTransport t;
    ApiClient client{t, clock, options};
    const std::string body = json{{"Exports", json::array()}, {"Padding", std::string(4096, 'x')}}.dump();
    std::size_t delivered = 0;
    t.on("/exports/getAll", [&, announce](const HttpRequest&, const BodySink* sink) {
      std::map<std::string, std::string> headers;
      if (announce) headers["content-length"] = std::to_string(body.size());
      auto r = respond(sink, 200, body, headers, 256);
      delivered = r ? body.size() : 0;
      return r;
    });
    const std::vector<std::string> ids{"x"};
    auto answer = client.get_exports(ids);
    ASSERT_FALSE(answer);
    EXPECT_EQ(answer.error().kind, ErrorKind::Protocol);
    EXPECT_NE(answer.error().message.find("more than 1024 bytes"), std::string::npos) << answer.error().message;
    EXPECT_EQ(t.count("/exports/getAll"), 1u);  // not retried
  }
}

TEST_F(ApiFixture, RedirectsAreErrorsNamingTheTargetHostAndAreNotFollowed) {
  for (int status : {301, 302, 303, 307, 308}) {
    FakeTransport t;
    ApiClient client{t, clock, api.options()};
    t.on("/exports/add", [status](const HttpRequest&, const BodySink* sink) {
      return respond(sink, status, "", {{"location", "https://evil.example/collect"}});
    });
    auto created = client.add_export({.entity_type = EntityType::Bill});
    ASSERT_FALSE(created);
    EXPECT_EQ(created.error().http_status, status);
    EXPECT_EQ(exit_code(created.error()), 1);
    EXPECT_NE(created.error().message.find("evil.example"), std::string::npos) << created.error().message;
    EXPECT_EQ(t.requests().size(), 1u);
  }
}

TEST_F(ApiFixture, AnAddAnswerWhoseIdCannotNameAFileIsRefused) {
  transport.on("/exports/add", [](const HttpRequest&, const BodySink* sink) {
    return respond(sink, 200, json{{"Export", export_json("../../etc")}}.dump());
  });
  auto created = api.add_export({.entity_type = EntityType::Bill});
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().kind, ErrorKind::Protocol);
}
