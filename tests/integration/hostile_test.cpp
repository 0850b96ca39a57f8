// Hostile and oversized answers, and hostile local files, against the real
// mews-export binary: every attack of the review reproduced, each ending in a
// clear error (or success) — never a leak, an abort, a hang or a file
// written where it must not be.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "mews_export/downloader.hpp"
#include "support/export_checks.hpp"
#include "support/sandbox_cli.hpp"

using namespace mews_export;
using namespace mews_export::testing;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const json kQuick = {{"progression", {{"pending_polls", 0}, {"processing_polls", 0}}},
                     {"entities", {{"*", {{"files", 2}, {"records_per_file", 200}}}}}};

// A sandbox scenario whose `target` ("add" or "getAll") answers every call
// with `status` and `body` (a string sent verbatim).
json answering(const std::string& target, int status, const std::string& body) {
  json scenario = kQuick;
  scenario["faults"] =
      json::array({{{"target", target}, {"action", "status"}, {"status", status}, {"body", body}, {"times", nullptr}}});
  return scenario;
}

std::string nested(int depth) {
  return std::string(static_cast<std::size_t>(depth), '[') + std::string(static_cast<std::size_t>(depth), ']');
}

class Hostile : public ::testing::Test, public SandboxCli {
 protected:
  explicit Hostile(const json& scenario = kQuick) : SandboxCli(scenario, "mews-hostile") {}

  // Runs `script` with bash (mews-export is $ME), in cli_env().
  ProcessResult shell(const std::string& script, std::map<std::string, std::string> env = {}) {
    env["ME"] = MEWS_EXPORT_BIN;
    auto result = run_process({"/bin/bash", "-c", script}, cli_env(std::move(env)));
    expect_no_secrets(result.stderr_text);
    return result;
  }

  // A successful export made through the CLI; its id.
  std::string finished_export(const std::string& entity) {
    const auto added = cli({"add", "--entity", entity});
    EXPECT_EQ(added.exit_code, 0) << added.stderr_text;
    const std::string id = added.stdout_text.substr(0, added.stdout_text.find('\n'));
    const auto waited = cli({"wait", id, "--interval", "20ms"});
    EXPECT_EQ(waited.exit_code, 0) << waited.stderr_text;
    return id;
  }
};

}  // namespace

// ------------------------------------------------------ local hostile files

TEST_F(Hostile, TokenFilesMustBeSmallRegularFiles) {
  const auto zero = cli({"status", "3fa85f64-5717-4562-b3fc-2c963f66afa6"},
                        {{"MEWS_ACCESS_TOKEN", ""}, {"MEWS_ACCESS_TOKEN_FILE", "/dev/zero"}});
  EXPECT_EQ(zero.exit_code, 2) << zero.stderr_text;
  EXPECT_NE(zero.stderr_text.find("not a regular file"), std::string::npos) << zero.stderr_text;

  fs::create_directories(dir_ / "token-dir");
  const auto directory = cli({"status", "3fa85f64-5717-4562-b3fc-2c963f66afa6"},
                             {{"MEWS_ACCESS_TOKEN", ""}, {"MEWS_ACCESS_TOKEN_FILE", (dir_ / "token-dir").string()}});
  EXPECT_EQ(directory.exit_code, 2);
  EXPECT_NE(directory.stderr_text.find("not a regular file"), std::string::npos) << directory.stderr_text;
  EXPECT_EQ(directory.stderr_text.find("empty"), std::string::npos) << directory.stderr_text;

  std::ofstream(dir_ / "huge-token") << std::string(64 * 1024, 'x');
  const auto huge = cli({"status", "3fa85f64-5717-4562-b3fc-2c963f66afa6"},
                        {{"MEWS_ACCESS_TOKEN", ""}, {"MEWS_ACCESS_TOKEN_FILE", (dir_ / "huge-token").string()}});
  EXPECT_EQ(huge.exit_code, 2);
  EXPECT_NE(huge.stderr_text.find("KiB"), std::string::npos) << huge.stderr_text;
  EXPECT_EQ(api_requests(), 0u);
}

TEST_F(Hostile, ConfigFileMustBeASmallRegularFile) {
  const auto r = cli({"--config", "/dev/zero", "config"});
  EXPECT_EQ(r.exit_code, 2) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("/dev/zero"), std::string::npos) << r.stderr_text;
}

