// The sandbox's API faults (redirect, nested, pad, omit, file_url,
// control_chars) and its count of requests no route took, over real loopback
// HTTP (docs/sandbox.md, "Faults" and "Introspection").
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "sandbox_api.hpp"
#include "scenario.hpp"
#include "support/sandbox_process.hpp"

namespace {

using json = nlohmann::json;
using mews_export::testing::Api;
using mews_export::testing::kAdd;
using mews_export::testing::kGetAll;
using mews_export::testing::SandboxProcess;
using mews_export::testing::small_files;

TEST(SandboxApiFaults, RequestsNoRouteTookAreCountedAsOther) {
  SandboxProcess sb(small_files());
  Api api(sb);
  EXPECT_EQ(api.client().Get("/nowhere")->status, 404);
  EXPECT_EQ(api.client().Post("/api/connector/v1/exports/add/", "{}", "application/json")->status, 404);
  auto put = api.client().Put("/files/x", "", "text/plain");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 404);
  EXPECT_EQ(json::parse(put->body)["RequestId"], put->get_header_value("Request-Id"));
  EXPECT_EQ(api.client().Head("/x")->status, 404);
  json stats = sb.stats();
  EXPECT_EQ(stats["other_requests"], 4);
  EXPECT_EQ(stats["requests_total"], 4);  // /_sandbox/ calls are not counted
  EXPECT_EQ(stats["api_requests_total"], 0);

  // A sandbox that received nothing says so.
  SandboxProcess foreign(small_files());
  EXPECT_EQ(foreign.stats()["requests_total"], 0);
  EXPECT_EQ(foreign.stats()["other_requests"], 0);
}

}  // namespace

namespace {

json fault(const std::string& target, const std::string& action, json extra = json::object()) {
  json f{{"target", target}, {"action", action}};
  f.update(extra);
  return f;
}

TEST(SandboxApiFaults, RedirectAnswersWithTheGivenLocationAndCreatesNothing) {
  json scenario = small_files(1, 5);
  scenario["faults"] = {fault("add", "redirect", {{"location", "http://127.0.0.2:9/api/connector/v1/exports/add"}}),
                        fault("getAll", "redirect", {{"location", "https://elsewhere.example/x"}, {"status", 308}})};
  SandboxProcess sb(scenario);
  Api api(sb);
  auto moved = api.add("Bill");
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->status, 307);
  EXPECT_EQ(moved->get_header_value("Location"), "http://127.0.0.2:9/api/connector/v1/exports/add");
  EXPECT_EQ(sb.exports().size(), 0u);
  const std::string id = api.add_id("Bill");
  auto moved_again = api.get_all(json::array({id}));
  EXPECT_EQ(moved_again->status, 308);
  EXPECT_EQ(moved_again->get_header_value("Location"), "https://elsewhere.example/x");
  EXPECT_EQ(api.get(id)["Id"], id);
  EXPECT_EQ(sb.stats()["faults_triggered"]["redirect"], 2);
}

TEST(SandboxApiFaults, NestedAndPadEnlargeAnOtherwiseNormalAnswer) {
  json scenario = small_files(1, 5);
  scenario["faults"] = {fault("add", "nested", {{"depth", 3}, {"count", 2}}), fault("getAll", "nested", {{"after", 0}}),
                        fault("getAll", "pad", {{"after", 1}, {"bytes", 3 << 20}})};
  SandboxProcess sb(scenario);
  Api api(sb);
  auto added = api.add("Payment");
  ASSERT_EQ(added->status, 200);
  json answer = json::parse(added->body);
  EXPECT_EQ(answer["Export"]["Nested"], json::parse(R"([[{"a":[0]}],[{"a":[0]}]])"));
  EXPECT_EQ(answer["Export"]["Status"], "Pending");  // the add was processed
  const std::string id = answer["Export"]["Id"];

  // Default depth 100: 100 levels inside the Nested array.
  auto deep = api.get_all(json::array({id}));
  ASSERT_EQ(deep->status, 200);
  json nested = json::parse(deep->body)["Exports"][0]["Nested"];
  ASSERT_EQ(nested.size(), 1u);
  int levels = 0;
  for (json v = nested[0]; v.is_structured(); v = v.is_array() ? v[0] : v["a"]) ++levels;
  EXPECT_EQ(levels, 100);

  auto padded = api.get_all(json::array({id}));
  ASSERT_EQ(padded->status, 200);
  EXPECT_GT(padded->body.size(), std::size_t{3} << 20);
  json big = json::parse(padded->body);
  EXPECT_EQ(big["Padding"].get<std::string>().size(), std::size_t{3} << 20);
  EXPECT_EQ(big["Exports"][0]["Id"], id);
  EXPECT_EQ(sb.exports()[0]["Polls"], 2);  // both getAlls were processed
}

