// Object-storage output end to end: the real mews-export against the real
// mews-sandbox, writing into a real S3-compatible server (s3rver) on loopback.
// `run`, `download` and `sync` with -o s3://BUCKET/PREFIX write the local
// layout as objects, byte-identical to the server's files, manifest last; a
// SIGKILL in the middle of a multipart upload is resumed by the same command;
// refusals map to their exit codes without printing a secret. Polls are
// 500 ms apart: an ASan-built sandbox prepares big files slowly, and 50 ms
// polls would meet its 429 rate limit.
// (s3rver checks access key ids but no signature: SigV4 itself is proven by
// the unit tests against AWS's published examples.)
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "mews_export/clock.hpp"
#include "mews_export/downloader.hpp"
#include "mews_export/time.hpp"
#include "sha256.hpp"
#include "support/s3rver_process.hpp"
#include "support/sandbox_cli.hpp"

using namespace mews_export;
using namespace mews_export::testing;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kBucket = "lake";

// OrderItem: two files of ~9 MB (each a multipart upload of two parts) and a
// small one of each other type (one PutObject).
const json kScenario = {{"progression", {{"pending_polls", 0}, {"processing_polls", 1}}},
                        {"entities", {{"OrderItem", {{"files", 2}, {"bytes_per_file", 9000000}}}}}};

class S3Output : public ::testing::Test, public SandboxCli {
 protected:
  explicit S3Output(const json& scenario = kScenario) : SandboxCli(scenario, "mews-s3") { s3_.create_bucket(kBucket); }

  std::map<std::string, std::string> s3_env(std::map<std::string, std::string> env = {}) const {
    env.try_emplace("AWS_ACCESS_KEY_ID", S3rverProcess::access_key());
    env.try_emplace("AWS_SECRET_ACCESS_KEY", S3rverProcess::secret_key());
    env.try_emplace("AWS_REGION", S3rverProcess::region());
    env.try_emplace("AWS_ENDPOINT_URL_S3", s3_.endpoint());
    return env;
  }

  ProcessResult s3_cli(std::vector<std::string> args, std::map<std::string, std::string> env = {}) const {
    return cli(std::move(args), s3_env(std::move(env)));
  }

  std::string object(const std::string& key) const {
    auto bytes = s3_.get(kBucket, key);
    EXPECT_TRUE(bytes.has_value()) << "no object " << key;
    return bytes.value_or("");
  }

  // The export's objects under `prefix` hold exactly the server's files, and
  // its manifest lists their sizes, SHA-256 and lines.
  void expect_objects_match_server(const std::string& prefix, const std::string& id) const {
    const json manifest = json::parse(object(prefix + "/" + kManifestName));
    EXPECT_EQ(manifest["ExportId"], id);
    const auto& files = manifest["Files"];
    const auto server_files = sandbox_.exports();
    for (std::size_t i = 0; i < files.size(); ++i) {
      const std::string name = part_file_name(i);
      const auto served = sandbox_.file_content(id, i);
      ASSERT_TRUE(served.has_value());
      const std::string stored = object(prefix + "/" + name);
      EXPECT_EQ(stored.size(), served->size()) << name;
      EXPECT_TRUE(stored == *served) << name << " differs from the server's file";
      EXPECT_EQ(files[i]["Name"], name);
      EXPECT_EQ(files[i]["SizeInBytes"].get<std::uint64_t>(), served->size());
      EXPECT_EQ(files[i]["Sha256"], detail::sha256_hex(*served)) << name;
      EXPECT_EQ(files[i]["Lines"].get<std::uint64_t>(),
                static_cast<std::uint64_t>(std::count(served->begin(), served->end(), '\n')));
    }
  }

  // Every key under `prefix` is a part, a manifest or a sync.jsonl: nothing
  // else (temporary objects, state) is ever left where a warehouse loads from.
  void expect_only_layout_objects(const std::string& prefix) const {
    const auto keys = s3_.keys(kBucket, prefix);
    EXPECT_FALSE(keys.empty());
    for (const auto& key : keys) {
      const std::string name = key.substr(key.rfind('/') + 1);
      const bool part = name.starts_with("part-") && name.ends_with(".jsonl");
      EXPECT_TRUE(part || name == kManifestName || name == "sync.jsonl") << "unexpected object " << key;
    }
  }