TEST_F(Hostile, IdsAreComparedWithoutRegardToCase) {
  const std::string id = finished_export("Bill");
  std::string upper = id;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const auto status = cli({"--json", "status", upper});
  ASSERT_EQ(status.exit_code, 0) << status.stderr_text;
  EXPECT_EQ(json::parse(status.stdout_text)[0]["Id"], id);
  const auto downloaded = cli({"download", upper, "-o", (dir_ / "out").string()});
  EXPECT_EQ(downloaded.exit_code, 0) << downloaded.stderr_text;
}

TEST_F(Hostile, SymbolicLinksInTheExportDirectoryAreRefusedByName) {
  const std::string id = finished_export("Bill");
  const auto out = dir_ / "out";
  fs::create_directories(out / id);
  std::ofstream(dir_ / "victim") << "precious\n";
  fs::create_symlink(dir_ / "victim", out / id / "part-001.jsonl.part");
  const auto r = cli({"download", id, "-o", out.string()});
  EXPECT_EQ(r.exit_code, 1) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find((out / id / "part-001.jsonl.part").string()), std::string::npos) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("symbolic link"), std::string::npos);
  EXPECT_EQ(read_file(dir_ / "victim"), "precious\n");
  EXPECT_FALSE(fs::exists(out / id / kManifestName));
}

TEST_F(Hostile, AnExistingSharedStateDirectoryKeepsItsModeAndIsWarnedAbout) {
  const auto shared = dir_ / "shared";
  fs::create_directories(shared);
  ::chmod(shared.c_str(), 01777);
  const auto r = cli({"list", "--offline"}, {{"MEWS_EXPORT_STATE_DIR", shared.string()}});
  EXPECT_EQ(r.exit_code, 0) << r.stderr_text;
  struct stat st {};
  ASSERT_EQ(::stat(shared.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 01777u);
  EXPECT_NE(r.stderr_text.find("can be read by other users"), std::string::npos) << r.stderr_text;
  // What we create ourselves is private.
  ASSERT_EQ(::stat((shared / "exports").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  const auto fresh = cli({"list", "--offline"}, {{"MEWS_EXPORT_STATE_DIR", (dir_ / "new" / "state").string()}});
  ASSERT_EQ(::stat((dir_ / "new" / "state").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

// ------------------------------------------------------------ standard output

TEST_F(Hostile, AFullStdoutIsAnErrorAndTheNewIdIsNotSilentlyLost) {
  const auto r = shell("\"$ME\" add --entity Bill > /dev/full");
  EXPECT_EQ(r.exit_code, 1) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("cannot write to standard output"), std::string::npos) << r.stderr_text;
  const auto json_out = shell("\"$ME\" --json status 3fa85f64-5717-4562-b3fc-2c963f66afa6 > /dev/full");
  EXPECT_NE(json_out.exit_code, 0);
}

// More data than a 1 MiB pipe holds, so the reader's exit is always noticed
// (a smaller export may be written whole before `head` is gone: exit 0).
class HostileBigStream : public Hostile {
 protected:
  static json scenario() {
    json s = kQuick;
    s["entities"] = {{"*", {{"files", 2}, {"records_per_file", 4000}}}};
    return s;
  }
  HostileBigStream() : Hostile(scenario()) {}
};

TEST_F(HostileBigStream, AReaderThatStopsEarlyEndsTheRunQuietlyWith141) {
  const auto r = shell(
      "\"$ME\" run --entity Customer --stdout --interval 20ms | head -c 100 > /dev/null; "
      "echo \"status=${PIPESTATUS[0]}\"");
  EXPECT_NE(r.stdout_text.find("status=141"), std::string::npos) << r.stdout_text << r.stderr_text;
  EXPECT_EQ(r.stderr_text.find("Broken pipe"), std::string::npos) << r.stderr_text;
  EXPECT_EQ(r.stderr_text.find("error"), std::string::npos) << r.stderr_text;
}

// ------------------------------------------------------------ user input

TEST_F(Hostile, EmptyAndMalformedIdsAndDurationsAreUsageErrorsWithoutARequest) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"status", ""},
                                             {"status", "../../etc/passwd"},
                                             {"status", "abc\x1b[2J"},
                                             {"wait", "3fa85f64-5717-4562-b3fc-2c963f66afa6", "--interval", ""},
                                             {"wait", "3fa85f64-5717-4562-b3fc-2c963f66afa6", "--timeout", ""},
                                             {"download", "a b", "-o", (dir_ / "out").string()},
                                             {"run", "--entity", "Bill", "--stdout", "--interval", ""}}) {
    const auto r = cli(args);
    EXPECT_EQ(r.exit_code, 2) << args[0] << " " << args[1] << ": " << r.stderr_text;
    EXPECT_EQ(r.stderr_text.find('\x1b'), std::string::npos) << r.stderr_text;
  }
  EXPECT_EQ(api_requests(), 0u);
}

TEST_F(Hostile, AProfileNumberWithTrailingJunkIsRefused) {
  fs::create_directories(dir_ / "config" / "mews-export");
  std::ofstream(dir_ / "config" / "mews-export" / "config.toml") << "[profiles.default]\nparallel = \"4abc\"\n";
  const std::string id = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
  const auto r = cli({"download", id, "-o", (dir_ / "out").string()});
  EXPECT_EQ(r.exit_code, 2) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("4abc"), std::string::npos) << r.stderr_text;
}

