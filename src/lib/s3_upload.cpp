#include "s3_upload.hpp"

#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "atomic_file.hpp"
#include "files.hpp"
#include "mews_export/untrusted.hpp"

namespace mews_export::detail {
namespace {

using nlohmann::json;

// An upload record is small; a bigger file is not ours.
constexpr std::size_t kMaxRecordBytes = std::size_t{4} << 20;

json to_json(const UploadRecord& r) {
  json parts = json::array();
  for (const auto& p : r.parts) parts.push_back({{"Number", p.number}, {"ETag", p.etag}, {"Size", p.size}});
  return json{{"Bucket", r.bucket},
              {"Key", r.key},
              {"ExportId", r.export_id},
              {"Size", r.size},
              {"PartSize", r.part_size},
              {"UploadId", r.upload_id},
              {"Parts", std::move(parts)},
              {"Hash", r.hash.to_string()},
              {"Newlines", r.newlines},
              {"Last", static_cast<int>(static_cast<unsigned char>(r.last))},  // a byte, maybe not UTF-8
              {"Complete", r.complete},
              {"Sha256", r.sha256},
              {"Lines", r.lines}};
}

std::optional<UploadRecord> record_from(const json& j) {
  try {
    UploadRecord r;
    r.bucket = j.at("Bucket").get<std::string>();
    r.key = j.at("Key").get<std::string>();
    r.export_id = j.at("ExportId").get<std::string>();
    r.size = j.at("Size").get<std::uint64_t>();
    r.part_size = j.at("PartSize").get<std::uint64_t>();
    r.upload_id = j.at("UploadId").get<std::string>();
    for (const auto& p : j.at("Parts")) {
      r.parts.push_back(s3::Part{.number = p.at("Number").get<int>(),
                                 .etag = p.at("ETag").get<std::string>(),
                                 .size = p.at("Size").get<std::uint64_t>()});
    }
    const auto hash = Sha256Checkpoint::parse(j.at("Hash").get<std::string>());
    const auto last = j.at("Last").get<int>();
    if (!hash || last < 0 || last > 255) return std::nullopt;
    r.hash = *hash;
    r.newlines = j.at("Newlines").get<std::uint64_t>();
    r.last = static_cast<char>(static_cast<unsigned char>(last));
    r.complete = j.at("Complete").get<bool>();
    r.sha256 = j.at("Sha256").get<std::string>();
    r.lines = j.at("Lines").get<std::uint64_t>();
    return r;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

// True when a complete record has its hash, or an unfinished one's parts are numbered 1..n and add up to its hash
// state.
bool consistent(const UploadRecord& r) {
  if (r.complete) return r.sha256.size() == 64;
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < r.parts.size(); ++i) {
    if (r.parts[i].number != static_cast<int>(i + 1) || r.parts[i].size != r.part_size) return false;
    total += r.parts[i].size;
  }
  return total == r.hash.bytes && total <= r.size;
}

}  // namespace

std::uint64_t part_size_for(std::uint64_t size) {
  const std::uint64_t mib = std::uint64_t{1} << 20;
  const std::uint64_t needed = (size + kMaxParts - 1) / kMaxParts;
  return std::max(kMinPartSize, (needed + mib - 1) / mib * mib);
}

// ----------------------------------------------------------------- the store

std::filesystem::path UploadStore::path_of(const std::string& bucket, const std::string& key) const {
  return dir_ / (sha256_hex(bucket + "/" + key).substr(0, 40) + ".json");
}

Result<std::optional<UploadRecord>> UploadStore::load(const std::string& bucket, const std::string& key) const {
  const auto path = path_of(bucket, key);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::optional<UploadRecord>{};
  auto text = read_regular_file(path, kMaxRecordBytes);
  if (!text) return std::unexpected(text.error());
  auto parsed = parse_untrusted_json(*text);
  auto record = parsed ? record_from(*parsed) : std::nullopt;
  // A record that is not ours, or not whole, is no record: the file starts over.
  if (!record || record->bucket != bucket || record->key != key || !consistent(*record)) {
    return std::optional<UploadRecord>{};
  }
  return record;
}

Status UploadStore::save(const UploadRecord& record) const {
  std::error_code ec;
  if (std::filesystem::create_directories(dir_, ec)) ::chmod(dir_.c_str(), 0700);
  if (ec) return std::unexpected(io_error("cannot create directory", dir_, ec.value()));
  return write_file_atomically(path_of(record.bucket, record.key), to_json(record).dump() + "\n", 0600);
}

Status UploadStore::forget(const std::string& bucket, const std::string& key) const {
  const auto path = path_of(bucket, key);
  std::error_code ec;
  std::filesystem::remove(path, ec);
  if (ec) return std::unexpected(io_error("cannot remove", path, ec.value()));
  return {};
}

namespace {

// write_file_atomically's ".<name>.tmp-PID-N", left when a process was killed
// mid-save; a save takes milliseconds, so one an hour old is nobody's.
bool is_orphaned_temp(const std::string& name, std::filesystem::file_time_type::duration age) {
  return name.starts_with('.') && name.find(".tmp-") != std::string::npos && age > std::chrono::hours{1};
}

}  // namespace

std::size_t UploadStore::abort_stale(s3::Client& client, const std::string& bucket, std::chrono::hours max_age) const {
  std::size_t aborted = 0;
  std::error_code ec;
  const auto now = std::filesystem::file_time_type::clock::now();
  for (auto it = std::filesystem::directory_iterator(dir_, ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec)) {
    const auto changed = it->last_write_time(ec);
    if (ec) continue;
    if (is_orphaned_temp(it->path().filename().string(), now - changed)) {
      std::filesystem::remove(it->path(), ec);  // a save a killed process never renamed
      continue;
    }
    if (now - changed < max_age || it->path().extension() != ".json") continue;
    auto text = read_regular_file(it->path(), kMaxRecordBytes);
    auto parsed = text ? parse_untrusted_json(*text) : std::unexpected(text.error());
    const auto record = parsed ? record_from(*parsed) : std::nullopt;
    if (!record || record->bucket != bucket || record->complete) continue;
    if (!record->upload_id.empty()) (void)client.abort_multipart_upload(record->bucket, record->key, record->upload_id);
    std::filesystem::remove(it->path(), ec);
    ++aborted;
  }
  return aborted;
}

// ----------------------------------------------------------------- the output

S3Output::S3Output(s3::Client& client, const UploadStore& store, UploadRecord record)
    : client_(client),
      store_(store),
      record_(std::move(record)),
      hash_(record_.hash.bytes > 0 ? ResumableSha256(record_.hash) : ResumableSha256()) {
  filling_.reserve(static_cast<std::size_t>(record_.part_size));
}

S3Output::~S3Output() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status S3Output::write(std::string_view chunk) {
  while (!chunk.empty()) {
    const auto room = static_cast<std::size_t>(record_.part_size) - filling_.size();
    const auto take = std::min(room, chunk.size());
    filling_.append(chunk.substr(0, take));
    chunk.remove_prefix(take);
    if (filling_.size() == record_.part_size) {
      if (auto st = hand_off(); !st) return st;
    }
  }
  return {};
}

Status S3Output::hand_off() {
  if (auto st = wait_idle(); !st) return st;
  {
    std::lock_guard lock(mutex_);
    in_flight_ = std::move(filling_);
  }
  changed_.notify_all();
  if (!thread_.joinable()) thread_ = std::thread([this] { upload_loop(); });
  filling_ = std::string();
  filling_.reserve(static_cast<std::size_t>(record_.part_size));
  return {};
}

Status S3Output::wait_idle() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return !in_flight_.has_value(); });
  if (error_) return std::unexpected(*error_);
  return {};
}

