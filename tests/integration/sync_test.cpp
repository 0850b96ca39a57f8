// `mews-export sync` against the sandbox's dataset mode (a fixed population
// of records per token and entity, one updated every second): contiguous
// windows that cover every record, the 180-day split, failed and killed
// nights, many profiles with one bad token under a tight rate limit, shards,
// and the metrics file.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <regex>
#include <set>
#include <thread>

#include "mews_export/time.hpp"
#include "support/export_checks.hpp"
#include "support/sandbox_cli.hpp"

using namespace mews_export;
using namespace mews_export::testing;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

json dataset(json extra = json::object()) {
  json scenario = {{"dataset", {{"span_seconds", 3600}, {"step_seconds", 1}}},
                   {"progression", {{"pending_polls", 1}, {"processing_polls", 1}}},
                   {"entities", {{"*", {{"records_per_file", 1000}}}}}};
  scenario.update(extra);
  return scenario;
}

std::string ago(std::chrono::seconds seconds) {
  return format_utc(std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()) - seconds);
}

std::vector<json> json_lines(const std::string& text) {
  std::vector<json> out;
  for (const auto& line : lines_of(text)) out.push_back(json::parse(line));
  return out;
}

class Sync : public ::testing::Test, public SandboxCli {
 protected:
  explicit Sync(const json& scenario = dataset()) : SandboxCli(scenario, "mews-sync") {}

  fs::path out() const { return dir_ / "out"; }
  ProcessResult sync(std::vector<std::string> args) {
    args.insert(args.begin(), "sync");
    for (const char* a : {"-o", "", "--interval", "50ms"}) args.emplace_back(a);
    args[args.size() - 3] = out().string();
    return cli(args);
  }
  std::vector<json> announced(const std::string& entity) {
    return json_lines(read_file(out() / entity / "sync.jsonl"));
  }
  // The ids of every record downloaded for `entity`, over all windows.
  std::set<std::string> downloaded(const std::string& entity) {
    std::set<std::string> ids;
    for (const auto& line : announced(entity)) {
      for (const auto& file : line["Files"]) {
        const auto text = read_file(out() / entity / line["Directory"].get<std::string>() / file.get<std::string>());
        for (const auto& record : lines_of(text)) ids.insert(json::parse(record)["Id"].get<std::string>());
      }
    }
    return ids;
  }
};

}  // namespace

TEST_F(Sync, TwoSyncsGiveContiguousWindowsThatCoverEveryRecord) {
  const std::string since = ago(std::chrono::minutes{30});
  const auto first = sync({"--entity", "OrderItem", "--since", since});
  ASSERT_EQ(first.exit_code, 0) << first.stderr_text;
  std::this_thread::sleep_for(std::chrono::milliseconds{1500});
  const auto second = sync({"--entity", "OrderItem", "--json"});
  ASSERT_EQ(second.exit_code, 0) << second.stderr_text;
  const auto summary = json::parse(second.stdout_text);
  ASSERT_EQ(summary.size(), 1u);
  EXPECT_EQ(summary[0]["Result"], "ok");
  EXPECT_EQ(summary[0]["Windows"], 1);

  const auto lines = announced("OrderItem");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["StartUtc"], since);
  EXPECT_EQ(lines[1]["StartUtc"], lines[0]["EndUtc"]);  // contiguous
  for (const auto& line : lines) {
    const auto dir = out() / "OrderItem" / line["Directory"].get<std::string>();
    EXPECT_EQ(json::parse(read_file(dir / "manifest.json"))["CompletedUtc"], line["CompletedUtc"]);
  }
  // Every record updated in the union of the windows is there at least once.
  const auto expected = sandbox_.dataset("OrderItem", 0, since, lines[1]["EndUtc"].get<std::string>());
  ASSERT_GT(expected.size(), 1000u);
  const auto got = downloaded("OrderItem");
  for (const auto& record : expected) EXPECT_TRUE(got.contains(record["Id"].get<std::string>())) << record;
}