// ------------------------------------------------------------ hostile answers

class HostileDeepAnswer : public Hostile {
 protected:
  HostileDeepAnswer() : Hostile(answering("getAll", 200, R"({"Exports": [], "Future": )" + nested(50000) + "}")) {}
};

TEST_F(HostileDeepAnswer, DeeplyNestedJsonIsAClearErrorNotACrash) {
  const auto r = cli({"status", "--json", "3fa85f64-5717-4562-b3fc-2c963f66afa6"});
  EXPECT_EQ(r.exit_code, 1) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("deeper than 64 levels"), std::string::npos) << r.stderr_text;
  EXPECT_TRUE(r.stdout_text.empty());
}

class HostileWideAnswer : public Hostile {
 protected:
  // 55 levels (allowed) repeated: quadratic when pretty-printed in full.
  static std::string body() {
    std::string many;
    for (int i = 0; i < 500; ++i) many += (i ? "," : "") + nested(55);
    return R"({"Exports": [{"Id": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "Status": "Pending", "EntityType": "Bill",
               "Scope": {"EnterpriseIds": null, "Extra": [)" +
           many + R"(]}, "Filters": {"Deep": [)" + many + "]}}]}";
  }
  HostileWideAnswer() : Hostile(answering("getAll", 200, body())) {}
};

TEST_F(HostileWideAnswer, EchoedNestedFieldsGrowLinearlyInJsonOutput) {
  const auto r = cli({"status", "--json", "3fa85f64-5717-4562-b3fc-2c963f66afa6"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_LT(r.stdout_text.size(), body().size() * 2);
  const auto doc = json::parse(r.stdout_text);
  EXPECT_EQ(doc[0]["Scope"]["Extra"].size(), 500u);
}

class HostileControlCharacters : public Hostile {
 protected:
  HostileControlCharacters()
      : Hostile(answering("add", 400, "{\"Message\": \"\\u001b[31mred\\u0007\\r\\nmews-export: error: forged\"}")) {}
};

TEST_F(HostileControlCharacters, ServerTextIsEscapedBeforeItReachesATerminal) {
  const auto r = cli({"add", "--entity", "Bill"});
  EXPECT_EQ(r.exit_code, 1) << r.stderr_text;
  EXPECT_EQ(r.stderr_text.find('\x1b'), std::string::npos) << r.stderr_text;
  EXPECT_EQ(r.stderr_text.find('\x07'), std::string::npos);
  EXPECT_EQ(r.stderr_text.find('\r'), std::string::npos);
  EXPECT_NE(r.stderr_text.find("\\e[31mred\\x07\\r\\nmews-export: error: forged"), std::string::npos) << r.stderr_text;
  EXPECT_EQ(lines_of(r.stderr_text).size(), 1u) << r.stderr_text;  // no forged second line
}

class HostileExportId : public Hostile {
 protected:
  HostileExportId()
      : Hostile(answering("add", 200,
                          R"({"Export": {"Id": "../../victim", "Status": "Pending", "EntityType": "Bill"}})")) {}
};

TEST_F(HostileExportId, AnIdThatIsNotAnExportIdIsRefusedBeforeItNamesAFile) {
  const auto r = cli({"run", "--entity", "Bill", "-o", (dir_ / "out").string(), "--interval", "20ms"});
  EXPECT_EQ(r.exit_code, 1) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("not an export id"), std::string::npos) << r.stderr_text;
  EXPECT_FALSE(fs::exists(dir_ / "victim"));
  EXPECT_FALSE(fs::exists(dir_ / "state" / "victim.json"));
}

class HostileMissingStatus : public Hostile {
 protected:
  HostileMissingStatus()
      : Hostile(answering("getAll", 200,
                          R"({"Exports": [{"Id": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "EntityType": "Bill"}]})")) {}
};

TEST_F(HostileMissingStatus, AnExportWithoutAStatusIsDescribedAsSuch) {
  const auto r = cli({"download", "3fa85f64-5717-4562-b3fc-2c963f66afa6", "-o", (dir_ / "out").string()});
  EXPECT_EQ(r.exit_code, 1) << r.stderr_text;
  EXPECT_EQ(r.stderr_text.find("is , not"), std::string::npos) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("no known state"), std::string::npos) << r.stderr_text;
}

// ------------------------------------------------- with the sandbox's faults

namespace {

json with_faults(json faults, json scenario = kQuick) {
  scenario["faults"] = std::move(faults);
  return scenario;
}

// A second sandbox on another loopback address: a "foreign host" that
// counts every request it gets.
class ForeignHost {
 public:
  ForeignHost() : sandbox_(nullptr, {"--host", "127.0.0.2"}) {}
  std::string url(const std::string& path) const { return sandbox_.url() + path; }
  std::uint64_t requests() const { return sandbox_.stats()["requests_total"].get<std::uint64_t>(); }

