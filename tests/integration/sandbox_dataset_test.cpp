// The sandbox's dataset mode: a fixed population of records per token and
// entity type, so that a sequence of incremental exports can be checked to
// cover every record (docs/sandbox.md, "Dataset mode").
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "sandbox_api.hpp"
#include "scenario.hpp"
#include "support/sandbox_process.hpp"
#include "utc.hpp"

namespace {

using json = nlohmann::json;
using mews_export::testing::Api;
using mews_export::testing::SandboxProcess;
using mews_sandbox::format_utc;
using Record = std::pair<std::string, std::string>;  // Id, time

json dataset_scenario(std::int64_t span, std::int64_t step, int records_per_file) {
  // Polling as fast as a slow (sanitized) build can must not meet the rate limit.
  return json{{"dataset", {{"span_seconds", span}, {"step_seconds", step}}},
              {"rate_limit", {{"requests", 100000}, {"window_seconds", 30}}},
              {"entities", {{"*", {{"records_per_file", records_per_file}}}}}};
}

std::int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::vector<Record> records_of(const json& list) {
  std::vector<Record> out;
  for (const auto& r : list) out.emplace_back(r["Id"], r["UpdatedUtc"]);
  return out;
}

// Every record of a finished export, file after file; `lines` gets the raw lines by Id.
std::vector<Record> exported(Api& api, const json& done, std::map<std::string, std::string>* lines = nullptr) {
  std::vector<Record> out;
  for (const auto& f : done["Files"]) {
    const std::string body = api.fetch(f["Url"])->body;
    for (std::size_t start = 0; start < body.size();) {
      const auto nl = body.find('\n', start);
      const std::string line = body.substr(start, nl - start);
      const json record = json::parse(line);
      const std::string time = record.contains("UpdatedUtc") ? record["UpdatedUtc"] : record["CreatedUtc"];
      out.emplace_back(record["Id"], time);
      if (lines) (*lines)[record["Id"]] = line;
      start = nl + 1;
    }
  }
  return out;
}

json updated_filter(std::int64_t from, std::int64_t to) {
  return json{{"Filters", {{"UpdatedUtc", {{"StartUtc", format_utc(from)}, {"EndUtc", format_utc(to)}}}}}};
}

TEST(SandboxDataset, AnExportHoldsEveryRecordUpToItsCreationSplitInFiles) {
  SandboxProcess sb(dataset_scenario(600, 1, 250));
  Api api(sb);
  json done = api.until_done(api.add_id("Bill"));
  ASSERT_EQ(done["Status"], "Success");
  const std::string created = sb.exports()[0]["CreatedUtc"];
  const auto expected = records_of(sb.dataset("Bill", 0, "", created));
  ASSERT_GE(expected.size(), 601u);
  EXPECT_EQ(exported(api, done), expected);
  ASSERT_EQ(done["Files"].size(), (expected.size() + 249) / 250);
  const json listed = sb.exports();
  for (const auto& f : listed[0]["Files"]) EXPECT_LE(f["Records"].get<int>(), 250);
  // Records step by one second and have distinct ids; other tokens have other ids.
  EXPECT_EQ(*mews_sandbox::parse_utc(expected[1].second) - *mews_sandbox::parse_utc(expected[0].second), 1);
  std::set<std::string> ids;
  for (const auto& [id, time] : expected) ids.insert(id);
  EXPECT_EQ(ids.size(), expected.size());
  EXPECT_THROW(sb.dataset("Bill", 1), std::runtime_error);  // only one access token
}

TEST(SandboxDataset, IncrementalWindowsCoverEveryRecordOnceAndRecordsNeverChange) {
  SandboxProcess sb(dataset_scenario(3600, 1, 1000));
  Api api(sb);
  const std::int64_t now = now_unix();
  const std::int64_t start = now - 4000, middle = now - 2000, end = now - 400;
  std::map<std::string, std::string> lines_a, lines_c;
  auto a = exported(api, api.until_done(api.add_id("Customer", updated_filter(start, middle))), &lines_a);
  auto b = exported(api, api.until_done(api.add_id("Customer", updated_filter(middle + 1, end))));
  std::vector<Record> both = a;
  both.insert(both.end(), b.begin(), b.end());
  EXPECT_EQ(both, records_of(sb.dataset("Customer", 0, format_utc(start), format_utc(end))));
  EXPECT_EQ(b.front().second, format_utc(middle + 1));
  EXPECT_EQ(b.back().second, format_utc(end));

  // An overlapping window holds the very same records, byte for byte.
  auto c = exported(api, api.until_done(api.add_id("Customer", updated_filter(middle - 10, middle + 10))), &lines_c);
  ASSERT_EQ(c.size(), 21u);
  for (const auto& [id, line] : lines_c) {
    if (lines_a.contains(id)) {
      EXPECT_EQ(line, lines_a[id]);
    }
  }
  EXPECT_EQ(c.front(), a[a.size() - 11]);
}

TEST(SandboxDataset, LedgerEntriesArePostedOnTheDateOfTheirTime) {
  SandboxProcess sb(dataset_scenario(3 * 86400, 120, 0));
  Api api(sb);
  const std::string day = mews_sandbox::format_date(now_unix() - 86400);
  json posting{{"Filters", {{"LedgerEntryFilters", {{"Posting", {{"Start", day}, {"End", day}}}}}}}};
  json done = api.until_done(api.add_id("LedgerEntry", posting));
  ASSERT_EQ(done["Files"].size(), 1u);  // records_per_file 0: one file
  const json listed = sb.dataset("LedgerEntry", 0, day + "T00:00:00Z", day + "T23:59:59Z");
  ASSERT_EQ(listed.size(), 720u);
  EXPECT_EQ(listed[0]["PostingDate"], day);
  EXPECT_EQ(exported(api, done), records_of(listed));
  const std::string body = api.fetch(done["Files"][0]["Url"])->body;
  EXPECT_EQ(json::parse(body.substr(0, body.find('\n')))["PostingDate"], day);
}

TEST(SandboxDataset, EndpointAndScenarioChecks) {
  SandboxProcess off(mews_export::testing::small_files());
  httplib::Client client(off.host(), off.port());
  EXPECT_EQ(client.Get("/_sandbox/dataset?entity=Bill")->status, 404);
  SandboxProcess sb(dataset_scenario(60, 10, 100));
  httplib::Client on(sb.host(), sb.port());
  EXPECT_EQ(on.Get("/_sandbox/dataset?entity=Nope")->status, 400);
  EXPECT_EQ(on.Get("/_sandbox/dataset?entity=Bill&from=yesterday")->status, 400);
  EXPECT_EQ(sb.dataset("Bill").size(), 7u);  // t0, t0+10, …, t0+60

  using mews_sandbox::parse_scenario;
  EXPECT_THROW(parse_scenario(json{{"dataset", {{"span_seconds", 0}, {"step_seconds", 1}}}}), std::runtime_error);
  EXPECT_THROW(parse_scenario(json{{"dataset", {{"span_seconds", 10}, {"step_seconds", -1}}}}), std::runtime_error);
  EXPECT_THROW(parse_scenario(json{{"dataset", {{"span", 10}}}}), std::runtime_error);
  const auto s = parse_scenario(json{{"dataset", {{"span_seconds", 7200}, {"step_seconds", 5}}}});
  ASSERT_TRUE(s.dataset);
  EXPECT_EQ(s.dataset->span_seconds, 7200);
  EXPECT_EQ(s.dataset->step_seconds, 5);
}

}  // namespace
