// One export file streamed into an S3 object (internal): the bytes a
// FileTransfer accepts are gathered into parts of at least 8 MiB; one
// background thread hashes each full part (SHA-256, newlines) and uploads it
// while the next one fills, so at most two parts are in memory per file. After
// each uploaded part the upload id, the parts' ETags and the hash state at the
// part boundary are saved (UploadStore) so that another run resumes the upload
// at the first missing byte. A file smaller than one part is one PutObject.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "mews_export/error.hpp"
#include "s3_client.hpp"
#include "sha256.hpp"
#include "transfer.hpp"

namespace mews_export::detail {

// S3's smallest part is 5 MiB; 8 MiB is what the AWS tools use.
inline constexpr std::uint64_t kMinPartSize = std::uint64_t{8} << 20;
inline constexpr std::uint64_t kMaxParts = 10000;

// The part size for a file of `size` bytes: 8 MiB, or more (whole MiB) when
// 10,000 parts would not hold it.
std::uint64_t part_size_for(std::uint64_t size);

// What is saved of one object's upload: enough to go on with it in another
// process, or to know that it completed.
struct UploadRecord {
  std::string bucket;
  std::string key;
  std::string export_id;   // the source: its export ...
  std::uint64_t size = 0;  // ... and the file's SizeInBytes
  std::uint64_t part_size = 0;
  std::string upload_id;        // empty for a single PutObject
  std::vector<s3::Part> parts;  // uploaded, in order: 1, 2, ...
  Sha256Checkpoint hash;        // after the parts (bytes = their total)
  std::uint64_t newlines = 0;   // in the parts
  char last = '\n';             // their last byte
  bool complete = false;        // the object exists under its key
  std::string sha256;           // when complete: the whole file's
  std::uint64_t lines = 0;      // when complete
};

// Upload records, one small JSON file each in the directory given (the jobs
// use `<state>/uploads/`), written atomically (0600). Keyed by bucket and key.
class UploadStore {
 public:
  explicit UploadStore(std::filesystem::path dir) : dir_(std::move(dir)) {}
  Result<std::optional<UploadRecord>> load(const std::string& bucket, const std::string& key) const;
  Status save(const UploadRecord& record) const;
  Status forget(const std::string& bucket, const std::string& key) const;
  // Unfinished uploads into `bucket` whose record has not changed for
  // `max_age` (longer than an export's files live: they cannot be resumed):
  // aborted (best effort) and forgotten, so that no orphaned parts stay
  // billed. Returns how many. Temporary files of saves that a killed process
  // never finished, an hour old or more, are removed too.
  std::size_t abort_stale(s3::Client& client, const std::string& bucket, std::chrono::hours max_age) const;

 private:
  std::filesystem::path path_of(const std::string& bucket, const std::string& key) const;
  std::filesystem::path dir_;
};

// The FileOutput of one object. Not thread-safe: one FileTransfer writes it.
class S3Output final : public FileOutput {
 public:
  S3Output(s3::Client& client, const UploadStore& store, UploadRecord record);
  S3Output(const S3Output&) = delete;
  S3Output& operator=(const S3Output&) = delete;
  ~S3Output() override;  // waits for the part in flight; the upload stays resumable

  // Where a resumed upload starts: the bytes, newlines and last byte of its
  // uploaded parts (all zero for a new one).
  std::uint64_t resumed_bytes() const { return record_.hash.bytes; }
  std::uint64_t resumed_newlines() const { return record_.newlines; }
  char resumed_last() const { return record_.last; }

  Status write(std::string_view chunk) override;
  bool can_restart() const override { return true; }
  // Aborts the multipart upload (best effort) and starts again at byte 0.
  Status restart() override;
  // Aborts the multipart upload and forgets it (data that must not be kept).
  void discard() override;

  // Uploads what is left and completes the object; its SHA-256 (hex). The
  // record is kept, marked complete, until the manifest lists the file.
  Result<std::string> finish(std::uint64_t lines);

  // The store no longer knows the multipart upload (NoSuchUpload): its parts
  // are gone, and the file must start again from byte 0.
  bool upload_lost() const { return lost_; }

 private:
  Status hand_off();                 // the full part to the uploader thread
  Status wait_idle();                // until no part is in flight; its error
  void upload_loop();                // the uploader thread
  Status upload(std::string& part);  // hash, upload, save the record
  Status guarded_upload(std::string& part);
  Status ensure_upload();  // CreateMultipartUpload once
  void abort_upload();
  std::unexpected<Error> lost_if_gone(Error error);

  s3::Client& client_;
  const UploadStore& store_;
  UploadRecord record_;  // the uploader thread's while a part is in flight
  ResumableSha256 hash_;
  std::string filling_;

  std::mutex mutex_;
  std::condition_variable changed_;
  std::optional<std::string> in_flight_;
  std::optional<Error> error_;
  bool stop_ = false;
  std::atomic<bool> lost_{false};
  std::thread thread_;
};

}  // namespace mews_export::detail
