// Object-storage output: ResumableSha256 and its checkpoints, part sizes, the
// upload records of UploadStore, and Downloader::download into an in-memory
// S3 (support/fake_s3.hpp) on FakeTransport + FakeClock: objects, manifest,
// multipart uploads resumed after a failure, an upload the store lost, --force.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "mews_export/cancel.hpp"
#include "mews_export/downloader.hpp"
#include "mews_export/object_store.hpp"
#include "s3_upload.hpp"
#include "sha256.hpp"
#include "support/fake_clock.hpp"
#include "support/fake_s3.hpp"
#include "support/fake_transport.hpp"
#include "support/temp_dir.hpp"

namespace mews_export {
namespace {

namespace fs = std::filesystem;
using detail::ResumableSha256;
using detail::Sha256Checkpoint;
using mews_export::testing::FakeS3;
using mews_export::testing::FakeTransport;
using mews_export::testing::respond_file;
using mews_export::testing::TempDir;
using nlohmann::json;

constexpr std::uint64_t kMiB = std::uint64_t{1} << 20;

// Bytes that are not all alike (so that a misplaced piece changes the hash).
std::string noise(std::size_t size, std::uint32_t seed = 1) {
  std::string out(size, '\0');
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& c : out) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x & 0xff);
  }
  return out;
}

// JSON lines up to exactly `size` bytes (the last one cut short, without '\n').
std::string make_content(std::size_t size, const std::string& seed) {
  std::string out;
  out.reserve(size + 64);
  for (std::size_t i = 0; out.size() < size; ++i) {
    out += R"({"Id":")" + seed + "-" + std::to_string(i) + R"(","Value":)" + std::to_string(i * 7) + "}\n";
  }
  out.resize(size);
  return out;
}

// Records as the manifest counts them, counted here.
std::uint64_t lines_of(std::string_view data) {
  const auto newlines = static_cast<std::uint64_t>(std::count(data.begin(), data.end(), '\n'));
  return newlines + (!data.empty() && data.back() != '\n' ? 1 : 0);
}

// =============================================================== SHA-256

// `data` hashed in uneven pieces up to `cut` (a multiple of 64), saved as
// text, parsed, and the rest hashed by a new ResumableSha256 from it.
std::string hash_across_checkpoint(std::string_view data, std::size_t cut) {
  ResumableSha256 first;
  std::size_t at = 0;
  for (std::size_t piece = 1; at < cut; piece = piece * 3 + 1) {
    const auto n = std::min(piece, cut - at);
    first.update(data.substr(at, n));
    at += n;
  }
  const auto checkpoint = first.checkpoint();
  EXPECT_TRUE(checkpoint) << cut;
  if (!checkpoint) return {};
  EXPECT_EQ(checkpoint->bytes, cut);
  const auto text = checkpoint->to_string();
  const auto parsed = Sha256Checkpoint::parse(text);
  EXPECT_TRUE(parsed) << text;
  if (!parsed) return {};
  EXPECT_EQ(parsed->bytes, checkpoint->bytes);
  EXPECT_EQ(parsed->h, checkpoint->h);
  ResumableSha256 second(*parsed);
  EXPECT_EQ(second.bytes(), cut);
  for (std::size_t piece = 5; at < data.size(); piece = piece * 2 + 3) {
    const auto n = std::min(piece, data.size() - at);
    second.update(data.substr(at, n));
    at += n;
  }
  EXPECT_EQ(second.bytes(), data.size());
  return second.hex_digest();
}

TEST(S3UploadSha256Test, HashingAcrossACheckpointGivesTheWholeHash) {
  for (const std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{63}, std::size_t{64}, std::size_t{65},
                                 std::size_t{1000}, std::size_t{8 * kMiB + 123}}) {
    const std::string data = noise(size, static_cast<std::uint32_t>(size) + 1);
    const std::string expected = FakeS3::sha256(data);  // OpenSSL's one-shot EVP digest
    EXPECT_EQ(detail::sha256_hex(data), expected) << size;
    // Cut at 0, in the middle and at the last block boundary.
    for (const std::size_t cut : {std::size_t{0}, size / 2 / 64 * 64, size / 64 * 64}) {
      EXPECT_EQ(hash_across_checkpoint(data, cut), expected) << "size " << size << ", cut at " << cut;
    }
  }
}