 private:
  SandboxProcess sandbox_;
};

}  // namespace

TEST(HostileRedirects, ApiRedirectsAreNeverFollowedAndTokensStayHome) {
  ForeignHost foreign;
  for (const int status : {301, 302, 303, 307, 308}) {
    for (const std::string target : {"getAll", "add"}) {
      SandboxCli cli(with_faults(json::array({{{"target", target},
                                               {"action", "redirect"},
                                               {"status", status},
                                               {"location", foreign.url("/api/connector/v1/exports/" + target)},
                                               {"times", nullptr}}})));
      const auto r = target == "add" ? cli.cli({"add", "--entity", "Bill"})
                                     : cli.cli({"status", "3fa85f64-5717-4562-b3fc-2c963f66afa6"});
      EXPECT_EQ(r.exit_code, 1) << status << " " << target << ": " << r.stderr_text;
      EXPECT_NE(r.stderr_text.find("HTTP " + std::to_string(status)), std::string::npos) << r.stderr_text;
      EXPECT_NE(r.stderr_text.find("127.0.0.2"), std::string::npos) << r.stderr_text;
      EXPECT_NE(r.stderr_text.find("never follow redirects"), std::string::npos) << r.stderr_text;
    }
  }
  EXPECT_EQ(foreign.requests(), 0u);  // no token ever reached the other host
}

TEST(HostileRedirects, AnApiRedirectToPlainHttpElsewhereIsNotFollowedEither) {
  SandboxCli cli(with_faults(json::array(
      {{{"target", "add"}, {"action", "redirect"}, {"location", "http://203.0.113.7/steal"}, {"times", nullptr}}})));
  const auto r = cli.cli({"add", "--entity", "Bill"});
  EXPECT_EQ(r.exit_code, 1) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("203.0.113.7"), std::string::npos) << r.stderr_text;
}

TEST(HostileRedirects, FileRedirectsOnlyToAllowedSchemesAndHosts) {
  for (const std::string location : {"ftp://127.0.0.1/f", "file:///etc/passwd", "http://203.0.113.7/f"}) {
    SandboxCli cli(with_faults(
        json::array({{{"target", "file"}, {"action", "redirect"}, {"location", location}, {"times", nullptr}}})));
    const auto r = cli.cli({"run", "--entity", "Bill", "-o", "/nonexistent-never-written", "--interval", "20ms"});
    EXPECT_EQ(r.exit_code, 1) << location << ": " << r.stderr_text;
    EXPECT_NE(r.stderr_text.find("refusing a redirect"), std::string::npos) << r.stderr_text;
  }
}