void S3Output::upload_loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [&] { return stop_ || in_flight_.has_value(); });
    if (!in_flight_) return;  // stopped with nothing in flight
    lock.unlock();
    Status done = guarded_upload(*in_flight_);  // the part stays counted in flight until it is sent
    lock.lock();
    if (!done && !error_) error_ = done.error();
    in_flight_.reset();
    changed_.notify_all();
    if (stop_) return;
  }
}

// upload() on the uploader thread: an exception (bad_alloc) fails the file
// instead of ending the process.
Status S3Output::guarded_upload(std::string& part) {
  try {
    return upload(part);
  } catch (const std::exception& e) {
    return fail(ErrorKind::Io, "uploading " + record_.key + ": " + e.what());
  }
}

Status S3Output::ensure_upload() {
  if (!record_.upload_id.empty()) return {};
  auto id = client_.create_multipart_upload(record_.bucket, record_.key);
  if (!id) return std::unexpected(id.error());
  record_.upload_id = *id;
  return store_.save(record_);  // an interrupted upload can be found again, and aborted
}

Status S3Output::upload(std::string& part) {
  if (error_) return std::unexpected(*error_);  // an earlier part failed: the file fails
  if (auto st = ensure_upload(); !st) return st;
  hash_.update(part);
  const std::uint64_t newlines = count_newlines(part);
  const char last = part.empty() ? record_.last : part.back();
  const std::uint64_t size = part.size();
  const int number = static_cast<int>(record_.parts.size() + 1);
  auto etag = client_.upload_part(record_.bucket, record_.key, record_.upload_id, number, std::move(part));
  if (!etag) return lost_if_gone(etag.error());
  record_.parts.push_back(s3::Part{.number = number, .etag = *etag, .size = size});
  record_.newlines += newlines;
  record_.last = last;
  // Only whole parts are saved: a record ends on a part boundary, where the
  // next run resumes (a failed completion re-sends the last, short part).
  if (size != record_.part_size) return {};
  const auto checkpoint = hash_.checkpoint();
  if (!checkpoint) return fail(ErrorKind::Io, "internal: the hash is not at a block boundary after a whole part");
  record_.hash = *checkpoint;
  return store_.save(record_);
}