TEST(SandboxApiFaults, OmitLeavesExportsOutAndFileUrlReplacesUrls) {
  json scenario = small_files(2, 5);
  scenario["progression"] = {{"pending_polls", 0}, {"processing_polls", 0}};
  scenario["faults"] = {fault("getAll", "omit", {{"after", 1}}),
                        fault("getAll", "file_url", {{"after", 2}, {"times", 2}, {"url", "file:///etc/passwd"}})};
  SandboxProcess sb(scenario);
  Api api(sb);
  const std::string id = api.add_id("Company");
  for (int i = 0; i < 200 && !sb.exports()[0]["Indexed"].get<bool>(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(api.get(id)["Status"], "Success");  // getAll #0
  const auto polls = sb.exports()[0]["Polls"].get<int>();
  auto omitted = api.get_all(json::array({id}));
  ASSERT_EQ(omitted->status, 200);
  EXPECT_EQ(json::parse(omitted->body)["Exports"], json::array());
  EXPECT_EQ(sb.exports()[0]["Polls"], polls);  // as if unknown: no poll counted
  json replaced = api.get(id);
  ASSERT_EQ(replaced["Files"].size(), 2u);
  for (const auto& f : replaced["Files"]) EXPECT_EQ(f["Url"], "file:///etc/passwd");
  EXPECT_EQ(api.get(id)["Files"][1]["Url"], "file:///etc/passwd");
  EXPECT_NE(api.get(id)["Files"][0]["Url"], "file:///etc/passwd");
}

TEST(SandboxApiFaults, ControlCharsInMessageAndRequestId) {
  json scenario = small_files(1, 5);
  scenario["faults"] = {fault("add", "control_chars")};
  SandboxProcess sb(scenario);
  Api api(sb);
  auto res = api.add("Bill");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  const std::string header = res->get_header_value("Request-Id");
  EXPECT_NE(header.find('\x1b'), std::string::npos);
  EXPECT_NE(header.find('\x07'), std::string::npos);
  json body = json::parse(res->body);
  const std::string message = body["Message"];
  for (char c : {'\x1b', '\r', '\x07'}) EXPECT_NE(message.find(c), std::string::npos) << int(c);
  EXPECT_EQ(body["RequestId"], header);
  EXPECT_EQ(sb.exports().size(), 0u);
}

TEST(SandboxApiFaults, ScenarioChecksTheNewActions) {
  using mews_sandbox::parse_scenario;
  EXPECT_THROW(parse_scenario(json{{"faults", {fault("add", "redirect")}}}), std::runtime_error);     // no location
  EXPECT_THROW(parse_scenario(json{{"faults", {fault("getAll", "file_url")}}}), std::runtime_error);  // no url
  EXPECT_THROW(parse_scenario(json{{"faults", {fault("add", "omit")}}}), std::runtime_error);
  EXPECT_THROW(parse_scenario(json{{"faults", {fault("file", "pad")}}}), std::runtime_error);
  EXPECT_THROW(parse_scenario(json{{"faults", {fault("add", "nested", {{"depth", 0}})}}}), std::runtime_error);
  const auto s =
      parse_scenario(json{{"faults",
                           {fault("getAll", "redirect", {{"location", "ftp://x/y"}}), fault("add", "nested"),
                            fault("add", "pad"), fault("file", "redirect", {{"location", "https://x/y"}})}}});
  EXPECT_EQ(s.faults[0].status, 307);
  EXPECT_EQ(s.faults[1].depth, 100u);
  EXPECT_EQ(s.faults[1].count, 1u);
  EXPECT_EQ(s.faults[2].bytes, 1u << 20);
  EXPECT_EQ(s.faults[3].status, 302);
  EXPECT_EQ(s.faults[3].location, "https://x/y");
}

}  // namespace