TEST(HostileUrls, UnusableFileUrlsFailAtOnceWithoutRetries) {
  for (const std::string url :
       {"", "ftp://127.0.0.1/x", "file:///etc/passwd", "relative/path", "http://203.0.113.7/f?signature=abc"}) {
    SandboxCli cli(
        with_faults(json::array({{{"target", "getAll"}, {"action", "file_url"}, {"url", url}, {"times", nullptr}}})));
    const auto started = std::chrono::steady_clock::now();
    const auto r = cli.cli({"run", "--entity", "Bill", "--stdout", "--interval", "20ms"});
    EXPECT_EQ(r.exit_code, 1) << url << ": " << r.stderr_text;
    EXPECT_NE(r.stderr_text.find("cannot be downloaded"), std::string::npos) << r.stderr_text;
    EXPECT_EQ(r.stderr_text.find("retrying"), std::string::npos) << r.stderr_text;
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds{20});
  }
  SandboxCli insecure(with_faults(json::array(
      {{{"target", "getAll"}, {"action", "file_url"}, {"url", "http://203.0.113.7/f"}, {"times", nullptr}}})));
  const auto r = insecure.cli({"run", "--entity", "Bill", "--stdout", "--interval", "20ms"});
  EXPECT_NE(r.stderr_text.find("--allow-insecure-http"), std::string::npos) << r.stderr_text;
}

TEST(HostileAnswers, LargeAnswersAreRead) {
  // The 256 MiB cap itself is pinned down in api_client_test (a smaller cap).
  SandboxCli big(
      with_faults(json::array({{{"target", "getAll"}, {"action", "pad"}, {"bytes", 3 << 20}, {"times", nullptr}}})));
  const auto ok = big.cli({"run", "--entity", "Bill", "--stdout", "--interval", "20ms"});
  EXPECT_EQ(ok.exit_code, 0) << ok.stderr_text;
}

TEST(HostileAnswers, ThousandsOfFilesWithLongUrlsAndThousandsOfIds) {
  json scenario = kQuick;
  scenario["entities"] = {{"Bill", {{"files", 5000}, {"records_per_file", 1}}}, {"Payment", {{"files", 0}}}};
  scenario["url_padding"] = 300;
  scenario["seed_exports"] = json::array({{{"entity", "Payment"}, {"count", 2500}}});
  SandboxCli cli(scenario);
  // One export of 5,000 files: a getAll answer of ~9 MiB.
  const auto streamed = cli.cli({"run", "--entity", "Bill", "--stdout", "--interval", "20ms"});
  ASSERT_EQ(streamed.exit_code, 0) << streamed.stderr_text;
  EXPECT_EQ(records_in(streamed.stdout_text), 5000u);

  std::vector<std::string> ids;
  for (const auto& e : cli.sandbox().exports()) ids.push_back(e["Id"]);
  ASSERT_EQ(ids.size(), 2501u);
  std::vector<std::string> args{"--json", "status"};
  args.insert(args.end(), ids.begin(), ids.end());
  const auto before = cli.sandbox().stats()["getall_calls"].get<std::uint64_t>();
  const auto status = cli.cli(args);
  ASSERT_EQ(status.exit_code, 0) << status.stderr_text;
  EXPECT_EQ(json::parse(status.stdout_text).size(), 2501u);
  EXPECT_EQ(cli.sandbox().stats()["getall_calls"].get<std::uint64_t>() - before, 3u);  // 1000 + 1000 + 501

  args[1] = "wait";
  const auto waited = cli.cli(args);
  EXPECT_EQ(waited.exit_code, 0) << waited.stderr_text;
}

TEST(HostileAnswers, AnExportGetAllNeverListsIsAskedForUntilTheTimeoutAndNeverAddedTwice) {
  SandboxCli cli(with_faults(json::array({{{"target", "getAll"}, {"action", "omit"}, {"times", nullptr}}})));
  const auto r = cli.cli({"run", "--entity", "Bill", "--stdout", "--interval", "200ms", "--timeout", "3s"});
  EXPECT_EQ(r.exit_code, 5) << r.stderr_text;
  EXPECT_EQ(cli.adds(), 1u);

  SandboxCli lagging(with_faults(json::array({{{"target", "getAll"}, {"action", "omit"}, {"times", 3}}})));
  const auto ok = lagging.cli({"run", "--entity", "Bill", "--stdout", "--interval", "50ms"});
  EXPECT_EQ(ok.exit_code, 0) << ok.stderr_text;
  EXPECT_EQ(lagging.adds(), 1u);
}