TEST(S3UploadSha256Test, KnownDigestsAndAnUntouchedHashDigestTwice) {
  ResumableSha256 empty;
  EXPECT_EQ(empty.hex_digest(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  ResumableSha256 abc;
  abc.update("abc");
  EXPECT_EQ(abc.hex_digest(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");  // FIPS 180-2
  EXPECT_EQ(abc.hex_digest(), abc.hex_digest());  // a copy is finished, not the hash
  abc.update("def");
  EXPECT_EQ(abc.hex_digest(), FakeS3::sha256("abcdef"));
  // The state at 0 bytes is SHA-256's initial hash value.
  const auto initial = empty.checkpoint();
  ASSERT_TRUE(initial);
  EXPECT_EQ(initial->to_string(), "0:6a09e667bb67ae853c6ef372a54ff53a510e527f9b05688c1f83d9ab5be0cd19");
}

TEST(S3UploadSha256Test, CheckpointOnlyOnABlockBoundary) {
  ResumableSha256 hash;
  EXPECT_TRUE(hash.checkpoint());
  const std::string data = noise(200);
  std::size_t at = 0;
  for (const std::size_t step :
       {std::size_t{1}, std::size_t{62}, std::size_t{1}, std::size_t{1}, std::size_t{63}, std::size_t{72}}) {
    hash.update(std::string_view(data).substr(at, step));
    at += step;
    EXPECT_EQ(hash.bytes(), at);
    EXPECT_EQ(hash.checkpoint().has_value(), at % 64 == 0) << at;
  }
  EXPECT_EQ(at, 200u);
  EXPECT_EQ(hash.hex_digest(), FakeS3::sha256(data));
}

TEST(S3UploadSha256Test, ParseRefusesMalformedCheckpoints) {
  const std::string hex(64, 'a');
  ASSERT_TRUE(Sha256Checkpoint::parse("64:" + hex));
  EXPECT_EQ(Sha256Checkpoint::parse("64:" + hex)->h[0], 0xaaaaaaaau);
  EXPECT_EQ(Sha256Checkpoint::parse("0:" + std::string(64, '0'))->bytes, 0u);
  for (const std::string& bad : {
           std::string(),
           std::string("64"),
           std::string("64:"),
           hex,                                     // no byte count
           ":" + hex,                               // empty byte count
           "63:" + hex,                             // not a whole number of blocks
           "1:" + hex,                              //
           "-64:" + hex,                            //
           "+64:" + hex,                            //
           " 64:" + hex,                            //
           "64 :" + hex,                            //
           "6x4:" + hex,                            //
           "64:" + hex.substr(1),                   // 63 digits
           "64:" + hex + "a",                       // 65 digits
           "64:" + hex.substr(1) + "g",             // not hex
           "64:" + hex.substr(8) + "-1234567",      // a sign inside a word
           "64:" + hex.substr(8) + "+1234567",      //
           "64:" + hex.substr(8) + " 1234567",      //
           "64:0x" + hex.substr(2),                 //
           "64:" + hex.substr(1) + ":",             //
           "99999999999999999999999999999:" + hex,  // too large
       }) {
    EXPECT_FALSE(Sha256Checkpoint::parse(bad)) << "'" << bad << "'";
  }
}

// ============================================================ part sizes

TEST(S3UploadPartSizeTest, EightMiBUnlessTenThousandPartsWouldNotHoldTheFile) {
  EXPECT_EQ(detail::part_size_for(0), 8 * kMiB);
  EXPECT_EQ(detail::part_size_for(1), 8 * kMiB);
  EXPECT_EQ(detail::part_size_for(20 * kMiB + 123), 8 * kMiB);
  EXPECT_EQ(detail::part_size_for(8 * kMiB * 10000), 8 * kMiB);          // exactly 10,000 parts
  EXPECT_EQ(detail::part_size_for(8 * kMiB * 10000 + 1), 9 * kMiB);      // one byte more
  EXPECT_EQ(detail::part_size_for(9 * kMiB * 10000), 9 * kMiB);          //
  EXPECT_EQ(detail::part_size_for(9 * kMiB * 10000 + 1), 10 * kMiB);     //
  EXPECT_EQ(detail::part_size_for(std::uint64_t{1} << 40), 105 * kMiB);  // 1 TiB
  EXPECT_EQ(detail::part_size_for(std::uint64_t{5} << 40), 525 * kMiB);  // 5 TiB, S3's largest object
  // Whatever the size: whole MiB, at least 8, the smallest that holds the file in 10,000 parts.
  for (std::uint64_t size = 1; size < (std::uint64_t{6} << 40); size = size * 3 + 12345) {
    const auto part = detail::part_size_for(size);
    EXPECT_EQ(part % kMiB, 0u) << size;
    EXPECT_GE(part, detail::kMinPartSize) << size;
    EXPECT_GE(part * detail::kMaxParts, size) << size;
    if (part > detail::kMinPartSize) {
      EXPECT_LT((part - kMiB) * detail::kMaxParts, size) << size;
    }
  }
}

// ========================================================== upload store

detail::UploadRecord unfinished(const std::string& key) {
  detail::UploadRecord r;
  r.bucket = "lake";
  r.key = key;
  r.export_id = "exp-1";
  r.size = 20 * kMiB + 5;
  r.part_size = 8 * kMiB;
  r.upload_id = "2~upload/id+with=odd&chars";
  r.parts = {{.number = 1, .etag = "\"etag-1\"", .size = 8 * kMiB},
             {.number = 2, .etag = "\"etag-2\"", .size = 8 * kMiB}};
  r.hash = Sha256Checkpoint{.h = {1, 2, 3, 0xfffffffeu, 5, 6, 7, 0x80000000u}, .bytes = 16 * kMiB};
  r.newlines = 12345;
  r.last = '\xff';  // a byte, not UTF-8
  return r;
}

void expect_same(const detail::UploadRecord& a, const detail::UploadRecord& b) {
  EXPECT_EQ(a.bucket, b.bucket);
  EXPECT_EQ(a.key, b.key);
  EXPECT_EQ(a.export_id, b.export_id);
  EXPECT_EQ(a.size, b.size);
  EXPECT_EQ(a.part_size, b.part_size);
  EXPECT_EQ(a.upload_id, b.upload_id);
  ASSERT_EQ(a.parts.size(), b.parts.size());
  for (std::size_t i = 0; i < a.parts.size(); ++i) {
    EXPECT_EQ(a.parts[i].number, b.parts[i].number);
    EXPECT_EQ(a.parts[i].etag, b.parts[i].etag);
    EXPECT_EQ(a.parts[i].size, b.parts[i].size);
  }
  EXPECT_EQ(a.hash.h, b.hash.h);
  EXPECT_EQ(a.hash.bytes, b.hash.bytes);
  EXPECT_EQ(a.newlines, b.newlines);
  EXPECT_EQ(a.last, b.last);
  EXPECT_EQ(a.complete, b.complete);
  EXPECT_EQ(a.sha256, b.sha256);
  EXPECT_EQ(a.lines, b.lines);
}

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) out.push_back(entry.path());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(S3UploadStoreTest, SaveLoadForgetRoundTrip) {
  TempDir dir;
  const detail::UploadStore store(dir / "state" / "uploads");
  auto missing = store.load("lake", "mews/a");
  ASSERT_TRUE(missing) << missing.error().message;
  EXPECT_FALSE(*missing);

  const auto a = unfinished("mews/exp-1/part-001.jsonl");
  auto complete = unfinished("mews/exp-1/part-002.jsonl");
  complete.complete = true;
  complete.sha256 = std::string(64, 'c');
  complete.lines = 777;
  ASSERT_TRUE(store.save(a));
  ASSERT_TRUE(store.save(complete));

  auto loaded = store.load("lake", a.key);
  ASSERT_TRUE(loaded) << loaded.error().message;
  ASSERT_TRUE(*loaded);
  expect_same(**loaded, a);
  loaded = store.load("lake", complete.key);
  ASSERT_TRUE(loaded && *loaded);
  expect_same(**loaded, complete);
  // Keyed by bucket and key.
  loaded = store.load("other-bucket", a.key);
  ASSERT_TRUE(loaded);
  EXPECT_FALSE(*loaded);

  // Saving again replaces the record.
  auto more = a;
  more.parts.push_back({.number = 3, .etag = "\"etag-3\"", .size = 8 * kMiB});
  more.size = 30 * kMiB;
  more.hash.bytes = 24 * kMiB;
  ASSERT_TRUE(store.save(more));
  loaded = store.load("lake", a.key);
  ASSERT_TRUE(loaded && *loaded);
  expect_same(**loaded, more);

  // Files are the owner's only.
  const auto files = files_in(dir / "state" / "uploads");
  EXPECT_EQ(files.size(), 2u);
  for (const auto& file : files) {
    struct stat st {};
    ASSERT_EQ(::stat(file.c_str(), &st), 0) << file;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << file;
  }
  struct stat st {};
  ASSERT_EQ(::stat((dir / "state" / "uploads").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  ASSERT_TRUE(store.forget("lake", a.key));
  loaded = store.load("lake", a.key);
  ASSERT_TRUE(loaded);
  EXPECT_FALSE(*loaded);
  loaded = store.load("lake", complete.key);
  ASSERT_TRUE(loaded && *loaded);            // the other one stays
  EXPECT_TRUE(store.forget("lake", a.key));  // forgetting twice is fine
  ASSERT_TRUE(store.forget("lake", complete.key));
  EXPECT_TRUE(files_in(dir / "state" / "uploads").empty());
}

TEST(S3UploadStoreTest, ARecordOfAnotherKeyIsNoRecord) {
  TempDir dir;
  const detail::UploadStore store(dir.path());
  const auto a = unfinished("mews/exp-1/part-001.jsonl");
  const auto b = unfinished("mews/exp-1/part-002.jsonl");
  ASSERT_TRUE(store.save(a));
  ASSERT_TRUE(store.save(b));
  auto files = files_in(dir.path());
  ASSERT_EQ(files.size(), 2u);
  // Each file now holds the other key's record.
  const auto first = testing::slurp(files[0]);
  testing::write_text(files[0], testing::slurp(files[1]));
  testing::write_text(files[1], first);
  for (const auto& key : {a.key, b.key}) {
    auto loaded = store.load("lake", key);
    ASSERT_TRUE(loaded) << loaded.error().message;
    EXPECT_FALSE(*loaded) << key;
  }
}

TEST(S3UploadStoreTest, AnInconsistentOrMalformedRecordIsNoRecord) {
  TempDir dir;
  const detail::UploadStore store(dir.path());
  const std::string key = "mews/exp-1/part-001.jsonl";
  const auto load = [&](const detail::UploadRecord& r) {
    EXPECT_TRUE(store.save(r));
    auto loaded = store.load("lake", key);
    EXPECT_TRUE(loaded);
    return loaded && *loaded;
  };
  ASSERT_TRUE(load(unfinished(key)));  // the base is consistent

  auto r = unfinished(key);
  r.parts[1].number = 3;  // a gap
  EXPECT_FALSE(load(r));
  r = unfinished(key);
  std::swap(r.parts[0], r.parts[1]);  // out of order
  EXPECT_FALSE(load(r));
  r = unfinished(key);
  r.parts[0].number = 0;
  EXPECT_FALSE(load(r));
  r = unfinished(key);
  r.parts[1].size = 8 * kMiB - 64;  // not a whole part
  r.hash.bytes = 16 * kMiB - 64;
  EXPECT_FALSE(load(r));
  r = unfinished(key);
  r.hash.bytes = 8 * kMiB;  // the hash is not at the parts' end
  EXPECT_FALSE(load(r));
  r = unfinished(key);
  r.size = 16 * kMiB - 1;  // more parts than the file
  EXPECT_FALSE(load(r));
  r = unfinished(key);
  r.complete = true;  // complete without its hash
  r.sha256 = "abc";
  EXPECT_FALSE(load(r));

  // A file that is not a record at all.
  ASSERT_TRUE(store.save(unfinished(key)));
  const auto files = files_in(dir.path());
  ASSERT_EQ(files.size(), 1u);
  const std::string good = testing::slurp(files[0]);
  for (const std::string& bad :
       {std::string(), std::string("{"), std::string("[]"), std::string("null"), std::string(R"({"Bucket":"lake"})"),
        [&] {
          auto j = json::parse(good);
          j["Hash"] = "63:" + std::string(64, '0');
          return j.dump();
        }(),
        [&] {
          auto j = json::parse(good);
          j["Last"] = 256;
          return j.dump();
        }(),
        [&] {
          auto j = json::parse(good);
          j["Parts"][0]["Size"] = -1;
          return j.dump();
        }()}) {
    testing::write_text(files[0], bad);
    auto loaded = store.load("lake", key);
    ASSERT_TRUE(loaded) << bad;
    EXPECT_FALSE(*loaded) << bad;
  }
  testing::write_text(files[0], good);
  auto loaded = store.load("lake", key);
  ASSERT_TRUE(loaded && *loaded);
}

// ====================================================== download to store

constexpr const char* kId = "0f8e4c1a-7b2d-4e5f-9a3b-2c1d0e9f8a7b";

Export make_export(const std::string& id, const std::vector<std::string>& contents) {
  Export e;
  e.id = id;
  e.status = ExportStatus::Success;
  e.status_name = "Success";
  e.entity_type = EntityType::OrderItem;
  e.entity_type_name = "OrderItem";
  e.expires_utc = "2027-01-22T10:00:00Z";
  json files = json::array();
  for (std::size_t i = 0; i < contents.size(); ++i) {
    e.files.push_back(ExportFile{.url = "https://files.example.com/" + id + "/f" + std::to_string(i) + "?sig=S",
                                 .size_in_bytes = contents[i].size()});
    files.push_back({{"Url", e.files.back().url}, {"SizeInBytes", contents[i].size()}});
  }
  e.raw = json{{"Id", id},           {"Status", "Success"}, {"EntityType", "OrderItem"},   {"Scope", nullptr},
               {"Filters", nullptr}, {"Files", files},      {"ExpiresUtc", *e.expires_utc}};
  return e;
}

// Serves `body`, honouring Range (respond_file), in 256 KiB chunks.
FakeTransport::Handler serve(std::string body) {
  return [body = std::move(body)](const HttpRequest& r, const BodySink* sink) {
    return respond_file(r, sink, body, 256 * 1024);
  };
}

const std::string& big_file() {
  static const std::string content = make_content(20 * kMiB + 123, "big");
  return content;
}

class DownloadToStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    reset_cancel();
    serve_all();
  }
  void TearDown() override { reset_cancel(); }

  void serve_all() {
    for (std::size_t i = 0; i < contents.size(); ++i) {
      transport.on("/f" + std::to_string(i) + "?", serve(contents[i]));
    }
  }
  DownloadOptions options(int parallel = 4) {
    DownloadOptions o;
    S3Location location;
    location.store = S3Store{.endpoint = FakeS3::kEndpoint,
                             .region = "us-east-1",
                             .access_key_id = "AKIDTEST",
                             .secret_access_key = "not-a-secret",
                             .session_token = ""};
    location.bucket = "lake";
    location.prefix = "mews";
    o.out_store = location;
    o.upload_state_dir = state;
    o.parallel = parallel;
    o.retry.max_attempts = 3;
    return o;
  }
  Result<DownloadResult> download(const DownloadOptions& o) {
    Downloader downloader(transport, clock, nullptr);  // a fresh one each time, as another run would
    return downloader.download(exp, o);
  }
  std::string key(std::size_t index) const { return std::string("mews/") + kId + "/" + part_file_name(index); }
  std::string manifest_key() const { return std::string("mews/") + kId + "/" + kManifestName; }
  // File requests (to the export's file URLs) from the `from`-th request on.
  std::vector<HttpRequest> file_requests(std::size_t index, std::size_t from = 0) const {
    const auto all = transport.requests();
    std::vector<HttpRequest> out;
    for (std::size_t i = from; i < all.size(); ++i) {
      if (all[i].url.find("files.example.com/" + std::string(kId) + "/f" + std::to_string(index) + "?") !=
          std::string::npos) {
        out.push_back(all[i]);
      }
    }
    return out;
  }
  bool state_empty() const {
    std::error_code ec;
    return !fs::exists(state, ec) || fs::is_empty(state, ec);
  }

  // The bucket holds exactly the export's objects, byte-identical, with the
  // manifest written last, listing each file's SHA-256 and lines (computed
  // here); no upload is left in progress and no upload record kept.
  void expect_complete_export() {
    std::vector<std::string> expected_keys;
    for (std::size_t i = 0; i < contents.size(); ++i) {
      expected_keys.push_back(key(i));
      const auto object = s3.object("lake", key(i));
      ASSERT_TRUE(object) << key(i);
      EXPECT_EQ(object->size(), contents[i].size()) << key(i);
      EXPECT_TRUE(*object == contents[i]) << key(i) << " differs";
    }
    expected_keys.push_back(manifest_key());
    std::sort(expected_keys.begin(), expected_keys.end());
    EXPECT_EQ(s3.keys("lake"), expected_keys);
    ASSERT_FALSE(s3.writes().empty());
    EXPECT_EQ(s3.writes().back(), manifest_key());

    const auto text = s3.object("lake", manifest_key());
    ASSERT_TRUE(text);
    const auto manifest = json::parse(*text);
    EXPECT_EQ(manifest["ExportId"], kId);
    EXPECT_EQ(manifest["EntityType"], "OrderItem");
    ASSERT_EQ(manifest["Files"].size(), contents.size());
    for (std::size_t i = 0; i < contents.size(); ++i) {
      const auto& f = manifest["Files"][i];
      EXPECT_EQ(f["Name"], part_file_name(i));
      EXPECT_EQ(f["SizeInBytes"], contents[i].size());
      EXPECT_EQ(f["Sha256"], FakeS3::sha256(contents[i])) << i;
      EXPECT_EQ(f["Lines"], lines_of(contents[i])) << i;
    }
    EXPECT_TRUE(s3.uploads().empty()) << "an upload was left in progress";
    EXPECT_TRUE(state_empty()) << "upload records were left in " << state;
  }

  TempDir dir;
  FakeTransport transport;
  FakeClock clock;
  FakeS3 s3{transport};
  fs::path state = dir / "state" / "uploads";
  std::vector<std::string> contents = {"", make_content(1024, "small"), big_file()};
  Export exp = make_export(kId, contents);
};

TEST_F(DownloadToStoreTest, WritesEveryFileAsAnObjectAndTheManifestLast) {
  auto result = download(options());
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_FALSE(result->already_complete);
  EXPECT_EQ(result->directory, fs::path(std::string("s3://lake/mews/") + kId));
  ASSERT_EQ(result->manifest.files.size(), 3u);
  EXPECT_EQ(result->manifest.files[2].sha256, FakeS3::sha256(contents[2]));
  EXPECT_EQ(result->manifest.files[2].lines, lines_of(contents[2]));
  expect_complete_export();

  // The small files as one PutObject each (the empty one without fetching it).
  for (std::size_t i : {0u, 1u}) {
    EXPECT_EQ(s3.count("PutObject", key(i)), 1u) << i;
    EXPECT_EQ(s3.count("CreateMultipartUpload", key(i)), 0u) << i;
    EXPECT_EQ(s3.count("UploadPart", key(i)), 0u) << i;
  }
  EXPECT_TRUE(file_requests(0).empty());
  EXPECT_EQ(file_requests(1).size(), 1u);
  // The big one as a multipart upload of 8 MiB, 8 MiB and the rest.
  EXPECT_EQ(s3.count("PutObject", key(2)), 0u);
  EXPECT_EQ(s3.count("CreateMultipartUpload", key(2)), 1u);
  EXPECT_EQ(s3.count("UploadPart", key(2)), 3u);
  EXPECT_EQ(s3.count("CompleteMultipartUpload", key(2)), 1u);
  std::vector<std::pair<int, std::size_t>> parts;
  for (const auto& r : s3.received()) {
    if (r.operation == "UploadPart") parts.emplace_back(r.part_number, r.body_size);
  }
  std::sort(parts.begin(), parts.end());
  const std::vector<std::pair<int, std::size_t>> expected_parts = {
      {1, 8 * kMiB}, {2, 8 * kMiB}, {3, contents[2].size() - 16 * kMiB}};
  EXPECT_EQ(parts, expected_parts);
  ASSERT_EQ(file_requests(2).size(), 1u);
  EXPECT_FALSE(file_requests(2)[0].range_from);
  EXPECT_EQ(s3.count("PutObject", manifest_key()), 1u);
  EXPECT_EQ(s3.count("AbortMultipartUpload"), 0u);

  // Another run finds the verified manifest: nothing fetched, nothing written.
  const auto requests = transport.requests().size();
  const auto writes = s3.writes().size();
  auto again = download(options());
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_TRUE(again->already_complete);
  EXPECT_EQ(again->manifest.files.size(), 3u);
  EXPECT_EQ(again->manifest.files[2].sha256, FakeS3::sha256(contents[2]));
  for (std::size_t i = 0; i < 3; ++i) EXPECT_TRUE(file_requests(i, requests).empty()) << i;
  EXPECT_EQ(s3.writes().size(), writes);
  EXPECT_EQ(s3.count("UploadPart"), 3u);
  expect_complete_export();
}

TEST_F(DownloadToStoreTest, AManifestThatDoesNotMatchItsObjectsIsNotTrusted) {
  ASSERT_TRUE(download(options()));
  // An object shorter than the manifest says: everything is checked again.
  s3.put("lake", key(1), "short");
  const auto requests = transport.requests().size();
  auto again = download(options());
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_FALSE(again->already_complete);
  EXPECT_EQ(file_requests(1, requests).size(), 1u);
  expect_complete_export();
}

// A first run whose upload of part 2 of the big file is refused.
class DownloadToStoreResumeTest : public DownloadToStoreTest {
 protected:
  // The `earlier` upload of file 3 was aborted once, the file fetched again
  // from byte 0 into a new upload, and the export ends complete.
  void expect_aborted_and_started_over(const std::string& earlier) {
    std::size_t aborted = 0;
    for (const auto& r : s3.received()) {
      if (r.operation == "AbortMultipartUpload" && r.upload_id == earlier && r.status / 100 == 2) ++aborted;
    }
    EXPECT_EQ(aborted, 1u);
    const auto requests = file_requests(2, mark);
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_FALSE(requests[0].range_from);
    EXPECT_EQ(s3.count("CreateMultipartUpload", key(2)), 2u);
    expect_complete_export();
  }

  void fail_first_run() {
    s3.fail({.operation = "UploadPart", .key_suffix = "part-003.jsonl", .part_number = 2});
    auto first = download(options());
    ASSERT_FALSE(first);
    EXPECT_EQ(first.error().kind, ErrorKind::Refused) << first.error().message;
    EXPECT_NE(first.error().message.find("AccessDenied"), std::string::npos) << first.error().message;
    EXPECT_FALSE(s3.object("lake", manifest_key()));
    EXPECT_FALSE(s3.object("lake", key(2)));

    // The record of the big file: its upload, part 1 and the state after it.
    const detail::UploadStore store(state);
    auto saved = store.load("lake", key(2));
    ASSERT_TRUE(saved) << saved.error().message;
    ASSERT_TRUE(*saved);
    const auto& record = **saved;
    EXPECT_FALSE(record.complete);
    EXPECT_EQ(record.export_id, kId);
    EXPECT_EQ(record.size, contents[2].size());
    EXPECT_EQ(record.part_size, 8 * kMiB);
    EXPECT_EQ(record.upload_id, s3.upload_id_of(key(2)));
    EXPECT_FALSE(record.upload_id.empty());
    ASSERT_EQ(record.parts.size(), 1u);
    EXPECT_EQ(record.parts[0].number, 1);
    EXPECT_EQ(record.parts[0].size, 8 * kMiB);
    EXPECT_EQ(record.hash.bytes, 8 * kMiB);
    const std::string_view first_part = std::string_view(contents[2]).substr(0, 8 * kMiB);
    EXPECT_EQ(record.newlines, static_cast<std::uint64_t>(std::count(first_part.begin(), first_part.end(), '\n')));
    EXPECT_EQ(record.last, first_part.back());
    // Its hash state is SHA-256 after part 1.
    ResumableSha256 expected;
    expected.update(first_part);
    EXPECT_EQ(record.hash.to_string(), expected.checkpoint()->to_string());
    mark = transport.requests().size();
  }
  std::size_t mark = 0;  // requests of the first run
};

TEST_F(DownloadToStoreResumeTest, ResumesTheUploadAtItsFirstMissingByte) {
  ASSERT_NO_FATAL_FAILURE(fail_first_run());
  const auto upload_id = s3.upload_id_of(key(2));

  auto second = download(options());
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_FALSE(second->already_complete);
  // The big file is asked for from the end of part 1 only.
  const auto requests = file_requests(2, mark);
  ASSERT_EQ(requests.size(), 1u);
  ASSERT_TRUE(requests[0].range_from);
  EXPECT_EQ(*requests[0].range_from, 8 * kMiB);
  EXPECT_FALSE(requests[0].range_to);
  // Part 1 was uploaded once; the same upload went on with parts 2 and 3.
  EXPECT_EQ(s3.count("UploadPart", key(2), 1), 1u);
  EXPECT_EQ(s3.accepted("UploadPart", key(2), 2), 1u);
  EXPECT_EQ(s3.count("UploadPart", key(2), 3), 1u);
  EXPECT_EQ(s3.count("CreateMultipartUpload", key(2)), 1u);
  EXPECT_EQ(s3.count("AbortMultipartUpload"), 0u);
  for (const auto& r : s3.received()) {
    if (r.operation == "UploadPart" || r.operation == "CompleteMultipartUpload") {
      EXPECT_EQ(r.upload_id, upload_id);
    }
  }
  expect_complete_export();
  EXPECT_EQ(second->manifest.files[2].sha256, FakeS3::sha256(contents[2]));
  EXPECT_EQ(second->manifest.files[2].lines, lines_of(contents[2]));
}

TEST_F(DownloadToStoreResumeTest, StartsTheFileOverWhenTheStoreLostTheUpload) {
  ASSERT_NO_FATAL_FAILURE(fail_first_run());
  const auto lost = s3.upload_id_of(key(2));
  s3.forget_upload(lost);

  auto second = download(options());
  ASSERT_TRUE(second) << second.error().message;
  // Resumed at part 2, which the store no longer knows ...
  const auto requests = file_requests(2, mark);
  ASSERT_EQ(requests.size(), 2u);
  ASSERT_TRUE(requests[0].range_from);
  EXPECT_EQ(*requests[0].range_from, 8 * kMiB);
  // ... so the file came again from byte 0 into a new upload.
  EXPECT_FALSE(requests[1].range_from);
  std::size_t refused = 0;
  for (const auto& r : s3.received()) {
    if (r.upload_id == lost && r.operation == "UploadPart" && r.part_number == 2 && r.status == 404) ++refused;
  }
  EXPECT_EQ(refused, 1u);
  EXPECT_EQ(s3.count("CreateMultipartUpload", key(2)), 2u);
  EXPECT_EQ(s3.accepted("UploadPart", key(2), 1), 2u);  // once in each upload
  EXPECT_EQ(s3.accepted("CompleteMultipartUpload", key(2)), 1u);
  expect_complete_export();
  EXPECT_EQ(second->manifest.files[2].sha256, FakeS3::sha256(contents[2]));
}

TEST_F(DownloadToStoreResumeTest, ASecondFailureKeepsTheRecordForTheNextRun) {
  ASSERT_NO_FATAL_FAILURE(fail_first_run());
  // Part 3 is refused this time: parts 1 and 2 are kept.
  s3.fail({.operation = "UploadPart", .key_suffix = "part-003.jsonl", .part_number = 3});
  auto second = download(options());
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().kind, ErrorKind::Refused);
  auto saved = detail::UploadStore(state).load("lake", key(2));
  ASSERT_TRUE(saved && *saved);
  EXPECT_EQ((*saved)->parts.size(), 2u);
  EXPECT_EQ((*saved)->hash.bytes, 16 * kMiB);

  const auto before = transport.requests().size();
  auto third = download(options());
  ASSERT_TRUE(third) << third.error().message;
  const auto requests = file_requests(2, before);
  ASSERT_EQ(requests.size(), 1u);
  ASSERT_TRUE(requests[0].range_from);
  EXPECT_EQ(*requests[0].range_from, 16 * kMiB);
  EXPECT_EQ(s3.count("UploadPart", key(2), 1), 1u);
  EXPECT_EQ(s3.accepted("UploadPart", key(2), 2), 1u);
  EXPECT_EQ(s3.count("CreateMultipartUpload", key(2)), 1u);
  expect_complete_export();
}

TEST_F(DownloadToStoreResumeTest, ForceAbortsAnUnfinishedUploadAndStartsOver) {
  ASSERT_NO_FATAL_FAILURE(fail_first_run());
  const auto earlier = s3.upload_id_of(key(2));
  auto o = options();
  o.force = true;
  auto second = download(o);
  ASSERT_TRUE(second) << second.error().message;
  expect_aborted_and_started_over(earlier);
}

TEST_F(DownloadToStoreResumeTest, AStaleUnfinishedUploadIsAbortedAndForgotten) {
  ASSERT_NO_FATAL_FAILURE(fail_first_run());
  const auto earlier = s3.upload_id_of(key(2));
  // Records untouched for longer than an export's files live.
  for (const auto& file : files_in(state)) {
    fs::last_write_time(file, fs::file_time_type::clock::now() - std::chrono::hours{24 * 9});
  }
  auto second = download(options());
  ASSERT_TRUE(second) << second.error().message;
  expect_aborted_and_started_over(earlier);
}

TEST_F(DownloadToStoreTest, TemporaryFilesOfAKilledSaveAreRemovedOnceOld) {
  // A process killed between writing a record's temporary file and renaming
  // it leaves ".<name>.tmp-PID-N" behind; the next upload into the bucket
  // removes it once it is an hour old, and leaves a fresh one (a save that
  // may still be running) alone.
  fs::create_directories(state);
  const auto old_temp = state / ".abc.json.tmp-999999-1";
  const auto new_temp = state / ".def.json.tmp-999999-2";
  for (const auto& p : {old_temp, new_temp}) std::ofstream(p) << "{\"half\":";
  fs::last_write_time(old_temp, fs::file_time_type::clock::now() - std::chrono::hours{2});
  auto result = download(options());
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_FALSE(fs::exists(old_temp));
  EXPECT_TRUE(fs::exists(new_temp));
}

TEST_F(DownloadToStoreTest, ForceUploadsAgainOverAVerifiedManifest) {
  ASSERT_TRUE(download(options()));
  const auto requests = transport.requests().size();
  auto o = options();
  o.force = true;
  auto again = download(o);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_FALSE(again->already_complete);
  EXPECT_EQ(file_requests(1, requests).size(), 1u);
  EXPECT_EQ(file_requests(2, requests).size(), 1u);
  for (std::size_t i : {0u, 1u}) EXPECT_EQ(s3.count("PutObject", key(i)), 2u) << i;
  EXPECT_EQ(s3.count("CreateMultipartUpload", key(2)), 2u);
  EXPECT_EQ(s3.count("UploadPart", key(2)), 6u);
  EXPECT_EQ(s3.count("CompleteMultipartUpload", key(2)), 2u);
  // The old manifest is gone before the files are written again.
  EXPECT_EQ(s3.count("DeleteObject", manifest_key()), 1u);
  EXPECT_EQ(s3.count("PutObject", manifest_key()), 2u);
  expect_complete_export();
}

TEST_F(DownloadToStoreTest, AFileOfWholePartsIsCompletedWithoutAnEmptyPart) {
  contents = {big_file().substr(0, 16 * kMiB)};
  exp = make_export(kId, contents);
  serve_all();
  auto result = download(options(1));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(s3.count("UploadPart", key(0)), 2u);
  EXPECT_EQ(s3.count("PutObject", key(0)), 0u);
  expect_complete_export();
}

// CompleteMultipartUpload is refused once: the next run completes the upload
// with the parts it has, fetching at most the last part again.
class DownloadToStoreCompletionTest : public DownloadToStoreTest, public ::testing::WithParamInterface<std::size_t> {};

TEST_P(DownloadToStoreCompletionTest, ResumesAfterAFailedCompletion) {
  contents = {big_file().substr(0, GetParam())};
  exp = make_export(kId, contents);
  serve_all();
  s3.fail({.operation = "CompleteMultipartUpload", .key_suffix = "part-001.jsonl"});
  auto first = download(options(1));
  ASSERT_FALSE(first);
  EXPECT_EQ(first.error().kind, ErrorKind::Refused) << first.error().message;
  const auto upload_id = s3.upload_id_of(key(0));
  ASSERT_FALSE(upload_id.empty());
  // Its record still describes the upload: only whole parts are recorded,
  // so a last part that ends on a 64-byte boundary (a 4 MiB last part of a
  // 20 MiB file) does not leave a record that no run can load.
  auto saved = detail::UploadStore(state).load("lake", key(0));
  ASSERT_TRUE(saved) << saved.error().message;
  EXPECT_TRUE(*saved && (*saved)->upload_id == upload_id) << "no usable record of " << upload_id;
  EXPECT_FALSE(files_in(state).empty());

  const auto before = transport.requests().size();
  auto second = download(options(1));
  ASSERT_TRUE(second) << second.error().message;
  const auto requests = file_requests(0, before);
  EXPECT_LE(requests.size(), 1u);
  for (const auto& r : requests) {
    EXPECT_TRUE(r.range_from) << "the file was fetched again from byte 0";
    if (r.range_from) {
      EXPECT_GE(*r.range_from, 16 * kMiB);
    }
  }
  EXPECT_EQ(s3.count("UploadPart", key(0), 1), 1u);
  EXPECT_EQ(s3.count("UploadPart", key(0), 2), 1u);
  EXPECT_EQ(s3.count("CreateMultipartUpload", key(0)), 1u);
  for (const auto& r : s3.received()) {
    if (r.operation == "CompleteMultipartUpload") {
      EXPECT_EQ(r.upload_id, upload_id);
    }
  }
  expect_complete_export();
}

INSTANTIATE_TEST_SUITE_P(LastPartSizes, DownloadToStoreCompletionTest,
                         ::testing::Values(20 * kMiB + 123,  // off a block boundary
                                           20 * kMiB),       // on one
                         [](const ::testing::TestParamInfo<std::size_t>& param_info) {
                           return param_info.param % 64 == 0 ? std::string("LastPartOnABlockBoundary")
                                                             : std::string("LastPartOffABlockBoundary");
                         });

}  // namespace
}  // namespace mews_export
