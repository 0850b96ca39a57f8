// Drives the real mews-export binary against the real mews-sandbox over
// loopback HTTP: every command, the output layout, and every exit code.
// Every output of every call is checked for secrets (tokens, URL signatures).
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <unistd.h>

#include "mews_export/downloader.hpp"
#include "mews_export/journal.hpp"
#include "mews_export/validate.hpp"
#include "sha256.hpp"
#include "support/export_checks.hpp"
#include "support/sandbox_cli.hpp"
#include "support/sandbox_process.hpp"

using namespace mews_export;
using namespace mews_export::testing;
using nlohmann::json;

namespace {

const json kFastScenario = {{"progression", {{"pending_polls", 1}, {"processing_polls", 1}}},
                            {"entities",
                             {{"*", {{"files", 2}, {"records_per_file", 300}}},
                              {"OrderItem", {{"files", 3}, {"records_per_file", 500}}},
                              {"Company", {{"files", 0}}}}},
                            {"failed_entities", {"AvailabilityBlock"}}};

class Cli : public ::testing::Test, public SandboxCli {
 protected:
  explicit Cli(const json& scenario = kFastScenario) : SandboxCli(scenario, "mews-cli") {}

  // Holds the job lock that `run --entity <entity>` takes, as another run would.
  JobLock hold_job_lock(const std::string& entity) {
    AddArguments args{.entity = entity};
    const auto request =
        build_add_request(args, std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
    EXPECT_TRUE(request);
    const auto key = make_job_key(sandbox_.url(), sandbox_.client_token(), sandbox_.access_token(), args, *request);
    SystemClock clock;
    auto lock = JobLock::acquire(dir_ / "state", key.lock_name(), false, clock);
    EXPECT_TRUE(lock);
    return std::move(*lock);
  }

  void expect_export_matches_server(const std::filesystem::path& dir, const std::string& id) {
    mews_export::testing::expect_export_matches_server(sandbox_, dir, id);
  }
};

}  // namespace

TEST_F(Cli, RunWritesFilesByteIdenticalToTheServerWithAManifest) {
  const auto r = cli({"run", "--entity", "orderitem", "-o", (dir_ / "out").string(), "--interval", "50ms"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  const auto printed = lines_of(r.stdout_text);
  ASSERT_EQ(printed.size(), 1u) << r.stdout_text;
  const auto exports = sandbox_.exports();
  ASSERT_EQ(exports.size(), 1u);
  const std::string id = exports[0]["Id"];
  EXPECT_EQ(std::filesystem::path(printed[0]), dir_ / "out" / id);
  expect_export_matches_server(dir_ / "out" / id, id);
  const auto manifest = json::parse(read_file(dir_ / "out" / id / kManifestName));
  EXPECT_EQ(manifest["EntityType"], "OrderItem");
  EXPECT_EQ(manifest["Files"].size(), 3u);
  EXPECT_EQ(manifest["Files"][0]["Lines"], 500);
}

TEST_F(Cli, StdoutCarriesEveryRecordExactlyOnceInOrder) {
  const auto r = cli({"run", "--entity", "Customer", "--stdout", "--interval", "50ms"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  const std::string id = sandbox_.exports()[0]["Id"];
  std::string concatenated;
  for (std::size_t i = 0; i < 2; ++i) concatenated += *sandbox_.file_content(id, i);
  EXPECT_TRUE(r.stdout_text == concatenated);
  std::set<std::string> ids;
  const auto records = lines_of(r.stdout_text);
  for (const auto& line : records) ids.insert(json::parse(line).at("Id").get<std::string>());
  EXPECT_EQ(records.size(), 600u);
  EXPECT_EQ(ids.size(), records.size());
}

TEST_F(Cli, StdoutPipedIntoJqYieldsEveryRecordOnce) {
  const std::string command = std::string(MEWS_EXPORT_BIN) +
                              " run --entity Reservation --stdout --interval 50ms | jq -c .Id | sort | uniq -c | "
                              "awk '$1 != 1 {dup++} END {print NR, dup + 0}'";
  const auto r = run_process({"/bin/sh", "-c", command}, cli_env());
  expect_no_secrets(r.stderr_text);
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(r.stdout_text, "600 0\n");  // 600 distinct ids, none repeated
}

TEST_F(Cli, AddStatusWaitDownloadStepByStep) {
  const auto added = cli({"add", "--entity", "Bill"});
  ASSERT_EQ(added.exit_code, 0) << added.stderr_text;
  const std::string id = added.stdout_text.substr(0, added.stdout_text.size() - 1);
  EXPECT_EQ(added.stdout_text, id + "\n");

  const auto status = cli({"status", id});
  EXPECT_EQ(status.exit_code, 0);
  EXPECT_NE(status.stdout_text.find("Pending"), std::string::npos) << status.stdout_text;

  const auto waited = cli({"wait", id, "--interval", "50ms"});
  EXPECT_EQ(waited.exit_code, 0) << waited.stderr_text;
  EXPECT_NE(waited.stdout_text.find("Success"), std::string::npos);

  const auto downloaded = cli({"download", id, "-o", (dir_ / "out").string()});
  ASSERT_EQ(downloaded.exit_code, 0) << downloaded.stderr_text;
  expect_export_matches_server(dir_ / "out" / id, id);

  // A second download finds the verified manifest and fetches nothing.
  const auto gets = sandbox_.stats()["file_gets"].get<std::uint64_t>();
  const auto again = cli({"download", id, "-o", (dir_ / "out").string()});
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_EQ(sandbox_.stats()["file_gets"].get<std::uint64_t>(), gets);
  // ... unless --force.
  const auto forced = cli({"download", id, "-o", (dir_ / "out").string(), "--force"});
  EXPECT_EQ(forced.exit_code, 0);
  EXPECT_EQ(sandbox_.stats()["file_gets"].get<std::uint64_t>(), gets + 2);
  expect_export_matches_server(dir_ / "out" / id, id);
}

TEST_F(Cli, StatusJsonStripsSignaturesUnlessAskedAndGlobalOptionsGoAnywhere) {
  const auto run = cli({"run", "--entity", "Payment", "-o", (dir_ / "out").string(), "--interval", "50ms"});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  const std::string id = sandbox_.exports()[0]["Id"];

  const auto after = cli({"status", id, "--json"});
  const auto before = cli({"--json", "status", id});
  ASSERT_EQ(after.exit_code, 0) << after.stderr_text;
  ASSERT_EQ(before.exit_code, 0);
  const auto doc = json::parse(after.stdout_text);
  ASSERT_TRUE(doc.is_array());
  ASSERT_EQ(doc.size(), 1u);
  EXPECT_EQ(doc[0]["Id"], id);
  EXPECT_EQ(doc[0]["Status"], "Success");
  for (const auto& file : doc[0]["Files"]) {
    EXPECT_EQ(file["Url"].get<std::string>().find('?'), std::string::npos);
  }
  auto without_urls = [](json d) {
    for (auto& f : d[0]["Files"]) f.erase("Url");
    return d;
  };
  EXPECT_EQ(without_urls(json::parse(before.stdout_text)), without_urls(doc));

  const auto shown = cli({"status", "--show-urls", "--json", id}, {}, /*may_show_urls=*/true);
  EXPECT_NE(shown.stdout_text.find("signature="), std::string::npos);
}

TEST_F(Cli, StatusReportsUnknownIdsAsNotFound) {
  const auto r = cli({"status", "00000000-0000-0000-0000-000000000000"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.stderr_text.find("not found"), std::string::npos);
}

TEST_F(Cli, EveryInvalidAddInputExits2WithoutAnyRequest) {
  const std::vector<std::vector<std::string>> invalid = {
      {"add", "--entity", "Orders"},
      {"add", "--entity", "Bill", "--updated-from", "yesterday"},
      {"add", "--entity", "Bill", "--updated-from", "2026-01-10", "--updated-to", "2026-01-01"},
      {"add", "--entity", "Bill", "--updated-from", "2020-01-01", "--updated-to", "2099-01-01"},
      {"add", "--entity", "Bill", "--updated-to", "2026-01-01"},
      {"add", "--entity", "Bill", "--updated-from", "2025-01-01", "--updated-to", "2025-12-31"},
      {"add", "--entity", "LedgerEntry"},
      {"add", "--entity", "Payment", "--posting-from", "2026-01-01", "--posting-to", "2026-01-31"},
      {"add"},
      {"add", "--entity", "Bill", "--bogus"},
      {"run", "--entity", "Bill"},
      {"run", "--entity", "Bill", "-o", "x", "--stdout"},
      {"wait", "x", "--interval", "soon"},
      {"frobnicate"},
  };
  for (const auto& args : invalid) {
    const auto r = cli(args);
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    EXPECT_EQ(r.exit_code, 2) << joined << "\n" << r.stderr_text;
    EXPECT_FALSE(r.stderr_text.empty()) << joined;
  }
  std::vector<std::string> many{"add", "--entity", "Customer"};
  for (int i = 0; i < 1001; ++i) many.insert(many.end(), {"--enterprise", "e" + std::to_string(i)});
  EXPECT_EQ(cli(many).exit_code, 2);
  EXPECT_EQ(api_requests(), 0u);
}

TEST_F(Cli, MissingOrInsecureSettingsExit2) {
  auto r = cli({"add", "--entity", "Bill"}, {{"MEWS_ACCESS_TOKEN", ""}});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.stderr_text.find("MEWS_ACCESS_TOKEN"), std::string::npos);
  r = cli({"add", "--entity", "Bill", "--platform", "http://api.example.com"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.stderr_text.find("--allow-insecure-http"), std::string::npos);
  r = cli({"add", "--entity", "Bill", "--access-token-file", (dir_ / "missing").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(api_requests(), 0u);
}

TEST_F(Cli, TokensComeFromFiles) {
  std::ofstream(dir_ / "access") << sandbox_.access_token() << "\n";
  std::filesystem::permissions(dir_ / "access",
                               std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  const auto r = cli({"add", "--entity", "Bill", "--access-token-file", (dir_ / "access").string()},
                     {{"MEWS_ACCESS_TOKEN", "wrong-token-ignored"}});
  EXPECT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(r.stderr_text.find("readable by other"), std::string::npos);
  std::filesystem::permissions(dir_ / "access", std::filesystem::perms::others_read,
                               std::filesystem::perm_options::add);
  const auto warned = cli({"status", "x", "--access-token-file", (dir_ / "access").string()});
  EXPECT_NE(warned.stderr_text.find("readable by other"), std::string::npos);
}

TEST_F(Cli, BadTokensExit3) {
  const auto r = cli({"add", "--entity", "Bill"}, {{"MEWS_ACCESS_TOKEN", "not-a-valid-token"}});
  EXPECT_EQ(r.exit_code, 3) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("Request-Id"), std::string::npos) << r.stderr_text;
}

TEST_F(Cli, FailedExportExits4) {
  const auto r = cli({"run", "--entity", "AvailabilityBlock", "-o", (dir_ / "out").string(), "--interval", "50ms"});
  EXPECT_EQ(r.exit_code, 4) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("Failed"), std::string::npos);
  const std::string id = sandbox_.exports()[0]["Id"];
  EXPECT_EQ(cli({"wait", id}).exit_code, 4);
  EXPECT_EQ(cli({"download", id, "-o", (dir_ / "out").string()}).exit_code, 4);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "out" / id / kManifestName));
}

TEST_F(Cli, ZeroFileExportSucceedsWithAnEmptyManifest) {
  const auto r = cli({"run", "--entity", "Company", "-o", (dir_ / "out").string(), "--interval", "50ms"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  const std::string id = sandbox_.exports()[0]["Id"];
  expect_export_matches_server(dir_ / "out" / id, id);
}

TEST_F(Cli, UnreachableApiExits1AfterRetries) {
  const auto r = cli({"status", "x", "--platform", "http://127.0.0.1:1", "--retry", "1"});
  EXPECT_EQ(r.exit_code, 1) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("2 attempts"), std::string::npos) << r.stderr_text;
}

TEST_F(Cli, RunReattachesToItsOwnUnfinishedExport) {
  const auto added = cli({"add", "--entity", "Payment"});
  ASSERT_EQ(added.exit_code, 0);
  const std::string id = added.stdout_text.substr(0, 36);
  const auto r = cli({"run", "--entity", "payment", "-o", (dir_ / "out").string(), "--interval", "50ms", "-v"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("re-attaching"), std::string::npos);
  EXPECT_EQ(adds(), 1u);
  expect_export_matches_server(dir_ / "out" / id, id);
  // Finished now: the next run starts a new export.
  const auto next = cli({"run", "--entity", "Payment", "-o", (dir_ / "out").string(), "--interval", "50ms"});
  EXPECT_EQ(next.exit_code, 0) << next.stderr_text;
  EXPECT_EQ(adds(), 2u);
}

TEST_F(Cli, PendingExportThatIsNotOursExits75) {
  // Started by "another machine": a different state dir, so not in our journal.
  const auto other = cli({"add", "--entity", "Reservation"}, {{"MEWS_EXPORT_STATE_DIR", (dir_ / "other").string()}});
  ASSERT_EQ(other.exit_code, 0);
  const auto r = cli({"run", "--entity", "Reservation", "-o", (dir_ / "out").string()});
  EXPECT_EQ(r.exit_code, 75) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("--wait-pending"), std::string::npos);
  EXPECT_EQ(adds(), 1u);
}

TEST_F(Cli, SecondRunOfTheSameJobExits75WhileTheLockIsHeld) {
  auto lock = hold_job_lock("Bill");
  const auto r = cli({"run", "--entity", "Bill", "-o", (dir_ / "out").string()});
  EXPECT_EQ(r.exit_code, 75) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("--wait-lock"), std::string::npos);
  EXPECT_EQ(api_requests(), 0u);
  // Another entity is another job: not blocked.
  EXPECT_EQ(cli({"run", "--entity", "Payment", "-o", (dir_ / "out").string(), "--interval", "50ms"}).exit_code, 0);
}

namespace {

class CliSlowExport : public Cli {
 protected:
  CliSlowExport() : Cli(json{{"progression", {{"pending_polls", 1000000}, {"processing_polls", 1}}}}) {}
};

}  // namespace

TEST_F(CliSlowExport, WaitTimeoutExits5AndSaysHowToContinue) {
  const auto added = cli({"add", "--entity", "Bill"});
  ASSERT_EQ(added.exit_code, 0);
  const std::string id = added.stdout_text.substr(0, 36);
  const auto r = cli({"wait", id, "--interval", "100ms", "--timeout", "400ms"});
  EXPECT_EQ(r.exit_code, 5) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("mews-export wait " + id), std::string::npos) << r.stderr_text;
  const auto run = cli({"run", "--entity", "Customer", "-o", "out", "--interval", "100ms", "--timeout", "300ms"});
  EXPECT_EQ(run.exit_code, 5);
  EXPECT_NE(run.stderr_text.find("mews-export download"), std::string::npos) << run.stderr_text;
}

namespace {

class CliServerErrors : public Cli {
 protected:
  CliServerErrors()
      : Cli(json{{"faults", {{{"target", "getAll"}, {"action", "status"}, {"status", 503}, {"times", nullptr}}}}}) {}
};

}  // namespace

TEST_F(CliServerErrors, PersistentServerErrorsExit1WithTheRequestId) {
  const auto r = cli({"status", "x", "--retry", "2"});
  EXPECT_EQ(r.exit_code, 1) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("503"), std::string::npos) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("Request-Id"), std::string::npos) << r.stderr_text;
  EXPECT_EQ(sandbox_.stats()["faults_triggered"]["status"], 3);  // the first try and two retries
}

namespace {

class CliWrongLength : public Cli {
 protected:
  CliWrongLength()
      : Cli(json{
            {"faults", {{{"target", "file"}, {"action", "extra_bytes"}, {"file_index", 1}, {"times", nullptr}}}}}) {}
};

}  // namespace

TEST_F(CliWrongLength, DataLongerThanAnnouncedExits6AndNeverReachesAFinalName) {
  const auto r = cli({"run", "--entity", "Bill", "-o", (dir_ / "out").string(), "--interval", "50ms"});
  EXPECT_EQ(r.exit_code, 6) << r.stderr_text;
  const std::string id = sandbox_.exports()[0]["Id"];
  EXPECT_FALSE(std::filesystem::exists(dir_ / "out" / id / "part-002.jsonl"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "out" / id / kManifestName));
  const auto piped = cli({"download", id, "--stdout"});
  EXPECT_EQ(piped.exit_code, 6) << piped.stderr_text;
}

TEST_F(Cli, ListShowsOurExportsNewestFirstWithFreshStatus) {
  const auto first = cli({"add", "--entity", "Bill"});
  const auto second = cli({"add", "--entity", "Payment"});
  ASSERT_EQ(first.exit_code, 0);
  ASSERT_EQ(second.exit_code, 0);
  const std::string first_id = first.stdout_text.substr(0, 36), second_id = second.stdout_text.substr(0, 36);

  const auto offline = cli({"list", "--offline", "--json"}, {{"MEWS_ACCESS_TOKEN", ""}});
  ASSERT_EQ(offline.exit_code, 0) << offline.stderr_text;
  const auto journal = json::parse(offline.stdout_text);
  ASSERT_EQ(journal.size(), 2u);
  EXPECT_EQ(journal[0]["Status"], "Pending");
  EXPECT_TRUE(journal[0]["Export"].is_null());
  for (const auto& e : journal) EXPECT_FALSE(e.contains("AccessToken"));

  ASSERT_EQ(cli({"wait", first_id, second_id, "--interval", "50ms"}).exit_code, 0);
  const auto fresh = cli({"list", "--json"});
  ASSERT_EQ(fresh.exit_code, 0) << fresh.stderr_text;
  const auto listed = json::parse(fresh.stdout_text);
  ASSERT_EQ(listed.size(), 2u);
  std::set<std::string> ids{listed[0]["Id"], listed[1]["Id"]};
  EXPECT_EQ(ids, (std::set<std::string>{first_id, second_id}));
  EXPECT_EQ(listed[0]["Export"]["Status"], "Success");
  EXPECT_EQ(listed[0]["Status"], "Success");  // the journal was refreshed

  const auto table = cli({"list"});
  EXPECT_EQ(table.exit_code, 0);
  EXPECT_EQ(lines_of(table.stdout_text).size(), 3u);  // header + 2
  EXPECT_NE(table.stdout_text.find(first_id), std::string::npos);
}

namespace {

// Writes $XDG_CONFIG_HOME/mews-export/config.toml for the Cli fixture.
void write_config(const TempDir& dir, const std::string& toml) {
  std::filesystem::create_directories(dir / "config" / "mews-export");
  std::ofstream(dir / "config" / "mews-export" / "config.toml") << toml;
}

}  // namespace

TEST_F(Cli, ConfigProfileSuppliesSettingsAndFlagsAndEnvWin) {
  std::ofstream(dir_ / "access") << sandbox_.access_token();
  std::filesystem::permissions(dir_ / "access", std::filesystem::perms::owner_read);
  write_config(dir_, "[profiles.default]\nplatform = \"" + sandbox_.url() + "\"\naccess_token_file = \"" +
                         (dir_ / "access").string() + "\"\ninterval = \"50ms\"\noutput_dir = \"" +
                         (dir_ / "from-profile").string() +
                         "\"\nparallel = 2\n\n[profiles.other]\nplatform = \"demo\"\n");
  // No platform/access token in the environment: both come from the profile.
  const auto r = cli({"run", "--entity", "Bill"}, {{"MEWS_PLATFORM", ""}, {"MEWS_ACCESS_TOKEN", ""}});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  const std::string id = sandbox_.exports()[0]["Id"];
  expect_export_matches_server(dir_ / "from-profile" / id, id);

  const auto shown = cli({"config", "--json"}, {{"MEWS_PLATFORM", ""}, {"MEWS_ACCESS_TOKEN", ""}});
  ASSERT_EQ(shown.exit_code, 0) << shown.stderr_text;
  const auto doc = json::parse(shown.stdout_text);
  EXPECT_EQ(doc["Settings"]["platform"]["Value"], sandbox_.url());
  EXPECT_EQ(doc["Settings"]["platform"]["Source"], "profile");
  EXPECT_EQ(doc["Settings"]["client_token"]["Source"], "env");
  EXPECT_EQ(doc["Settings"]["access_token"]["Source"], "profile");
  EXPECT_EQ(doc["Settings"]["parallel"]["Value"], "2");
  EXPECT_EQ(doc["Settings"]["timeout"]["Source"], "default");

  // env beats profile, flag beats env.
  const auto env_wins = json::parse(cli({"config", "--json"}, {{"MEWS_PLATFORM", "demo"}}).stdout_text);
  EXPECT_EQ(env_wins["Settings"]["platform"]["Value"], "demo");
  EXPECT_EQ(env_wins["Settings"]["platform"]["Source"], "env");
  const auto flag_wins =
      json::parse(cli({"config", "--json", "--platform", "production"}, {{"MEWS_PLATFORM", "demo"}}).stdout_text);
  EXPECT_EQ(flag_wins["Settings"]["platform"]["Value"], "production");
  EXPECT_EQ(flag_wins["Settings"]["platform"]["Source"], "flag");
  // A named profile.
  const auto other = json::parse(cli({"--profile", "other", "config", "--json"}, {{"MEWS_PLATFORM", ""}}).stdout_text);
  EXPECT_EQ(other["Settings"]["platform"]["Value"], "demo");
  const auto table = cli({"config"});
  EXPECT_EQ(table.exit_code, 0);
  EXPECT_NE(table.stdout_text.find("<redacted>"), std::string::npos) << table.stdout_text;
}

TEST_F(Cli, BadConfigurationIsAClearUsageError) {
  write_config(dir_, "[profiles.default]\nplatfrom = \"demo\"\n");
  auto r = cli({"status", "x"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.stderr_text.find("platfrom"), std::string::npos) << r.stderr_text;

  write_config(dir_, "[profiles.default]\naccess_token = \"abc\"\n");
  r = cli({"config"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.stderr_text.find("access_token_file"), std::string::npos) << r.stderr_text;

  write_config(dir_, "[profiles.default]\nplatform = \n");
  r = cli({"config"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.stderr_text.find("line 2"), std::string::npos) << r.stderr_text;

  write_config(dir_, "[profiles.hotel-a]\nplatform = \"demo\"\n");
  r = cli({"--profile", "hotel-b", "config"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.stderr_text.find("hotel-a"), std::string::npos) << r.stderr_text;
  r = cli({"config"}, {{"MEWS_PROFILE", "nope"}});
  EXPECT_EQ(r.exit_code, 2);
  r = cli({"config", "--config", (dir_ / "missing.toml").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(api_requests(), 0u);
}

TEST_F(Cli, ProgressIsDrawnOnATerminalOnlyAndNeverWhenPiped) {
  // script(1) runs the command on a pseudo-terminal: stderr is a TTY there.
  const auto on_tty = [&](const std::string& extra) {
    const std::string command = std::string(MEWS_EXPORT_BIN) + " run --entity Customer -o " + (dir_ / "out").string() +
                                " --interval 300ms " + extra;
    return run_process({"/usr/bin/script", "-qefc", command, "/dev/null"}, cli_env({{"TERM", "xterm"}}));
  };
  const auto tty = on_tty("");
  ASSERT_EQ(tty.exit_code, 0) << tty.stdout_text << tty.stderr_text;
  expect_no_secrets(tty.stdout_text);
  EXPECT_NE(tty.stdout_text.find("next check in"), std::string::npos) << tty.stdout_text;
  EXPECT_NE(tty.stdout_text.find("total  "), std::string::npos) << tty.stdout_text;
  EXPECT_NE(tty.stdout_text.find("\x1b[2K"), std::string::npos);  // redrawn in place

  const auto never = on_tty("--progress never");
  ASSERT_EQ(never.exit_code, 0);
  EXPECT_EQ(never.stdout_text.find("next check in"), std::string::npos) << never.stdout_text;
  EXPECT_EQ(never.stdout_text.find("\x1b["), std::string::npos);

  const auto piped = cli({"run", "--entity", "Payment", "-o", (dir_ / "out").string(), "--interval", "300ms"});
  ASSERT_EQ(piped.exit_code, 0);
  EXPECT_EQ(piped.stderr_text, "");  // nothing but warnings/errors on a pipe, and there are none
  const auto forced =
      cli({"run", "--entity", "Bill", "-o", (dir_ / "out").string(), "--interval", "300ms", "--progress", "always"});
  ASSERT_EQ(forced.exit_code, 0);
  EXPECT_NE(forced.stderr_text.find("next check in"), std::string::npos);
}

namespace {

class CliShortExpiry : public Cli {
 protected:
  CliShortExpiry() : Cli(json{{"expires_after_seconds", 3600}}) {}
};

class CliExpired : public Cli {
 protected:
  CliExpired() : Cli(json{{"expires_after_seconds", 1}}) {}
};

}  // namespace

TEST_F(CliShortExpiry, WarnsWhenLessThanADayIsLeftToDownload) {
  const auto r = cli({"run", "--entity", "Bill", "-o", (dir_ / "out").string(), "--interval", "50ms"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("expires at"), std::string::npos) << r.stderr_text;
  // The state directory and journal are private to the user.
  const auto state = std::filesystem::status(dir_ / "state").permissions();
  EXPECT_EQ(state & std::filesystem::perms::all, std::filesystem::perms::owner_all);
  for (const auto& entry : std::filesystem::directory_iterator(dir_ / "state" / "exports")) {
    EXPECT_EQ(entry.status().permissions() & std::filesystem::perms::all,
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  }
}

TEST_F(CliExpired, AnExpiredExportExits4WithAHintToExportAgain) {
  const auto added = cli({"add", "--entity", "Bill"});
  ASSERT_EQ(added.exit_code, 0);
  const std::string id = added.stdout_text.substr(0, 36);
  ASSERT_EQ(cli({"wait", id, "--interval", "50ms"}).exit_code, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  const auto r = cli({"download", id, "-o", (dir_ / "out").string()});
  EXPECT_EQ(r.exit_code, 4) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("new export"), std::string::npos) << r.stderr_text;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "out" / id));
}

TEST_F(Cli, JsonLogsAreOneObjectPerLineWithFields) {
  const auto refused = cli({"--log-format", "json", "add", "--entity", "Bill"}, {{"MEWS_ACCESS_TOKEN", "bad"}});
  EXPECT_EQ(refused.exit_code, 3);
  const auto lines = lines_of(refused.stderr_text);
  ASSERT_FALSE(lines.empty());
  for (const auto& line : lines) {
    const auto doc = json::parse(line);
    for (const char* key : {"time", "level", "message"}) EXPECT_TRUE(doc.contains(key)) << key << " in " << line;
  }
  const auto last = json::parse(lines.back());
  EXPECT_EQ(last["level"], "error");
  EXPECT_EQ(last["http_status"], 401);
  EXPECT_FALSE(last["request_id"].get<std::string>().empty());

  const auto run = cli({"run", "--entity", "Payment", "-o", (dir_ / "out").string(), "--interval", "50ms", "-v",
                        "--log-format", "json"});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  const std::string id = sandbox_.exports()[0]["Id"];
  bool tagged = false;
  for (const auto& line : lines_of(run.stderr_text)) {
    const auto doc = json::parse(line);
    tagged = tagged || (doc.contains("export_id") && doc["export_id"] == id);
  }
  EXPECT_TRUE(tagged) << run.stderr_text;
}

namespace {

// A small tmpfs mounted for the test's lifetime (needs root; skipped otherwise).
class SmallDisk {
 public:
  SmallDisk(const std::filesystem::path& at, const std::string& options) : at_(at) {
    std::filesystem::create_directories(at_);
    mounted_ = ::geteuid() == 0 &&
               run_process({"/bin/mount", "-t", "tmpfs", "-o", options, "tmpfs", at_.string()}).exit_code == 0;
  }
  ~SmallDisk() {
    if (mounted_) run_process({"/bin/umount", at_.string()});
  }
  bool mounted() const { return mounted_; }

 private:
  std::filesystem::path at_;
  bool mounted_ = false;
};

}  // namespace

TEST_F(Cli, FullDiskExits1NamingThePathAndKeepsWhatWasWritten) {
  SmallDisk disk(dir_ / "small", "size=1m");
  if (!disk.mounted()) GTEST_SKIP() << "needs root to mount a small tmpfs";
  const auto r =
      cli({"run", "--entity", "OrderItem", "-o", (dir_ / "small").string(), "--interval", "50ms", "--parallel", "1"});
  EXPECT_EQ(r.exit_code, 1) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find((dir_ / "small").string()), std::string::npos) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("disk space"), std::string::npos) << r.stderr_text;
  const std::string id = sandbox_.exports()[0]["Id"];
  // What was written is kept as a .part file for the next run to resume.
  std::uintmax_t kept = 0;
  for (const auto& item : std::filesystem::directory_iterator(dir_ / "small" / id)) {
    if (item.path().extension() == ".part") kept += item.file_size();
  }
  EXPECT_GT(kept, 0u);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "small" / id / kManifestName));
}

TEST_F(Cli, ReadOnlyFileSystemExits1WithAClearMessage) {
  SmallDisk disk(dir_ / "ro", "size=1m,ro");
  if (!disk.mounted()) GTEST_SKIP() << "needs root to mount a read-only tmpfs";
  const auto r = cli({"run", "--entity", "Bill", "-o", (dir_ / "ro").string(), "--interval", "50ms"});
  EXPECT_EQ(r.exit_code, 1) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find((dir_ / "ro").string()), std::string::npos) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("ead-only"), std::string::npos) << r.stderr_text;
}

TEST_F(Cli, WaitLockWaitsForTheOtherRunThenProceeds) {
  auto lock = hold_job_lock("Customer");

  ChildProcess second;
  second.start({MEWS_EXPORT_BIN, "run", "--entity", "Customer", "-o", (dir_ / "out").string(), "--interval", "50ms",
                "--wait-lock"},
               cli_env());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_TRUE(second.running()) << "it should wait for the lock";
  EXPECT_EQ(api_requests(), 0u) << "nothing may be sent while another run holds the lock";
  { auto released = std::move(lock); }  // the first run ends
  const auto r = second.wait(60);
  EXPECT_EQ(r.exit_code, 0) << r.stderr_text;
  expect_no_secrets(r.stderr_text);
  EXPECT_EQ(adds(), 1u);
}

namespace {

class CliTimedProgression : public Cli {
 protected:
  CliTimedProgression() : Cli(json{{"progression", {{"pending_seconds", 1}, {"processing_seconds", 1}}}}) {}
};

}  // namespace

TEST_F(CliTimedProgression, WaitPendingRetriesTheAddUntilThePendingExportIsDone) {
  // Started elsewhere: not in our journal, so its id cannot be known.
  const auto other = cli({"add", "--entity", "Reservation"}, {{"MEWS_EXPORT_STATE_DIR", (dir_ / "other").string()}});
  ASSERT_EQ(other.exit_code, 0);
  const auto r = cli({"run", "--entity", "Reservation", "-o", (dir_ / "out").string(), "--interval", "300ms",
                      "--timeout", "60s", "--wait-pending"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("already pending"), std::string::npos) << r.stderr_text;
  EXPECT_EQ(adds(), 2u);  // the other one, then ours once the API accepted it
  const auto ours = lines_of(r.stdout_text);
  ASSERT_EQ(ours.size(), 1u);
  EXPECT_EQ(std::filesystem::path(ours[0]).parent_path(), dir_ / "out");
}

namespace {

// The schemas of docs/cli.md "JSON output".
void expect_export_object(const json& e) {
  ASSERT_TRUE(e.is_object()) << e.dump();
  EXPECT_TRUE(e["Id"].is_string());
  EXPECT_TRUE(e["Status"].is_string());
  EXPECT_TRUE(e["EntityType"].is_string());
  EXPECT_TRUE(e["Scope"].is_object() || e["Scope"].is_null());
  EXPECT_TRUE(e["Filters"].is_object() || e["Filters"].is_null());
  EXPECT_TRUE(e["ExpiresUtc"].is_string() || e["ExpiresUtc"].is_null());
  ASSERT_TRUE(e["Files"].is_array());
  for (const auto& f : e["Files"]) {
    EXPECT_TRUE(f["Url"].is_string());
    EXPECT_EQ(f["Url"].get<std::string>().find('?'), std::string::npos);
    EXPECT_TRUE(f["SizeInBytes"].is_number_unsigned());
  }
}

void expect_manifest(const json& m, bool with_directory) {
  ASSERT_TRUE(m.is_object()) << m.dump();
  for (const char* key : {"ExportId", "EntityType", "CompletedUtc"}) EXPECT_TRUE(m[key].is_string()) << key;
  EXPECT_TRUE(m["ExpiresUtc"].is_string() || m["ExpiresUtc"].is_null());
  EXPECT_EQ(m.contains("Directory"), with_directory);
  if (with_directory) {
    EXPECT_TRUE(m["Directory"].is_string());
  }
  ASSERT_TRUE(m["Files"].is_array());
  for (const auto& f : m["Files"]) {
    EXPECT_TRUE(f["Name"].is_string());
    EXPECT_TRUE(f["SizeInBytes"].is_number_unsigned());
    EXPECT_TRUE(f["Lines"].is_number_unsigned());
    ASSERT_TRUE(f["Sha256"].is_string());
    EXPECT_EQ(f["Sha256"].get<std::string>().size(), 64u);
  }
}

}  // namespace

TEST_F(Cli, EveryJsonOutputMatchesTheDocumentedSchema) {
  const auto added = cli({"add", "--entity", "Bill", "--json"});
  ASSERT_EQ(added.exit_code, 0) << added.stderr_text;
  const auto created = json::parse(added.stdout_text);
  expect_export_object(created);
  EXPECT_EQ(created["Status"], "Pending");
  const std::string id = created["Id"];

  const auto waited = cli({"wait", id, "--interval", "50ms", "--json"});
  ASSERT_EQ(waited.exit_code, 0);
  const auto finished = json::parse(waited.stdout_text);
  ASSERT_TRUE(finished.is_array());
  ASSERT_EQ(finished.size(), 1u);
  expect_export_object(finished[0]);
  EXPECT_EQ(finished[0]["Status"], "Success");

  const auto status = cli({"status", id, "--json"});
  expect_export_object(json::parse(status.stdout_text).at(0));

  const auto downloaded = cli({"download", id, "-o", (dir_ / "out").string(), "--json"});
  ASSERT_EQ(downloaded.exit_code, 0) << downloaded.stderr_text;
  const auto manifest = json::parse(downloaded.stdout_text);
  expect_manifest(manifest, true);
  EXPECT_EQ(manifest["Directory"], (dir_ / "out" / id).string());
  expect_manifest(json::parse(read_file(dir_ / "out" / id / kManifestName)), false);

  const auto ran = cli({"run", "--entity", "Payment", "-o", (dir_ / "out").string(), "--interval", "50ms", "--json"});
  ASSERT_EQ(ran.exit_code, 0) << ran.stderr_text;
  expect_manifest(json::parse(ran.stdout_text), true);

  for (const auto& entry : json::parse(cli({"list", "--json"}).stdout_text)) {
    for (const char* key :
         {"Id", "Platform", "TokenFingerprint", "EntityType", "Status", "CreatedUtc", "UpdatedUtc", "Output"}) {
      EXPECT_TRUE(entry[key].is_string()) << key;
    }
    EXPECT_TRUE(entry["Downloaded"].is_boolean());
    EXPECT_TRUE(entry["EnterpriseIds"].is_array());
    if (!entry["Export"].is_null()) {
      expect_export_object(entry["Export"]);
    }
  }
  const auto settings = json::parse(cli({"config", "--json"}).stdout_text);
  EXPECT_TRUE(settings["ConfigFile"].is_string());
  EXPECT_TRUE(settings["ConfigFileExists"].is_boolean());
  EXPECT_TRUE(settings["Profile"]["Loaded"].is_boolean());
  for (const char* name : {"platform", "client", "client_token", "access_token", "state_dir", "ca_bundle",
                           "allow_insecure_http", "output_dir", "interval", "timeout", "parallel"}) {
    const auto& s = settings["Settings"][name];
    EXPECT_TRUE(s["Value"].is_string() || s["Value"].is_null()) << name;
    EXPECT_TRUE(s["Source"].is_string()) << name;
  }
}
