// The sandbox's API faults (redirect, nested, pad, omit, file_url,
// control_chars) and its count of requests no route took, over real loopback
// HTTP (docs/sandbox.md, "Faults" and "Introspection").
#include <gtest/gtest.h>
#include <httplib.h>

#include <string>

#include <nlohmann/json.hpp>

#include "sandbox_api.hpp"
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
