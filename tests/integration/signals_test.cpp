// Crash and interrupt safety of the real mews-export binary against the real
// mews-sandbox: SIGKILL, SIGINT and SIGTERM in the middle of a (deliberately
// slow) download, and SIGINT while waiting for an export. The next run must
// re-attach to the same export through the journal, resume the partial file
// with a Range request and end byte-identical to the server.
// Every output of every call is checked for secrets (tokens, URL signatures).
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "mews_export/downloader.hpp"
#include "sha256.hpp"
#include "support/export_checks.hpp"
#include "support/sandbox_cli.hpp"
#include "support/sandbox_process.hpp"

using namespace mews_export;
using namespace mews_export::testing;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// OrderItem: two files of ~1.5 MB; the first transfer of file 0 trickles at
// ~200 KB/s (so it is still running when the signal comes), later ones are fast.
const json kSlowFirstTransfer = {{"progression", {{"pending_polls", 1}, {"processing_polls", 1}}},
                                 {"entities", {{"OrderItem", {{"files", 2}, {"records_per_file", 2000}}}}},
                                 {"faults",
                                  {{{"target", "file"},
                                    {"entity", "OrderItem"},
                                    {"file_index", 0},
                                    {"action", "trickle"},
                                    {"bytes", 20000},
                                    {"seconds", 0.1},
                                    {"times", 1}}}}};

class Signals : public ::testing::Test, public SandboxCli {
 protected:
  explicit Signals(const json& scenario = kSlowFirstTransfer) : SandboxCli(scenario, "mews-signals") {}

  std::vector<std::string> run_args() const {
    return {MEWS_EXPORT_BIN, "run", "--entity", "OrderItem", "-o", (dir_ / "out").string(), "--interval", "50ms"};
  }

  ProcessResult run(const std::vector<std::string>& argv) {
    auto result = run_process(argv, cli_env(), std::nullopt, 60);
    expect_no_secrets(result);
    return result;
  }

  void expect_no_secrets(const ProcessResult& r) {
    mews_export::testing::expect_no_secrets(sandbox_, r.stdout_text);
    mews_export::testing::expect_no_secrets(sandbox_, r.stderr_text);
  }

  // The first `.part` file under out/, or empty.
  fs::path find_part() const {
    std::error_code ec;
    if (!fs::exists(dir_ / "out", ec)) return {};
    for (auto it = fs::recursive_directory_iterator(dir_ / "out", ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (it->path().extension() == ".part") return it->path();
    }
    return {};
  }

  // Waits (up to 60 s, while `child` runs) until a .part file holds at least `bytes`.
  // This deadline and the others here wait for an event, they do not time the
  // tool: they are generous because a loaded machine (the suite under ASan at
  // ctest -j4) took more than 15 s to start a run and write its first 40 kB.
  fs::path wait_for_part(ChildProcess& child, std::uint64_t bytes) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline && child.running()) {
      const auto part = find_part();
      std::error_code ec;
      if (!part.empty() && fs::file_size(part, ec) >= bytes && !ec) return part;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return {};
  }

  bool has_range(const std::string& range) {
    const auto stats = sandbox_.stats();
    for (const auto& r : stats["ranges"])
      if (r == range) return true;
    return false;
  }

  void expect_export_matches_server(const fs::path& dir, const std::string& id) {
    mews_export::testing::expect_export_matches_server(sandbox_, dir, id);
    EXPECT_EQ(json::parse(read_file(dir / kManifestName))["Files"].size(), 2u);
  }

  // The one export on the server, after the interrupted run.
  std::string only_export_id() {
    const auto exports = sandbox_.exports();
    EXPECT_EQ(exports.size(), 1u);
    return exports.empty() ? std::string() : exports[0]["Id"].get<std::string>();
  }

  // Re-runs the same command: it must re-attach, resume at `resume_at` and finish.
  void expect_rerun_resumes(const std::string& id, std::uint64_t resume_at) {
    const auto r = run(run_args());
    ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
    EXPECT_EQ(r.stdout_text, (dir_ / "out" / id).string() + "\n");
    EXPECT_EQ(adds(), 1u) << "the re-run should have re-attached to the journaled export";
    EXPECT_TRUE(has_range("bytes=" + std::to_string(resume_at) + "-"))
        << "expected a resume at byte " << resume_at << "; stats: " << sandbox_.stats().dump();
    expect_export_matches_server(dir_ / "out" / id, id);
  }
};

}  // namespace