TEST_F(Sync, AFirstSyncWithoutSinceIsAFullExport) {
  const auto r = sync({"--entity", "Bill"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  const auto lines = announced("Bill");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(lines[0]["StartUtc"].is_null());
  EXPECT_TRUE(lines[0]["Directory"].get<std::string>().starts_with("beginning_"));
  // Everything updated up to the bookmark (the request time less five minutes) is there.
  const auto got = downloaded("Bill");
  const auto expected = sandbox_.dataset("Bill", 0, "", lines[0]["EndUtc"].get<std::string>());
  ASSERT_GT(expected.size(), 3000u);
  for (const auto& record : expected) EXPECT_TRUE(got.contains(record["Id"].get<std::string>())) << record;
  EXPECT_NE(r.stdout_text.find("ok"), std::string::npos) << r.stdout_text;
}

TEST_F(Sync, A400DayFirstSyncBecomesWindowsOfAtMost180Days) {
  const auto r = sync({"--entity", "Payment", "--since", ago(std::chrono::hours{24 * 400})});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  const auto lines = announced("Payment");
  ASSERT_GE(lines.size(), 3u);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto start = *parse_utc(lines[i]["StartUtc"].get<std::string>());
    const auto end = *parse_utc(lines[i]["EndUtc"].get<std::string>());
    EXPECT_LE(end - start, std::chrono::days{180});
    if (i > 0) {
      EXPECT_EQ(lines[i]["StartUtc"], lines[i - 1]["EndUtc"]);
    }
  }
  EXPECT_EQ(adds(), lines.size());
}

TEST_F(Sync, SinceWithABookmarkIsRefusedUnlessReset) {
  ASSERT_EQ(sync({"--entity", "Bill", "--since", ago(std::chrono::minutes{20})}).exit_code, 0);
  const auto refused = sync({"--entity", "Bill", "--since", ago(std::chrono::minutes{40})});
  EXPECT_EQ(refused.exit_code, 2) << refused.stderr_text;
  EXPECT_NE(refused.stderr_text.find("--reset"), std::string::npos);
  const auto reset = sync({"--entity", "Bill", "--since", ago(std::chrono::minutes{40}), "--reset"});
  EXPECT_EQ(reset.exit_code, 0) << reset.stderr_text;
}

TEST_F(Sync, LedgerEntriesSyncByPostingDate) {
  const auto without = sync({"--entity", "LedgerEntry"});
  EXPECT_EQ(without.exit_code, 2) << without.stderr_text;
  const auto r = sync({"--entity", "LedgerEntry", "--since", ago(std::chrono::hours{24 * 3}).substr(0, 10)});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  const auto lines = announced("LedgerEntry");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["PostingEnd"], ago(std::chrono::hours{24}).substr(0, 10));  // yesterday
}

class SyncFailingNight : public Sync {
 protected:
  // One file per window; the second file request (the second night's) is
  // refused for good (410): that night fails.
  SyncFailingNight()
      : Sync(dataset(
            {{"entities", {{"*", {{"records_per_file", 100000}}}}},
             {"faults", json::array({{{"target", "file"}, {"action", "status"}, {"status", 410}, {"after", 1}}})}})) {}
};

TEST_F(SyncFailingNight, TheBookmarkStaysAndTheNextSyncFinishesThatWindow) {
  ASSERT_EQ(sync({"--entity", "OrderItem", "--since", ago(std::chrono::minutes{30})}).exit_code, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds{1500});
  const auto failed = sync({"--entity", "OrderItem"});
  EXPECT_EQ(failed.exit_code, 1) << failed.stderr_text;
  ASSERT_EQ(announced("OrderItem").size(), 1u);  // nothing announced for the failed night
  const auto bookmark = announced("OrderItem")[0]["EndUtc"];

  std::this_thread::sleep_for(std::chrono::milliseconds{1500});
  const auto again = sync({"--entity", "OrderItem"});
  ASSERT_EQ(again.exit_code, 0) << again.stderr_text;
  const auto lines = announced("OrderItem");
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(lines[1]["StartUtc"], bookmark);                     // the failed window, repeated
  EXPECT_EQ(lines[1]["ExportId"], sandbox_.exports()[1]["Id"]);  // and its export finished, not added again
  for (std::size_t i = 1; i < lines.size(); ++i) EXPECT_EQ(lines[i]["StartUtc"], lines[i - 1]["EndUtc"]);
}

class SyncKilled : public Sync {
 protected:
  // One big, slow file: the sync is still downloading when it is killed.
  SyncKilled()
      : Sync(dataset({{"dataset", {{"span_seconds", 3600}, {"step_seconds", 1}}},
                      {"entities", {{"*", {{"records_per_file", 100000}}}}},
                      {"faults", json::array({{{"target", "file"},
                                               {"action", "trickle"},
                                               {"bytes", 20000},
                                               {"seconds", 0.05},
                                               {"times", 1}}})}})) {}
};