  std::string only_export_id() const {
    const auto exports = sandbox_.exports();
    EXPECT_EQ(exports.size(), 1u);
    return exports.empty() ? std::string() : exports[0]["Id"].get<std::string>();
  }

  S3rverProcess s3_;
};

}  // namespace

TEST_F(S3Output, RunWritesTheExportAsObjectsManifestLast) {
  const auto r = s3_cli({"run", "--entity", "OrderItem", "-o", "s3://lake/exports", "--interval", "500ms"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  const std::string id = only_export_id();
  EXPECT_EQ(r.stdout_text, "s3://lake/exports/" + id + "\n");
  expect_objects_match_server("exports/" + id, id);
  expect_only_layout_objects("exports/");
  EXPECT_EQ(s3_.keys(kBucket, "exports/").size(), 3u);  // two parts and the manifest
  // The upload state is gone once the manifest lists the files.
  std::error_code ec;
  EXPECT_TRUE(!fs::exists(dir_ / "state" / "uploads", ec) || fs::is_empty(dir_ / "state" / "uploads", ec));
}

TEST_F(S3Output, DownloadAgainFindsTheVerifiedManifestAndFetchesNothing) {
  ASSERT_EQ(s3_cli({"run", "--entity", "Payment", "-o", "s3://lake/p", "--interval", "500ms"}).exit_code, 0);
  const std::string id = only_export_id();
  const auto gets = sandbox_.stats()["file_gets"].get<std::uint64_t>();
  const auto again = s3_cli({"download", id, "-o", "s3://lake/p", "-v"});
  ASSERT_EQ(again.exit_code, 0) << again.stderr_text;
  EXPECT_EQ(sandbox_.stats()["file_gets"].get<std::uint64_t>(), gets);
  EXPECT_NE(again.stderr_text.find("already downloaded"), std::string::npos) << again.stderr_text;
  expect_objects_match_server("p/" + id, id);
}

TEST_F(S3Output, SyncAnnouncesEveryWindowInARewrittenSyncJsonl) {
  SystemClock clock;
  const auto since = format_utc(std::chrono::floor<std::chrono::seconds>(utc_now(clock) - std::chrono::days{400}));
  const auto r = s3_cli(
      {"sync", "--entity", "Payment", "--since", since, "-o", "s3://lake/lake", "--interval", "500ms", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(json::parse(r.stdout_text)[0]["Windows"], 3) << r.stdout_text;
  std::istringstream lines(object("lake/Payment/sync.jsonl"));
  std::string text;
  std::vector<json> announced;
  while (std::getline(lines, text)) announced.push_back(json::parse(text));
  ASSERT_EQ(announced.size(), 3u);
  for (std::size_t i = 0; i < announced.size(); ++i) {
    const auto& line = announced[i];
    if (i > 0) {
      EXPECT_EQ(line["StartUtc"], announced[i - 1]["EndUtc"]);
    }
    const std::string dir = "lake/Payment/" + line["Directory"].get<std::string>();
    expect_objects_match_server(dir, line["ExportId"].get<std::string>());
    EXPECT_EQ(json::parse(object(dir + "/" + kManifestName))["CompletedUtc"], line["CompletedUtc"]);
  }
  expect_only_layout_objects("lake/");
}

TEST_F(S3Output, WrongCredentialsExitThreeAndPrintNoSecret) {
  const std::string secret = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY";
  const auto r = s3_cli({"run", "--entity", "Payment", "-o", "s3://lake/x", "--interval", "500ms"},
                        {{"AWS_ACCESS_KEY_ID", "AKIAWRONGKEY"}, {"AWS_SECRET_ACCESS_KEY", secret}});
  EXPECT_EQ(r.exit_code, 3) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("InvalidAccessKeyId"), std::string::npos) << r.stderr_text;
  EXPECT_EQ(r.stderr_text.find(secret), std::string::npos);
  EXPECT_EQ(r.stdout_text.find(secret), std::string::npos);
  EXPECT_EQ(r.stderr_text.find("Signature="), std::string::npos);
}

TEST_F(S3Output, MissingBucketExitsOneSayingSo) {
  const auto r = s3_cli({"run", "--entity", "Payment", "-o", "s3://no-such-bucket/x", "--interval", "500ms"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.stderr_text.find("NoSuchBucket"), std::string::npos) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("create it"), std::string::npos) << r.stderr_text;
}

TEST_F(S3Output, MissingCredentialsAreAUsageErrorBeforeAnyRequest) {
  const auto r = cli({"run", "--entity", "Payment", "-o", "s3://lake/x"}, {{"AWS_ENDPOINT_URL_S3", s3_.endpoint()}});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.stderr_text.find("AWS_ACCESS_KEY_ID"), std::string::npos) << r.stderr_text;
  EXPECT_EQ(adds(), 0u);
}

// ------------------------------------------------------------------ resume

namespace {

// One OrderItem file of ~20 MB (three parts of 8 MiB at most) whose first
// transfer trickles (~5 MB/s), so that a part is uploaded and the rest is
// still coming when the SIGKILL lands; later transfers are fast.
const json kSlowBigFile = {{"progression", {{"pending_polls", 0}, {"processing_polls", 1}}},
                           {"entities", {{"OrderItem", {{"files", 1}, {"bytes_per_file", 20000000}}}}},
                           {"faults",
                            {{{"target", "file"},
                              {"entity", "OrderItem"},
                              {"action", "trickle"},
                              {"bytes", 262144},
                              {"seconds", 0.05},
                              {"times", 1}}}}};

class S3Resume : public S3Output {
 protected:
  S3Resume() : S3Output(kSlowBigFile) {}

  // The upload records, as text (for failure messages).
  std::string records() const {
    std::string out;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir_ / "state" / "uploads", ec)) {
      std::ifstream in(entry.path());
      std::stringstream text;
      text << in.rdbuf();
      out += entry.path().filename().string() + ": " + text.str() + "\n";
    }
    return out;
  }

  // The parts the upload state records (0 without a record).
  std::size_t recorded_parts() const {
    std::error_code ec;
    const auto dir = dir_ / "state" / "uploads";
    if (!fs::exists(dir, ec)) return 0;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      // Only records under their final name: a temporary file about to be
      // renamed over one may be lost to the kill.
      if (entry.path().filename().string().starts_with(".") || entry.path().extension() != ".json") continue;
      std::ifstream in(entry.path());
      std::stringstream text;
      text << in.rdbuf();
      const auto record = json::parse(text.str(), nullptr, false);
      if (record.is_object() && record.contains("Parts")) return record["Parts"].size();
    }
    return 0;
  }
};

}  // namespace