TEST_F(Signals, SigkillMidDownloadThenRerunResumesTheSameExport) {
  ChildProcess child;
  child.start(run_args(), cli_env());
  const auto part = wait_for_part(child, 40000);
  ASSERT_FALSE(part.empty()) << "no growing .part file; stderr:\n" << child.stderr_text();
  child.send(SIGKILL);
  const auto killed = child.wait(10);
  EXPECT_EQ(killed.exit_code, 128 + SIGKILL);
  expect_no_secrets(killed);

  const std::string id = only_export_id();
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(fs::exists(part));
  const std::uint64_t kept = fs::file_size(part);
  ASSERT_GT(kept, 0u);
  EXPECT_LT(kept, sandbox_.exports()[0]["Files"][0]["SizeInBytes"].get<std::uint64_t>());
  EXPECT_FALSE(fs::exists(dir_ / "out" / id / kManifestName));

  expect_rerun_resumes(id, kept);
}

class SignalsInterrupt : public Signals, public ::testing::WithParamInterface<int> {};

TEST_P(SignalsInterrupt, MidDownloadExitsWithTheSignalCodeAndKeepsState) {
  const int signal = GetParam();
  ChildProcess child;
  child.start(run_args(), cli_env());
  const auto part = wait_for_part(child, 40000);
  ASSERT_FALSE(part.empty()) << "no growing .part file; stderr:\n" << child.stderr_text();
  const auto sent = std::chrono::steady_clock::now();
  child.send(signal);
  const auto r = child.wait(10);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - sent).count();
  expect_no_secrets(r);
  EXPECT_EQ(r.exit_code, 128 + signal) << r.stderr_text;
  EXPECT_LT(seconds, 2.0) << "slow to react to the signal";

  const std::string id = only_export_id();
  ASSERT_FALSE(id.empty());
  // The partial file stays for the next run, under its .part name only.
  ASSERT_TRUE(fs::exists(part)) << "the .part file was removed";
  const std::uint64_t kept = fs::file_size(part);
  EXPECT_GT(kept, 0u);
  EXPECT_EQ(part, dir_ / "out" / id / (part_file_name(0) + ".part"));
  EXPECT_FALSE(fs::exists(dir_ / "out" / id / part_file_name(0))) << "an unfinished file got its final name";
  EXPECT_FALSE(fs::exists(dir_ / "out" / id / kManifestName));
  // The journal still knows the export as not downloaded.
  const auto journal_path = dir_ / "state" / "exports" / (id + ".json");
  ASSERT_TRUE(fs::exists(journal_path)) << journal_path;
  const auto entry = json::parse(read_file(journal_path));
  EXPECT_EQ(entry.value("Downloaded", true), false) << entry.dump();

  expect_rerun_resumes(id, kept);
}

INSTANTIATE_TEST_SUITE_P(Signals, SignalsInterrupt, ::testing::Values(SIGINT, SIGTERM),
                         [](const ::testing::TestParamInfo<int>& param) {
                           return param.param == SIGINT ? std::string("Sigint") : std::string("Sigterm");
                         });

namespace {

class SignalsWhileWaiting : public Signals {
 protected:
  SignalsWhileWaiting() : Signals(json{{"progression", {{"pending_polls", 1000000}, {"processing_polls", 1}}}}) {}
};

}  // namespace

TEST_F(SignalsWhileWaiting, SigintWhileWaitingExits130Promptly) {
  ChildProcess child;
  auto args = run_args();
  args.back() = "30s";  // --interval 30s: the signal must cut the sleep short
  child.start(args, cli_env());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline && child.running() &&
         sandbox_.stats()["getall_calls"].get<std::uint64_t>() < 1) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(child.running()) << child.stderr_text();
  ASSERT_GE(sandbox_.stats()["getall_calls"].get<std::uint64_t>(), 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // now sleeping until the next poll
  const auto sent = std::chrono::steady_clock::now();
  child.send(SIGINT);
  const auto r = child.wait(10);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - sent).count();
  expect_no_secrets(r);
  EXPECT_EQ(r.exit_code, 130) << r.stderr_text;
  EXPECT_LT(seconds, 2.0) << "SIGINT did not interrupt the wait promptly";
  const std::string id = only_export_id();
  EXPECT_TRUE(fs::exists(dir_ / "state" / "exports" / (id + ".json"))) << "the journal lost the export";
}
