// The sandbox's seed_exports: many exports that exist, already Success, when
// the sandbox starts (docs/sandbox.md, "Scenario file"), for tests of clients
// that handle big getAll answers and long lists.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "sandbox_api.hpp"
#include "scenario.hpp"
#include "support/sandbox_process.hpp"

namespace {

using json = nlohmann::json;
using mews_export::testing::Api;
using mews_export::testing::SandboxProcess;

TEST(SandboxSeed, ThousandsOfSeededExportsAreReadyAtOnce) {
  json scenario{{"access_tokens", {"second-token"}},
                {"failed_entities", {"Bill"}},
                {"seed_exports",
                 {{{"entity", "Bill"}, {"count", 2500}}, {{"entity", "Payment"}, {"count", 3}, {"token_index", 1}}}}};
  SandboxProcess sb(scenario);  // ready means indexed (its start-up time is measured, not asserted)
  Api api(sb);

  const json listed = sb.exports();
  ASSERT_EQ(listed.size(), 2503u);
  json ids = json::array();
  std::set<std::string> distinct;
  for (const auto& e : listed) {
    if (e["EntityType"] != "Bill") continue;
    EXPECT_EQ(e["Status"], "Success");
    EXPECT_EQ(e["TokenIndex"], 0);
    if (ids.size() < 1000) ids.push_back(e["Id"]);
    distinct.insert(e["Id"].get<std::string>());
  }
  EXPECT_EQ(distinct.size(), 2500u);

  auto res = api.get_all(ids);  // one big answer: 1000 exports with 2 signed URLs each
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  const json exports = json::parse(res->body)["Exports"];
  ASSERT_EQ(exports.size(), 1000u);
  EXPECT_EQ(exports[999]["Status"], "Success");
  EXPECT_EQ(exports[999]["Files"].size(), 2u);
  EXPECT_TRUE(exports[999]["ExpiresUtc"].is_string());
  auto file = api.fetch(exports[0]["Files"][1]["Url"]);
  EXPECT_EQ(file->status, 200);
  EXPECT_EQ(file->body.size(), exports[0]["Files"][1]["SizeInBytes"].get<std::size_t>());

  // The other token's seeds are its own; seeds are not counted as adds.
  EXPECT_EQ(json::parse(api.get_all(json::array({listed[2502]["Id"]}))->body)["Exports"], json::array());
  EXPECT_EQ(sb.stats()["adds_created"], json::object());
  EXPECT_EQ(api.add("Payment")->status, 200);  // nothing of token 0 is pending
}

TEST(SandboxSeed, ScenarioChecksSeedExports) {
  using mews_sandbox::parse_scenario;
  EXPECT_THROW(parse_scenario(json{{"seed_exports", {{{"entity", "Nope"}, {"count", 1}}}}}), std::runtime_error);
  EXPECT_THROW(parse_scenario(json{{"seed_exports", {{{"entity", "Bill"}, {"count", 1}, {"token_index", 1}}}}}),
               std::runtime_error);
  EXPECT_THROW(parse_scenario(json{{"seed_exports", {{{"entity", "Bill"}, {"cnt", 1}}}}}), std::runtime_error);
  const auto s = parse_scenario(json{{"seed_exports", {{{"entity", "Bill"}, {"count", 7}}}}});
  ASSERT_EQ(s.seed_exports.size(), 1u);
  EXPECT_EQ(s.seed_exports[0].count, 7u);
  EXPECT_EQ(s.seed_exports[0].token_index, 0u);
}

}  // namespace