TEST_F(S3Resume, SigkillMidMultipartUploadThenTheSameCommandCompletesIt) {
  const std::vector<std::string> args = {MEWS_EXPORT_BIN, "run",        "--entity", "OrderItem", "-o",
                                         "s3://lake/r",   "--interval", "500ms"};
  ChildProcess child;
  child.start(args, cli_env(s3_env()));
  // Generous: under ASan the sandbox builds the 20 MB file slowly.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (recorded_parts() < 1 && child.running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_GE(recorded_parts(), 1u) << "no part was recorded; stderr:\n" << child.stderr_text();
  child.send(SIGKILL);
  const auto killed = child.wait(10);
  ASSERT_EQ(killed.exit_code, 128 + SIGKILL) << "the run ended before the kill:\n" << killed.stderr_text;
  expect_no_secrets(killed.stderr_text);
  const std::string id = only_export_id();
  const std::size_t uploaded = recorded_parts();
  const std::string saved = records();
  EXPECT_TRUE(s3_.keys(kBucket, "r/").empty()) << "an object appeared before its upload completed";

  sandbox_.reset_stats();
  const auto again = s3_cli({"run", "--entity", "OrderItem", "-o", "s3://lake/r", "--interval", "500ms"});
  ASSERT_EQ(again.exit_code, 0) << again.stderr_text;
  EXPECT_EQ(adds(), 0u) << "the re-run should have re-attached to the journaled export";
  // The source was fetched again only from the first byte no part holds.
  const auto ranges = sandbox_.stats()["ranges"];
  const std::string resumed = "bytes=" + std::to_string(uploaded * (std::uint64_t{8} << 20)) + "-";
  EXPECT_NE(std::find(ranges.begin(), ranges.end(), resumed), ranges.end())
      << "expected " << resumed << "; stats: " << sandbox_.stats().dump() << "\nrecords:\n"
      << saved << "stderr:\n"
      << again.stderr_text;
  EXPECT_EQ(sandbox_.stats()["file_gets"].get<std::uint64_t>(), 1u);
  expect_objects_match_server("r/" + id, id);
}