TEST_F(SyncKilled, SigkillMidSyncThenTheSameCommandFinishesWithOneExportPerWindow) {
  const std::vector<std::string> args{
      MEWS_EXPORT_BIN, "sync",       "--entity", "OrderItem", "--since", ago(std::chrono::minutes{30}), "-o",
      out().string(),  "--interval", "50ms"};
  ChildProcess child;
  child.start(args, cli_env());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{20};
  bool downloading = false;
  while (!downloading && std::chrono::steady_clock::now() < deadline && child.running()) {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(out(), ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      downloading = downloading || (it->path().extension() == ".part" && fs::file_size(it->path(), ec) > 40000);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  ASSERT_TRUE(downloading) << child.stderr_text();
  child.send(SIGKILL);
  EXPECT_EQ(child.wait().exit_code, 128 + SIGKILL);
  ASSERT_EQ(adds(), 1u);

  const auto rerun = run_process(args, cli_env());
  ASSERT_EQ(rerun.exit_code, 0) << rerun.stderr_text;
  const auto lines = announced("OrderItem");
  ASSERT_GE(lines.size(), 1u);
  EXPECT_EQ(lines[0]["ExportId"], sandbox_.exports()[0]["Id"]);  // the killed window's export, finished
  // One export per window: the killed one was not added again. (A slow rerun
  // may also export the seconds that passed since: a second, short window.)
  EXPECT_EQ(adds(), lines.size());
  for (std::size_t i = 1; i < lines.size(); ++i) EXPECT_EQ(lines[i]["StartUtc"], lines[i - 1]["EndUtc"]);
}

namespace {

// Five profiles on four good tokens and one bad (under a tight rate limit:
// 10 requests per 3 s and token, which the client is told of).
json many_tokens(bool tight) {
  json scenario = dataset({{"access_tokens", {"hotel-b-token", "hotel-c-token", "hotel-d-token"}}});
  if (tight) scenario["rate_limit"] = {{"requests", 10}, {"window_seconds", 3}};
  return scenario;
}

class SyncMany : public Sync {
 protected:
  explicit SyncMany(bool tight = true) : Sync(many_tokens(tight)), tight_(tight) {
    const std::vector<std::pair<std::string, std::string>> profiles = {{"hotel-a", sandbox_.access_token()},
                                                                       {"hotel-b", "hotel-b-token"},
                                                                       {"hotel-c", "hotel-c-token"},
                                                                       {"hotel-d", "hotel-d-token"},
                                                                       {"hotel-e", "revoked-token"}};
    fs::create_directories(dir_ / "config" / "mews-export");
    std::ofstream config(dir_ / "config" / "mews-export" / "config.toml");
    for (const auto& [name, token] : profiles) {
      std::ofstream(dir_ / (name + ".token")) << token;
      fs::permissions(dir_ / (name + ".token"), fs::perms::owner_read);
      config << "[profiles." << name << "]\nplatform = \"" << sandbox_.url()
             << "\"\nclient_token_env = \"SANDBOX_CLIENT\"\n"
             << "access_token_file = \"" << (dir_ / (name + ".token")).string() << "\"\n\n";
    }
  }
  std::map<std::string, std::string> env() const {
    std::map<std::string, std::string> vars{{"SANDBOX_CLIENT", sandbox_.client_token()}};
    if (tight_) vars["MEWS_EXPORT_RATE_LIMIT"] = "10/3s";
    return vars;
  }
  bool tight_;
  std::set<std::string> profiles_of(const json& summary) const {
    std::set<std::string> out;
    for (const auto& row : summary) out.insert(row["Profile"].get<std::string>());
    return out;
  }
};

}  // namespace

TEST_F(SyncMany, FiveProfilesTwoEntitiesOneBadTokenFailsOnlyItsOwnRowsAndNo429) {
  const auto r = cli({"--json", "sync", "--all-profiles", "--entity", "OrderItem", "--entity", "Bill",
                      "--max-concurrent", "3", "-o", out().string(), "--interval", "50ms"},
                     env());
  EXPECT_EQ(r.exit_code, 3) << r.stderr_text;  // every failed row was refused (401)
  const auto summary = json::parse(r.stdout_text);
  ASSERT_EQ(summary.size(), 10u);
  for (const auto& row : summary) {
    const bool bad = row["Profile"] == "hotel-e";
    EXPECT_EQ(row["Result"], bad ? "failed" : "ok") << row;
    EXPECT_EQ(row["ExitCode"], bad ? 3 : 0) << row;
    if (bad) {
      EXPECT_TRUE(row.contains("Error"));
    } else {
      EXPECT_EQ(row["Windows"], 1);
      EXPECT_TRUE(
          fs::exists(out() / row["Profile"].get<std::string>() / row["EntityType"].get<std::string>() / "sync.jsonl"));
    }
  }
  EXPECT_EQ(sandbox_.stats()["rate_limited"], 0) << "the server had to answer 429";
  // A token's exports are that property's: hotel-b's OrderItem were made with hotel-b's token.
  std::map<std::size_t, int> per_token;
  for (const auto& e : sandbox_.exports()) per_token[e["TokenIndex"].get<std::size_t>()]++;
  EXPECT_EQ(per_token, (std::map<std::size_t, int>{{0, 2}, {1, 2}, {2, 2}, {3, 2}}));
}

class SyncShards : public SyncMany {
 protected:
  SyncShards() : SyncMany(/*tight=*/false) {}
};

TEST_F(SyncShards, ShardsSplitTheProfilesWithoutOverlap) {
  std::set<std::string> seen;
  for (const char* shard : {"0/2", "1/2"}) {
    const auto r = cli({"--json", "sync", "--all-profiles", "--entity", "Company", "--shard", shard, "-o",
                        out().string(), "--interval", "50ms"},
                       env());
    const auto profiles = profiles_of(json::parse(r.stdout_text));
    for (const auto& p : profiles) EXPECT_TRUE(seen.insert(p).second) << p << " in two shards";
  }
  EXPECT_EQ(seen, (std::set<std::string>{"hotel-a", "hotel-b", "hotel-c", "hotel-d", "hotel-e"}));
  const auto bad =
      cli({"sync", "--all-profiles", "--entity", "Company", "--shard", "2/2", "-o", out().string()}, env());
  EXPECT_EQ(bad.exit_code, 2);
}

TEST_F(Sync, TheMetricsFileIsPrometheusTextAndKeepsTheLastSuccess) {
  const auto metrics = dir_ / "mews.prom";
  ASSERT_EQ(sync({"--entity", "Bill", "--metrics-file", metrics.string()}).exit_code, 0);
  const std::regex sample(R"(^[a-z_]+\{profile="[^"]*",entity="[^"]*"\} -?[0-9.e+]+$)");
  const std::regex comment(R"(^# (HELP|TYPE) [a-z_]+ .+$)");
  std::string success_line;
  for (const auto& line : lines_of(read_file(metrics))) {
    EXPECT_TRUE(std::regex_match(line, sample) || std::regex_match(line, comment)) << line;
    if (line.starts_with("mews_export_last_success_timestamp_seconds{")) success_line = line;
  }
  ASSERT_FALSE(success_line.empty());
  EXPECT_NE(read_file(metrics).find("mews_export_last_exit_code{profile=\"default\",entity=\"Bill\"} 0"),
            std::string::npos);

  // A failed night (a refused token): the exit code changes, the last success stays.
  const auto failed = cli({"sync", "--entity", "Bill", "-o", out().string(), "--metrics-file", metrics.string()},
                          {{"MEWS_ACCESS_TOKEN", "revoked"}});
  EXPECT_EQ(failed.exit_code, 3);
  const auto text = read_file(metrics);
  EXPECT_NE(text.find(success_line), std::string::npos) << text;
  EXPECT_NE(text.find("mews_export_last_exit_code{profile=\"default\",entity=\"Bill\"} 3"), std::string::npos);
}

TEST_F(Sync, RunWritesTheMetricsFileToo) {
  const auto metrics = dir_ / "run.prom";
  const auto r = cli(
      {"run", "--entity", "Customer", "-o", out().string(), "--interval", "50ms", "--metrics-file", metrics.string()});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  const auto text = read_file(metrics);
  EXPECT_NE(text.find("mews_export_last_success_timestamp_seconds{profile=\"default\",entity=\"Customer\"}"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("mews_export_files{profile=\"default\",entity=\"Customer\"} "), std::string::npos);
}