TEST(HostileAnswers, ControlCharactersInMessageAndRequestIdAreEscaped) {
  SandboxCli cli(with_faults(json::array({{{"target", "getAll"}, {"action", "control_chars"}, {"times", nullptr}}})));
  const auto r = cli.cli({"status", "3fa85f64-5717-4562-b3fc-2c963f66afa6"});
  EXPECT_EQ(r.exit_code, 1) << r.stderr_text;
  EXPECT_EQ(r.stderr_text.find('\x1b'), std::string::npos) << r.stderr_text;
  EXPECT_EQ(r.stderr_text.find('\x07'), std::string::npos) << r.stderr_text;
  EXPECT_EQ(r.stderr_text.find('\r'), std::string::npos) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("\\e[31m"), std::string::npos) << r.stderr_text;
}

TEST(HostileAnswers, AFileThatChangesBetweenAttemptsIsFetchedWholeAgainNotSpliced) {
  // The first transfer is cut half way; from the second request on the file
  // has other bytes (same size, new ETag): If-Range makes the server send it whole.
  json scenario = kQuick;
  scenario["entities"] = {{"Bill", {{"files", 1}, {"records_per_file", 2000}}}};
  scenario["faults"] = json::array({{{"target", "file"}, {"action", "truncate"}, {"times", 1}},
                                    {{"target", "file"}, {"action", "mutate"}, {"after", 1}, {"times", 1}}});
  SandboxCli cli(scenario);
  const auto out = cli.dir() / "out";
  const auto r = cli.cli({"run", "--entity", "Bill", "-o", out.string(), "--interval", "20ms"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  const std::string id = cli.sandbox().exports()[0]["Id"];
  EXPECT_EQ(read_file(out / id / "part-001.jsonl"), *cli.sandbox().file_content(id, 0));
  expect_export_matches_server(cli.sandbox(), out / id, id);
}

TEST(HostileAnswers, RunningOutOfMemoryIsAnOrdinaryErrorNotAnAbort) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "sanitizers reserve terabytes of address space: no address-space limit can be set";
#endif
  // A 200 MiB answer (gzip-encoded, so no Content-Length tells in advance)
  // under a 300 MB address-space limit: the read fails with bad_alloc.
  SandboxCli cli(
      with_faults(json::array({{{"target", "getAll"}, {"action", "pad"}, {"bytes", 200 << 20}, {"times", nullptr}}})));
  const auto r =
      run_process({"/bin/bash", "-c", "ulimit -v 300000; exec \"$ME\" status 3fa85f64-5717-4562-b3fc-2c963f66afa6"},
                  cli.cli_env({{"ME", MEWS_EXPORT_BIN}}));
  EXPECT_EQ(r.exit_code, 1) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("out of memory"), std::string::npos) << r.stderr_text;
}

// ------------------------------------------------------ data that is not JSON

class HostileBadLine : public Hostile {
 protected:
  static json scenario() {
    json s = kQuick;
    s["faults"] = json::array({{{"target", "file"}, {"entity", "Bill"}, {"file_index", 1}, {"action", "bad_json"}}});
    return s;
  }
  HostileBadLine() : Hostile(scenario()) {}
};

TEST_F(HostileBadLine, ValidateNamesTheLineThatIsNotJsonAndExits6) {
  const std::string id = finished_export("Bill");
  const auto out = (dir() / "out").string();
  const auto checked = cli({"download", id, "-o", out, "--validate"});
  EXPECT_EQ(checked.exit_code, 6) << checked.stderr_text;
  EXPECT_NE(checked.stderr_text.find("part-002.jsonl"), std::string::npos) << checked.stderr_text;
  EXPECT_NE(checked.stderr_text.find("line 1 (byte 0)"), std::string::npos) << checked.stderr_text;
  EXPECT_TRUE(fs::exists(fs::path(out) / id / "part-001.jsonl"));
  EXPECT_FALSE(fs::exists(fs::path(out) / id / "manifest.json"));

  const auto streamed = cli({"download", id, "--stdout", "--validate"});
  EXPECT_EQ(streamed.exit_code, 6) << streamed.stderr_text;

  const auto unchecked = cli({"download", id, "-o", out});  // without --validate the bytes are taken as served
  EXPECT_EQ(unchecked.exit_code, 0) << unchecked.stderr_text;
}
