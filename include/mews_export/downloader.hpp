// Streams the files of a successful export to a directory (part-NNN.jsonl +
// manifest.json) or to a single output stream, in constant memory, verifying
// SizeInBytes and computing SHA-256 and line counts on the way.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "mews_export/clock.hpp"
#include "mews_export/error.hpp"
#include "mews_export/http.hpp"
#include "mews_export/model.hpp"
#include "mews_export/object_store.hpp"
#include "mews_export/retry.hpp"

namespace mews_export {

inline constexpr const char* kManifestName = "manifest.json";

// "part-001.jsonl" for index 0; three digits or more.
std::string part_file_name(std::size_t index);

struct FileRecord {
  std::string name;  // "part-001.jsonl"
  std::uint64_t size_in_bytes = 0;
  std::string sha256;  // 64 lowercase hex digits (empty in stream mode unless hash_stream)
  // Records: the number of '\n', plus one when the file is non-empty and does
  // not end in '\n' (a last line without its newline is still a record).
  std::uint64_t lines = 0;
};

struct Manifest {
  std::string export_id;
  std::string entity_type;
  nlohmann::json scope;    // as the API returned it (null when absent)
  nlohmann::json filters;  // as the API returned it (null when absent)
  std::string expires_utc;
  std::string completed_utc;
  std::vector<FileRecord> files;
};

nlohmann::json to_json(const Manifest& manifest);
// manifest.json as written: one key per line, one line per file, Scope and
// Filters (echoed from the server) compact, so its size stays linear in theirs.
std::string manifest_text(const Manifest& manifest);
Result<Manifest> parse_manifest(const nlohmann::json& object);

struct DownloadProgress {
  std::size_t file_index = 0;
  std::uint64_t file_bytes = 0;  // received so far in this file
  std::uint64_t file_total = 0;  // SizeInBytes
};

struct DownloadOptions {
  // Exactly one of these: a directory (files land in out_dir/<ExportId>/) ...
  std::optional<std::filesystem::path> out_dir;
  // ... or a stream receiving all files concatenated (newline-repaired) ...
  std::FILE* out_stream = nullptr;
  // ... or an object store: the same layout under out_store (objects
  // <prefix>/<ExportId>/part-NNN.jsonl, manifest.json last). Each file streams
  // into a multipart upload whose state is kept in upload_state_dir, so that
  // another call resumes it.
  std::optional<S3Location> out_store;
  std::filesystem::path upload_state_dir;
  // Concurrent file transfers. Stream mode: the file being streamed plus up
  // to parallel-1 files fetched ahead into unlinked temporary files in
  // $TMPDIR (std::filesystem::temp_directory_path()), emitted in order.
  int parallel = 4;
  // Stream mode: compute each file's SHA-256 for the result's manifest. Off by
  // default (nobody can check a stream against it afterwards, and it is a
  // third of the CPU): FileRecord::sha256 is then empty.
  bool hash_stream = false;
  // Check that every line of every file is a JSON object (simdjson, on the
  // digest thread); the first bad line fails the download with Verification,
  // naming the file, the line and its byte offset (a .part is kept).
  bool validate = false;
  bool force = false;  // download again even when a verified manifest exists
  // A file of at least split_min_size bytes is fetched as `split` Range
  // requests at once (1: never). Directory mode: each resumable on its own
  // (a "<name>.part.ranges" sidecar records their progress). Stream mode:
  // the first streams live, the others are spooled into one unlinked
  // temporary file in $TMPDIR and copied out in order. Object stores: never.
  // A host that ignores Range gets the file in one piece instead.
  int split = 4;
  std::uint64_t split_min_size = std::uint64_t{64} << 20;
  // A big file's first split_probe_bytes come on one connection, timed; the
  // rest is split only when they came slower than split_below_rate bytes/s
  // (on a fast link one connection is faster). 0: no probe, always split.
  std::uint64_t split_probe_bytes = std::uint64_t{4} << 20;
  double split_below_rate = 200e6;
  // The export's directory under out_dir when it is not named by the export's
  // id (sync windows): one path component, created by us, never a link.
  std::optional<std::string> directory;
  RetryPolicy retry;  // per-file retry of failed transfers (reset by progress)
  // A transfer that receives nothing for this long is abandoned (and retried).
  std::chrono::seconds stall_timeout{60};
  // Plain http:// file URLs (and redirects) to hosts other than this machine
  // are refused unless this is set (--allow-insecure-http).
  bool allow_insecure_http = false;
  // Called as data arrives (at most once per chunk), possibly from worker
  // threads, but never concurrently. May be empty.
  std::function<void(const DownloadProgress&)> on_progress;
  // Called before each retry of a file transfer (for logs). May be empty.
  RetryCallback on_retry;
};

struct DownloadResult {
  // out_dir/<ExportId> (or "s3://bucket/prefix/<ExportId>"), empty in stream mode
  std::filesystem::path directory;
  Manifest manifest;
  bool already_complete = false;  // a verified manifest was found; nothing fetched
};

// Fetches fresh file URLs. Called when a URL is refused (403/404) or older than
// 9 minutes (URLs live 10); returns the export as a new getAll answered it.
// Parallel workers share one call: it never runs concurrently with itself.
using UrlRefresher = std::function<Result<Export>()>;

class Downloader {
 public:
  Downloader(HttpTransport& transport, Clock& clock, UrlRefresher refresh);

  // Downloads every file of `exp` (which must be Success; its URLs are taken as
  // fetched just now). Directory mode: writes <dir>/<Id>/part-NNN.jsonl, each
  // first as a ".part" file renamed only after its size is verified (fsync +
  // rename), then manifest.json last. A ".part" left by an earlier run or a
  // failed attempt is resumed with a Range request; a final file of the right
  // size from an earlier run is re-hashed, not fetched; a file announced with 0
  // bytes is not requested. Stream mode: files in
  // order, each non-empty one ending in '\n'; no manifest file (the result's
  // manifest still lists sizes and lines, and hashes when hash_stream is set).
  // Files are opened relative to the export directory and never through a
  // symbolic link: a link (or anything but a regular file) where a part,
  // ".part" or manifest is expected is an Io error naming the path.
  // Errors: Verification (size mismatch), Io (disk, output stream), Http/Network
  // /Timeout after retries, Protocol for an unusable file URL or redirect, or an
  // id that cannot name a directory, ExportFailed when the export is not
  // Success (or no longer is when URLs are refreshed), Usage when not exactly
  // one destination is given, OutputClosed when the stream's reader went away,
  // Interrupted (signal set; .part files kept).
  Result<DownloadResult> download(const Export& exp, const DownloadOptions& options);

 private:
  HttpTransport& transport_;
  Clock& clock_;
  UrlRefresher refresh_;
};

}  // namespace mews_export
