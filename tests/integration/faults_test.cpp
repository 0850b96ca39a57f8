// Reliability: the real mews-export binary against the real mews-sandbox with
// one injected fault class per test (API errors, resets, Retry-After, broken
// and stalled transfers, expired URLs, redirects, content encodings, unknown
// fields, odd files). Every run must end with exit 0, files byte-identical to
// the server's, a correct manifest and exactly one export created.
// Every output of every call is checked for secrets (tokens, URL signatures).
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "mews_export/downloader.hpp"
#include "sha256.hpp"
#include "support/export_checks.hpp"
#include "support/sandbox_cli.hpp"
#include "support/sandbox_process.hpp"

using namespace mews_export;
using namespace mews_export::testing;
using nlohmann::json;

namespace {

// An HTTP-date (IMF-fixdate) `seconds` from now.
std::string http_date_in(int seconds) {
  const std::time_t t = std::time(nullptr) + seconds;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

// Three small files per export (two for Customer), Company empty.
json base_scenario() {
  return json{{"progression", {{"pending_polls", 1}, {"processing_polls", 1}}},
              {"entities",
               {{"*", {{"files", 3}, {"records_per_file", 300}}},
                {"Customer", {{"files", 2}, {"records_per_file", 300}}},
                {"Company", {{"files", 0}}}}}};
}

// The scenario plus `extra` (top-level keys replace the base's).
json with(json extra) {
  json s = base_scenario();
  for (auto& [key, value] : extra.items()) s[key] = value;
  return s;
}

json fault(json f) { return f; }

// Stands for an HTTP-date two seconds after the sandbox starts (the cases are
// built when the test program starts, long before some of them run).
constexpr const char* kHttpDateSoon = "<HTTP-date in 2 s>";

json materialize(json scenario) {
  if (scenario.contains("faults"))
    for (auto& f : scenario["faults"])
      if (f.value("retry_after", "") == kHttpDateSoon) f["retry_after"] = http_date_in(2);
  return scenario;
}

std::uint64_t count(const json& stats, const char* key) { return stats.value(key, json(0)).get<std::uint64_t>(); }
std::uint64_t triggered(const json& stats, const char* action) {
  return stats["faults_triggered"].value(action, json(0)).get<std::uint64_t>();
}
bool has_range(const json& stats, const std::string& range) {
  for (const auto& r : stats["ranges"])
    if (r == range) return true;
  return false;
}

// Shared by every fixture here: runs the CLI against the sandbox, checks for
// secrets, and compares a downloaded directory with the server's files.
class FaultsBase : public SandboxCli {
 protected:
  explicit FaultsBase(const json& scenario) : SandboxCli(scenario, "mews-faults") {}

  // The shared checks, plus: exactly one export on the server, and line counts
  // equal to the records the server generated.
  void expect_export_matches_server(const std::filesystem::path& dir, const std::string& id) {
    mews_export::testing::expect_export_matches_server(sandbox_, dir, id);
    const auto manifest = json::parse(read_file(dir / kManifestName));
    const auto server = sandbox_.exports();
    ASSERT_EQ(server.size(), 1u);
    EXPECT_EQ(manifest["EntityType"], server[0]["EntityType"]);
    ASSERT_EQ(manifest["Files"].size(), server[0]["Files"].size());
    for (std::size_t i = 0; i < manifest["Files"].size(); ++i) {
      EXPECT_EQ(manifest["Files"][i]["Lines"].get<std::uint64_t>(),
                server[0]["Files"][i]["Records"].get<std::uint64_t>());
    }
  }

  // The server's files of `id`, concatenated as --stdout must write them.
  std::string expected_stream(const std::string& id) {
    std::string out;
    const auto server = sandbox_.exports();
    for (const auto& e : server) {
      if (e["Id"] != id) continue;
      for (std::size_t i = 0; i < e["Files"].size(); ++i) {
        auto served = sandbox_.file_content(id, i);
        if (!served) continue;
        out += *served;
        if (!served->empty() && served->back() != '\n') out += '\n';
      }
    }
    return out;
  }
};

// --------------------------------------------------------- one fault class each

struct FaultCase {
  std::string name;
  json scenario;
  std::string entity = "Bill";
  std::vector<std::string> extra_args;
  double min_seconds = 0;  // the run must have waited at least this long (Retry-After)
  std::function<void(const json& stats)> check = [](const json&) {};
};

void PrintTo(const FaultCase& c, std::ostream* os) { *os << c.name; }

// Polls of a clean run: Pending, Processing, Success.
constexpr std::uint64_t kCleanGetAlls = 3;

std::vector<FaultCase> fault_cases() {
  std::vector<FaultCase> cases;
  cases.push_back({.name = "Add503WithRetryAfter",
                   .scenario = with({{"faults", {fault({{"target", "add"}, {"status", 503}, {"retry_after", "1"}})}}}),
                   .min_seconds = 0.9,
                   .check = [](const json& s) {
                     EXPECT_EQ(s["api_requests"]["add"], 2);
                     EXPECT_EQ(triggered(s, "status"), 1u);
                   }});
  cases.push_back(
      {.name = "Add429WithHttpDateRetryAfter",
       .scenario = with({{"faults", {fault({{"target", "add"}, {"status", 429}, {"retry_after", kHttpDateSoon}})}}}),
       .min_seconds = 0.5,
       .check = [](const json& s) {
         EXPECT_EQ(s["api_requests"]["add"], 2);
         EXPECT_EQ(triggered(s, "status"), 1u);
       }});
  cases.push_back({.name = "AddConnectionReset",
                   .scenario = with({{"faults", {fault({{"target", "add"}, {"action", "reset"}})}}}),
                   .check = [](const json& s) {
                     EXPECT_EQ(s["api_requests"]["add"], 2);
                     EXPECT_EQ(triggered(s, "reset"), 1u);
                   }});
  cases.push_back({.name = "GetAll500Twice",
                   .scenario = with({{"faults", {fault({{"target", "getAll"}, {"status", 500}, {"times", 2}})}}}),
                   .check = [](const json& s) {
                     EXPECT_EQ(triggered(s, "status"), 2u);
                     // Every getAll that was answered saw the export (its
                     // Polls): only the two 500s come on top. How many polls
                     // it took depends on how fast the sandbox prepared the
                     // files (Processing until then), so not a fixed 3.
                     EXPECT_GE(s["export_polls"], kCleanGetAlls);
                     EXPECT_EQ(s["api_requests"]["getAll"], s["export_polls"].get<std::uint64_t>() + 2);
                   }});
  cases.push_back({.name = "GetAllConnectionReset",
                   .scenario = with({{"faults", {fault({{"target", "getAll"}, {"action", "reset"}, {"after", 1}})}}}),
                   .check = [](const json& s) {
                     EXPECT_EQ(triggered(s, "reset"), 1u);
                     EXPECT_GE(s["api_requests"]["getAll"], kCleanGetAlls + 1);
                   }});
  cases.push_back(
      {.name = "GetAll429WithRetryAfter",
       .scenario =
           with({{"faults", {fault({{"target", "getAll"}, {"status", 429}, {"retry_after", "1"}, {"after", 1}})}}}),
       .min_seconds = 0.9,
       .check = [](const json& s) { EXPECT_EQ(triggered(s, "status"), 1u); }});
  cases.push_back(
      {.name = "File503WithRetryAfter",
       .scenario =
           with({{"faults", {fault({{"target", "file"}, {"file_index", 1}, {"status", 503}, {"retry_after", "1"}})}}}),
       .min_seconds = 0.9,
       .check = [](const json& s) {
         EXPECT_EQ(triggered(s, "status"), 1u);
         EXPECT_EQ(count(s, "file_gets"), 4u);
       }});
  cases.push_back(
      {.name = "FileConnectionReset",
       .scenario = with({{"faults", {fault({{"target", "file"}, {"file_index", 1}, {"action", "reset"}})}}}),
       .check = [](const json& s) {
         EXPECT_EQ(triggered(s, "reset"), 1u);
         EXPECT_EQ(count(s, "file_gets"), 4u);
       }});
  cases.push_back(
      {.name = "FileTruncatedResumesWithRange",
       .scenario = with(
           {{"faults", {fault({{"target", "file"}, {"file_index", 1}, {"action", "truncate"}, {"bytes", 10000}})}}}),
       .check = [](const json& s) {
         EXPECT_EQ(triggered(s, "truncate"), 1u);
         EXPECT_TRUE(has_range(s, "bytes=10000-")) << s.dump();
       }});
  cases.push_back(
      {.name = "FileStallAbandonedAndResumed",
       .scenario = with(
           {{"faults",
             {fault(
                 {{"target", "file"}, {"file_index", 1}, {"action", "stall"}, {"bytes", 10000}, {"seconds", 10}})}}}),
       .extra_args = {"--stall-timeout", "1s"},
       .check = [](const json& s) {
         EXPECT_EQ(triggered(s, "stall"), 1u);
         EXPECT_TRUE(has_range(s, "bytes=10000-")) << s.dump();
       }});
  cases.push_back({.name = "File403OnceRefreshesUrls",
                   .scenario = with({{"faults", {fault({{"target", "file"}, {"file_index", 1}, {"status", 403}})}}}),
                   .check = [](const json& s) {
                     EXPECT_EQ(triggered(s, "status"), 1u);
                     EXPECT_GE(s["api_requests"]["getAll"], kCleanGetAlls + 1) << "a getAll for fresh URLs";
                     EXPECT_EQ(count(s, "file_gets"), 4u);
                   }});
  cases.push_back(
      {.name = "FileRedirects",
       .scenario = with({{"faults",
                          {fault({{"target", "file"}, {"file_index", 0}, {"action", "redirect"}}),
                           fault({{"target", "file"}, {"file_index", 2}, {"action", "redirect"}, {"status", 307}})}}}),
       .check = [](const json& s) {
         EXPECT_EQ(triggered(s, "redirect"), 2u);
         EXPECT_EQ(count(s, "redirected_gets"), 2u);
         EXPECT_EQ(count(s, "file_gets"), 5u);
       }});
  cases.push_back(
      {.name = "FileGzipEncoded",
       .scenario = with({{"faults", {fault({{"target", "file"}, {"action", "gzip"}, {"times", nullptr}})}}}),
       .check = [](const json& s) { EXPECT_EQ(count(s, "gzip_responses"), 3u) << "Accept-Encoding: gzip?"; }});
  cases.push_back(
      {.name = "FileChunked",
       .scenario = with({{"faults", {fault({{"target", "file"}, {"action", "chunked"}, {"times", nullptr}})}}}),
       .check = [](const json& s) { EXPECT_EQ(count(s, "chunked_responses"), 3u); }});
  cases.push_back({.name = "UnknownFieldsAreIgnored", .scenario = with({{"unknown_fields", true}})});
  cases.push_back(
      {.name = "ZeroFileExport", .scenario = base_scenario(), .entity = "Company", .check = [](const json& s) {
         EXPECT_EQ(count(s, "file_gets"), 0u);
       }});
  cases.push_back(
      {.name = "MissingFinalNewlineKeptAsServed",
       .scenario =
           with({{"faults", {fault({{"target", "file"}, {"action", "drop_final_newline"}, {"times", nullptr}})}}}),
       .entity = "Customer"});
  // The URL lives 1-2 s; the stalled transfer is abandoned after 2 s, so its
  // resume meets 403, fetches fresh URLs and continues with a Range.
  cases.push_back(
      {.name = "UrlExpiresDuringStallResumedAfterRefresh",
       .scenario = with(
           {{"url_ttl_seconds", 1},
            {"faults",
             {fault(
                 {{"target", "file"}, {"file_index", 0}, {"action", "stall"}, {"bytes", 10000}, {"seconds", 10}})}}}),
       .extra_args = {"--stall-timeout", "2s"},
       .check = [](const json& s) {
         EXPECT_GE(count(s, "forbidden"), 1u) << "the resume should have met the expired URL";
         EXPECT_TRUE(has_range(s, "bytes=10000-")) << s.dump();
       }});
  // A transfer that started with a valid URL may outlive it.
  cases.push_back({.name = "SlowTransferOutlivesItsUrl",
                   .scenario = with({{"url_ttl_seconds", 1},
                                     {"faults",
                                      {fault({{"target", "file"},
                                              {"file_index", 0},
                                              {"action", "trickle"},
                                              {"bytes", 40000},
                                              {"seconds", 0.5}})}}}),
                   .check = [](const json& s) {
                     EXPECT_EQ(triggered(s, "trickle"), 1u);
                     EXPECT_EQ(count(s, "range_gets"), 0u);
                   }});
  return cases;
}

class FaultClass : public FaultsBase, public ::testing::TestWithParam<FaultCase> {
 protected:
  FaultClass() : FaultsBase(materialize(GetParam().scenario)) {}
};

TEST_P(FaultClass, RunRecoversWithOneExportAndByteIdenticalFiles) {
  const FaultCase& c = GetParam();
  std::vector<std::string> args{"run",        "--entity", c.entity,  "-o", (dir_ / "out").string(),
                                "--interval", "50ms",     "--retry", "3"};
  args.insert(args.end(), c.extra_args.begin(), c.extra_args.end());
  const auto started = std::chrono::steady_clock::now();
  const auto r = cli(args);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  const auto exports = sandbox_.exports();
  ASSERT_EQ(exports.size(), 1u);
  const std::string id = exports[0]["Id"];
  EXPECT_EQ(lines_of(r.stdout_text), std::vector<std::string>{(dir_ / "out" / id).string()});
  expect_export_matches_server(dir_ / "out" / id, id);
  EXPECT_EQ(adds(), 1u);
  EXPECT_GE(seconds, c.min_seconds) << "Retry-After was not honoured";
  auto stats = sandbox_.stats();
  stats["export_polls"] = exports[0]["Polls"];  // the getAlls that saw the export
  c.check(stats);
}

INSTANTIATE_TEST_SUITE_P(Faults, FaultClass, ::testing::ValuesIn(fault_cases()),
                         [](const ::testing::TestParamInfo<FaultCase>& param) { return param.param.name; });

// ------------------------------------------------------------ stdout specifics

class FaultsStdout : public FaultsBase, public ::testing::Test {
 protected:
  FaultsStdout()
      : FaultsBase(with(
            {{"faults",
              {fault(
                   {{"target", "file"}, {"entity", "Customer"}, {"action", "drop_final_newline"}, {"times", nullptr}}),
               fault({{"target", "file"},
                      {"entity", "Bill"},
                      {"file_index", 1},
                      {"action", "truncate"},
                      {"bytes", 5000}})}}})) {}
};

TEST_F(FaultsStdout, MissingFinalNewlineGetsExactlyOneNewlineOnStdout) {
  const auto r = cli({"run", "--entity", "Customer", "--stdout", "--interval", "50ms"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  const auto exports = sandbox_.exports();
  ASSERT_EQ(exports.size(), 1u);
  const std::string id = exports[0]["Id"];
  const auto first = sandbox_.file_content(id, 0);
  ASSERT_TRUE(first);
  ASSERT_NE(first->back(), '\n') << "the scenario should drop the final newline";
  EXPECT_TRUE(r.stdout_text == expected_stream(id)) << "stdout is not the files each ended by exactly one newline";
  EXPECT_EQ(lines_of(r.stdout_text).size(), 600u);
  EXPECT_EQ(adds(), 1u);

  // And through jq every record arrives, none merged with the next.
  const std::string command = std::string(MEWS_EXPORT_BIN) + " download " + id + " --stdout | jq -c .Id | wc -l";
  const auto piped = run_process({"/bin/sh", "-c", command}, cli_env());
  expect_no_secrets(piped.stdout_text);
  expect_no_secrets(piped.stderr_text);
  ASSERT_EQ(piped.exit_code, 0) << piped.stderr_text;
  EXPECT_EQ(std::stoul(piped.stdout_text), 600u) << piped.stderr_text;
}

TEST_F(FaultsStdout, DownloadTwiceToStdoutGivesTheSameBytes) {
  const auto added = cli({"add", "--entity", "Bill"});
  ASSERT_EQ(added.exit_code, 0) << added.stderr_text;
  const std::string id = added.stdout_text.substr(0, 36);
  ASSERT_EQ(cli({"wait", id, "--interval", "50ms"}).exit_code, 0);
  const auto first = cli({"download", id, "--stdout"});  // meets the truncated transfer and resumes
  ASSERT_EQ(first.exit_code, 0) << first.stderr_text;
  const auto second = cli({"download", id, "--stdout"});
  ASSERT_EQ(second.exit_code, 0) << second.stderr_text;
  EXPECT_TRUE(first.stdout_text == second.stdout_text) << "two downloads of the same export differ";
  EXPECT_TRUE(first.stdout_text == expected_stream(id)) << "stdout differs from the server's files";
  const auto stats = sandbox_.stats();
  EXPECT_EQ(triggered(stats, "truncate"), 1u);
  EXPECT_TRUE(has_range(stats, "bytes=5000-")) << stats.dump();
  EXPECT_EQ(adds(), 1u);
}

}  // namespace

namespace {

class FaultsStallTiming : public FaultsBase, public ::testing::Test {
 protected:
  FaultsStallTiming()
      : FaultsBase(with({{"faults",
                          {fault({{"target", "file"},
                                  {"file_index", 1},
                                  {"action", "stall"},
                                  {"bytes", 10000},
                                  {"seconds", 30}})}}})) {}
};

}  // namespace

// --stall-timeout 1s should abandon a transfer about 1 s after its last byte.
TEST_F(FaultsStallTiming, StallTimeoutAbandonsTheTransferPromptly) {
  const auto started = std::chrono::steady_clock::now();
  const auto r = cli({"run", "--entity", "Bill", "-o", (dir_ / "out").string(), "--interval", "50ms", "--stall-timeout",
                      "1s", "--retry", "3"});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  const std::string id = sandbox_.exports()[0]["Id"];
  expect_export_matches_server(dir_ / "out" / id, id);
  EXPECT_TRUE(has_range(sandbox_.stats(), "bytes=10000-"));
  // The server stalls for 30 s: finishing well before proves the stall was abandoned
  // (the bound is loose on purpose: these machines are noisy).
  EXPECT_LT(seconds, 15.0) << "the stalled transfer was not abandoned after --stall-timeout 1s";
}