Result<std::string> S3Output::finish(std::uint64_t lines) {
  if (auto st = wait_idle(); !st) return std::unexpected(st.error());
  if (record_.upload_id.empty()) {
    hash_.update(filling_);
    if (auto st = client_.put_object(record_.bucket, record_.key, std::move(filling_)); !st) {
      return std::unexpected(st.error());
    }
  } else {
    if (!filling_.empty()) {
      if (auto st = upload(filling_); !st) return std::unexpected(st.error());
    }
    if (auto st = client_.complete_multipart_upload(record_.bucket, record_.key, record_.upload_id, record_.parts);
        !st) {
      return lost_if_gone(st.error());
    }
  }
  filling_ = std::string();
  record_.complete = true;
  record_.sha256 = hash_.hex_digest();
  record_.lines = lines;
  if (auto st = store_.save(record_); !st) return std::unexpected(st.error());
  return record_.sha256;
}

std::unexpected<Error> S3Output::lost_if_gone(Error error) {
  if (error.kind == ErrorKind::NotFound) lost_ = true;  // NoSuchUpload: aborted, or expired by a lifecycle rule
  return std::unexpected(std::move(error));
}

void S3Output::abort_upload() {
  if (!record_.upload_id.empty()) (void)client_.abort_multipart_upload(record_.bucket, record_.key, record_.upload_id);
}

Status S3Output::restart() {
  (void)wait_idle();
  abort_upload();
  std::lock_guard lock(mutex_);
  error_.reset();
  record_.upload_id.clear();
  record_.parts.clear();
  record_.hash = {};
  record_.newlines = 0;
  record_.last = '\n';
  hash_ = ResumableSha256();
  filling_.clear();
  return store_.forget(record_.bucket, record_.key);
}

void S3Output::discard() { (void)restart(); }

}  // namespace mews_export::detail
