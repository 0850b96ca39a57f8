// The downloader: files of a successful export to a directory (parallel
// workers, each file through a FileTransfer into its ".part", manifest last)
// or to one stream (in order, newline-repaired), with URLs refreshed for all
// workers at once.
#include "mews_export/downloader.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>
#include <utility>

#include "atomic_file.hpp"
#include "block_writer.hpp"
#include "fetch_ahead.hpp"
#include "files.hpp"
#include "finisher.hpp"
#include "mews_export/cancel.hpp"
#include "mews_export/time.hpp"
#include "mews_export/untrusted.hpp"
#include "ranged.hpp"
#include "s3_client.hpp"
#include "s3_upload.hpp"
#include "transfer.hpp"

namespace mews_export {
namespace {

// A file URL is valid for 10 minutes after the getAll that produced it; start
// (or resume) a transfer only with a URL younger than this.
constexpr auto kUrlMaxAge = std::chrono::minutes{9};
// manifest.json is ours, but read back with a bound all the same.
constexpr std::size_t kMaxManifestBytes = std::size_t{64} << 20;

using detail::FileOutput;
using detail::FileState;
using nlohmann::json;

// ------------------------------------------------------------------ outputs

class PartOutput final : public FileOutput {
 public:
  explicit PartOutput(detail::PartFile& part) : part_(part) {}
  Status write(std::string_view chunk) override { return part_.append(chunk); }
  bool can_restart() const override { return true; }
  Status restart() override { return part_.truncate(0); }
  void discard() override { part_.discard(); }

 private:
  detail::PartFile& part_;
};

// A pipe this large lets the reader take a few blocks at a time (the default
// 64 KiB pipe makes every block two or more context switches).
constexpr int kPipeSize = 1 << 20;

// The stream's bytes go out with write(2) on its descriptor, a whole block at
// a time (stdio would cut them into 4 KiB writes); a FILE without a descriptor
// (open_memstream) gets fwrite.
class StreamOutput final : public FileOutput {
 public:
  explicit StreamOutput(std::FILE* out) : out_(out) {
    std::fflush(out_);  // what the caller wrote before goes first
    fd_ = ::fileno(out_);
    struct stat st {};
    if (fd_ >= 0 && ::fstat(fd_, &st) == 0 && S_ISFIFO(st.st_mode)) {
      (void)::fcntl(fd_, F_SETPIPE_SZ, kPipeSize);  // best effort: a smaller pipe still works
    }
  }
  Status write(std::string_view chunk) override {
    if (chunk.empty()) return {};
    if (fd_ < 0) return write_stdio(chunk);
    while (!chunk.empty()) {
      const ssize_t n = ::write(fd_, chunk.data(), chunk.size());
      if (n >= 0) {
        chunk.remove_prefix(static_cast<std::size_t>(n));
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        pollfd p{.fd = fd_, .events = POLLOUT, .revents = 0};
        (void)::poll(&p, 1, 1000);  // a non-blocking descriptor: wait until it takes more
      } else if (errno != EINTR) {
        return fail_write();
      }
    }
    return {};
  }
  Status flush() {
    errno = 0;
    if (std::fflush(out_) != 0 || std::ferror(out_) != 0) return fail_write();
    return {};
  }
  bool can_restart() const override { return false; }
  Status restart() override {
    return fail(ErrorKind::Io, "cannot take back data already written to the output stream");
  }
  void discard() override {}

 private:
  Status write_stdio(std::string_view chunk) {
    errno = 0;
    if (std::fwrite(chunk.data(), 1, chunk.size(), out_) != chunk.size() || std::ferror(out_) != 0) {
      return fail_write();
    }
    return {};
  }
  static std::unexpected<Error> fail_write() {
    const int err = errno != 0 ? errno : EIO;
    if (err == EPIPE) return fail(ErrorKind::OutputClosed, "the reader of the output stream closed it");
    return fail(ErrorKind::Io, std::string("cannot write to the output stream: ") + std::strerror(err));
  }
  std::FILE* out_;
  int fd_ = -1;
};

// One file of a stream: what it holds and, when fetched ahead, its
// temporary file.
struct StreamedFile {
  FileRecord record;
  char last = '\n';
  UniqueFd temp;
};

// ------------------------------------------------------------------ helpers

// Whether big files may come as ranges: to a directory or a stream (an
// upload to a bucket goes in order, part after part).
bool may_split(const DownloadOptions& options) { return !options.out_store && options.split > 1; }

// The most connections a download opens at once: --parallel, or --split when
// larger (one file at a time may still come as --split ranges). Files take
// one each; a big file's ranges only take what the files leave idle.
std::size_t connection_budget(const DownloadOptions& options) {
  const auto parallel = static_cast<std::size_t>(std::max(1, options.parallel));
  return may_split(options) ? std::max(parallel, static_cast<std::size_t>(options.split)) : parallel;
}

// Transfers that may run at once: files at once, or the whole connection
// budget when a file is big enough to be split.
std::size_t concurrent_transfers(const Export& exp, const DownloadOptions& options) {
  const auto files = std::min<std::size_t>(static_cast<std::size_t>(std::max(1, options.parallel)), exp.files.size());
  const bool splits = options.out_dir && may_split(options) &&
                      std::any_of(exp.files.begin(), exp.files.end(),
                                  [&](const ExportFile& f) { return f.size_in_bytes >= options.split_min_size; });
  return splits ? connection_budget(options) : files;
}

// The settings every transfer of this download starts from.
detail::TransferSettings transfer_settings(const Export& exp, const DownloadOptions& options) {
  const bool stream = !options.out_dir && !options.out_store;
  const std::size_t block = detail::block_size_for(concurrent_transfers(exp, options));
  return {.retry = options.retry,
          .stall_timeout = options.stall_timeout,
          .allow_insecure_http = options.allow_insecure_http,
          .on_retry = options.on_retry,
          // An upload hashes its parts itself (S3Output): the hash state must be saved at part boundaries.
          .hash = options.out_dir.has_value() || options.hash_stream,
          .block_size = block,
          // A stream: receiving and writing to the pipe overlap on two threads.
          .write_on_thread = stream,
          // A stream of one file at a time reads a block at once (0: the
          // transport's own 64 KiB). Its receiving thread is what limits a
          // pipe: 1 GiB into `| wc -l` took 1114 ms against 1302 ms with 64 KiB
          // reads (9 interleaved runs). Files to disk are bound by writing and
          // hashing and gained nothing (1622 against 1693 ms), and several
          // transfers at once keep their memory.
          .receive_buffer = stream && block == detail::kBlockSize ? block : 0};
}

std::string status_name(const Export& exp) {
  if (!exp.status_name.empty()) return exp.status_name;
  return exp.status == ExportStatus::Unknown ? std::string("in no known state") : std::string(to_string(exp.status));
}

Error with_context(Error error, const std::string& what) {
  error.message = what + ": " + error.message;
  return error;
}

json raw_or(const Export& exp, const char* key, json fallback) {
  if (exp.raw.is_object()) {
    const auto it = exp.raw.find(key);
    if (it != exp.raw.end()) return *it;
  }
  return fallback;
}

// The manifest `text` when it describes exactly `exp`'s files and `size_of`
// finds each of them with its recorded size; nullopt otherwise.
std::optional<Manifest> verified_manifest(
    const Result<std::string>& text, const Export& exp,
    const std::function<std::optional<std::uint64_t>(const std::string&)>& size_of) {
  if (!text) return std::nullopt;
  auto object = parse_untrusted_json(*text);
  if (!object) return std::nullopt;
  auto manifest = parse_manifest(*object);
  if (!manifest || manifest->export_id != exp.id || manifest->files.size() != exp.files.size()) return std::nullopt;
  for (std::size_t i = 0; i < exp.files.size(); ++i) {
    const auto& record = manifest->files[i];
    if (record.name != part_file_name(i) || record.size_in_bytes != exp.files[i].size_in_bytes) return std::nullopt;
    if (size_of(record.name) != record.size_in_bytes) return std::nullopt;
  }
  return std::move(*manifest);
}

// The manifest in `dir` when it describes exactly `exp`'s files, all present
// (regular files, not links) with their recorded sizes; nullopt otherwise.
std::optional<Manifest> load_verified_manifest(const detail::Directory& dir, const Export& exp) {
  return verified_manifest(dir.read_file(kManifestName, kMaxManifestBytes), exp,
                           [&](const std::string& name) -> std::optional<std::uint64_t> {
                             auto size = dir.file_size(name);
                             return size ? *size : std::nullopt;
                           });
}

// ------------------------------------------------------------------- session

// What became of a file directory mode may split (Session::try_ranges).
enum class Ranged { Done, NotRanged, Probed };

// One download() call: the shared URL state (a UrlSource for every worker's
// FileTransfer) and the two writers.
class Session final : public detail::UrlSource {
 public:
  Session(HttpTransport& transport, Clock& clock, const UrlRefresher& refresh, const Export& exp,
          const DownloadOptions& options)
      : transport_(transport),
        clock_(clock),
        refresh_(refresh),
        exp_(exp),
        options_(options),
        settings_(transfer_settings(exp, options)),
        current_(exp),
        obtained_(clock.now()) {}

  Result<DownloadResult> to_directory(const std::filesystem::path& out_dir);
  Result<DownloadResult> to_stream(std::FILE* out);
  Result<DownloadResult> to_store(const S3Location& root);

  Result<detail::CurrentUrl> url_for(std::size_t index) override;
  Status refresh(std::size_t index, std::uint64_t generation) override;

 private:
  Status transfer(std::size_t index, FileOutput& out, FileState& state);
  Result<FileRecord> file_to_directory(std::size_t index, const detail::Directory& dir, detail::Finisher& finisher);
  Result<Ranged> try_ranges(std::size_t index, const detail::Directory& dir, detail::PartFile& part, FileState& state);
  Result<std::optional<FileRecord>> verified_final_file(std::size_t index, const detail::Directory& dir);
  Result<detail::Directory> export_directory(const std::filesystem::path& out_dir);
  Result<std::vector<FileRecord>> run_workers(
      const std::function<Result<FileRecord>(std::size_t, detail::Finisher&)>& one_file);
  Result<std::string> export_name() const;
  Result<FileRecord> file_to_store(std::size_t index, s3::Client& client, const detail::UploadStore& uploads,
                                   const S3Location& here);
  Result<std::optional<FileRecord>> completed_upload(std::size_t index, s3::Client& client,
                                                     const detail::UploadRecord& saved);
  Result<Manifest> emit_stream(StreamOutput& out, detail::FetchWindow& window, std::vector<StreamedFile>& fetched);
  Result<StreamedFile> stream_live(std::size_t index, StreamOutput& out);
  Status stream_file(std::size_t index, FileOutput& out, FileState& state);
  Result<bool> probe_is_slow(std::size_t index, FileOutput& out, FileState& state);
  Status stream_split(std::size_t index, FileOutput& out, FileState& state, std::size_t extra);
  Status transfer_range(std::size_t index, FileOutput& out, FileState& state, detail::ByteRange range,
                        bool& ranges_ignored, const detail::TransferSettings& settings);
  std::optional<Error> fetch_to_spool(std::size_t index, detail::RangeSpool& spool, std::size_t k);
  detail::TransferSettings shared_settings() const;
  Status copy_spooled(std::size_t index, detail::RangeSpool& spool, FileOutput& out, FileState& state);
  Result<StreamedFile> copy_fetched(std::size_t index, detail::FetchWindow& window, StreamedFile& file,
                                    StreamOutput& out);
  void fetch_ahead(detail::FetchWindow& window, std::vector<StreamedFile>& fetched);
  Status refresh_locked(std::size_t index);
  Status check_file_locked(std::size_t index) const;
  void report(std::size_t index, std::uint64_t bytes);
  FileRecord record_of(std::size_t index, FileState& state) const;
  FileState new_state() const;
  Status check_lines(std::size_t index, FileState& state) const;
  Manifest base_manifest() const;

  HttpTransport& transport_;
  Clock& clock_;
  const UrlRefresher& refresh_;
  const Export& exp_;
  const DownloadOptions& options_;
  detail::TransferSettings settings_;
  // Connections of the budget no file is using (given back by run_workers).
  detail::SpareConnections spare_;

  std::mutex url_mutex_;  // guards current_, obtained_, generation_; held during a refresh
  Export current_;
  Clock::time_point obtained_;
  std::uint64_t generation_ = 0;

  std::mutex progress_mutex_;  // one on_progress call at a time
};

void Session::report(std::size_t index, std::uint64_t bytes) {
  if (!options_.on_progress) return;
  std::lock_guard lock(progress_mutex_);
  options_.on_progress(
      DownloadProgress{.file_index = index, .file_bytes = bytes, .file_total = exp_.files[index].size_in_bytes});
}

FileRecord Session::record_of(std::size_t index, FileState& state) const {
  return FileRecord{.name = part_file_name(index),
                    .size_in_bytes = state.bytes,
                    .sha256 = settings_.hash ? state.hash.hex_digest() : std::string(),
                    .lines = state.lines()};
}

FileState Session::new_state() const {
  FileState state;
  if (options_.validate) state.validator = std::make_unique<detail::LineValidator>();
  return state;
}

// --validate: the file's lines are JSON objects, or Verification naming the
// first that is not.
Status Session::check_lines(std::size_t index, FileState& state) const {
  if (!state.validator) return {};
  state.validator->finish();
  const auto& bad = state.validator->bad_line();
  if (!bad) return {};
  return fail(ErrorKind::Verification, part_file_name(index) + " of export " + exp_.id + ", line " +
                                           std::to_string(bad->line) + " (byte " + std::to_string(bad->offset) +
                                           "): " + bad->reason);
}

Status Session::check_file_locked(std::size_t index) const {
  if (index >= current_.files.size()) {
    return fail(ErrorKind::ExportFailed,
                "export " + exp_.id + " no longer lists " + part_file_name(index) + "; start a new export");
  }
  if (current_.files[index].size_in_bytes != exp_.files[index].size_in_bytes) {
    return fail(ErrorKind::Verification, "export " + exp_.id + " now announces " +
                                             std::to_string(current_.files[index].size_in_bytes) + " bytes for " +
                                             part_file_name(index) + " instead of " +
                                             std::to_string(exp_.files[index].size_in_bytes));
  }
  return {};
}

Status Session::refresh_locked(std::size_t index) {
  if (!refresh_) {
    return fail(ErrorKind::Http, "the URL of " + part_file_name(index) + " of export " + exp_.id +
                                     " was refused or is too old, and no way to fetch fresh URLs was given");
  }
  auto fresh = refresh_();
  if (!fresh) return std::unexpected(with_context(fresh.error(), "fetching fresh file URLs for export " + exp_.id));
  if (fresh->status != ExportStatus::Success) {
    return fail(ErrorKind::ExportFailed,
                "export " + exp_.id + " is " + status_name(*fresh) + " now; its files can no longer be downloaded");
  }
  current_ = std::move(*fresh);
  obtained_ = clock_.now();
  ++generation_;
  return check_file_locked(index);
}

Result<detail::CurrentUrl> Session::url_for(std::size_t index) {
  std::lock_guard lock(url_mutex_);
  if (refresh_ && clock_.now() - obtained_ >= kUrlMaxAge) {
    if (auto st = refresh_locked(index); !st) return std::unexpected(st.error());
  }
  if (auto st = check_file_locked(index); !st) return std::unexpected(st.error());
  return detail::CurrentUrl{.url = current_.files[index].url, .generation = generation_};
}

// Only one refresh runs at a time; a worker whose URL was already replaced by
// another worker's refresh (the generation moved on) uses that result.
Status Session::refresh(std::size_t index, std::uint64_t seen_generation) {
  std::lock_guard lock(url_mutex_);
  if (generation_ != seen_generation) return check_file_locked(index);
  return refresh_locked(index);
}

Status Session::transfer(std::size_t index, FileOutput& out, FileState& state) {
  detail::FileTransfer transfer(transport_, clock_, *this, settings_, index, part_file_name(index),
                                exp_.files[index].size_in_bytes);
  return transfer.run(out, state, [this, index](std::uint64_t bytes) { report(index, bytes); });
}

// The record of file `index` when an earlier run completed it (only verified
// files get their final name); nullopt when it must be fetched. A final file
// of the wrong size is removed; a link or non-regular file is an error.
Result<std::optional<FileRecord>> Session::verified_final_file(std::size_t index, const detail::Directory& dir) {
  const std::string name = part_file_name(index);
  auto size = dir.file_size(name);
  if (!size) return std::unexpected(size.error());
  if (!*size) return std::optional<FileRecord>{};
  if (options_.force || **size != exp_.files[index].size_in_bytes) {
    if (auto st = dir.remove(name); !st) return std::unexpected(st.error());
    return std::optional<FileRecord>{};
  }
  auto file = dir.open_file(name, O_RDONLY);
  if (!file) return std::unexpected(file.error());
  FileState state = new_state();
  auto st = detail::read_range(file->get(), 0, **size, dir.path() / name, [&](std::string_view chunk) {
    state.add(chunk);
    return Status{};
  });
  if (!st) return std::unexpected(st.error());
  if (auto valid = check_lines(index, state); !valid) return std::unexpected(valid.error());
  report(index, state.bytes);
  return std::optional(record_of(index, state));
}

// File `index` into `dir`: fetched (resumed, split) and checked here; made
// durable and given its final name by `finisher`, while this worker goes on.
Result<FileRecord> Session::file_to_directory(std::size_t index, const detail::Directory& dir,
                                              detail::Finisher& finisher) {
  auto done = verified_final_file(index, dir);
  if (!done) return std::unexpected(done.error());
  if (*done) return std::move(**done);

  const std::uint64_t expected = exp_.files[index].size_in_bytes;
  auto part = detail::PartFile::open(dir, part_file_name(index));
  if (!part) return std::unexpected(part.error());
  part->reserve(expected);
  FileState state = new_state();
  if (options_.force) {
    if (auto st = dir.remove(detail::ranges_file_name(part_file_name(index))); !st) return std::unexpected(st.error());
  }
  auto ranged = try_ranges(index, dir, *part, state);
  if (!ranged) return std::unexpected(ranged.error());
  if (*ranged != Ranged::Done) {
    // A .part with holes was written by ranges whose sidecar is gone: its
    // size says nothing about which bytes are there. (--force: unless it is
    // this run's own probe.)
    const bool old_part = *ranged == Ranged::NotRanged;
    if ((options_.force && old_part) || part->size() > expected || part->has_holes()) {
      if (auto st = part->truncate(0); !st) return std::unexpected(st.error());
    } else if (part->size() > 0) {
      // Resume: the hash and line count cover the bytes already there.
      if (auto st = part->read(0, [&](std::string_view chunk) { state.add(chunk); }); !st) {
        return std::unexpected(st.error());
      }
    }
    PartOutput out(*part);
    if (auto st = transfer(index, out, state); !st) return std::unexpected(st.error());
  }
  if (auto st = check_lines(index, state); !st) return std::unexpected(st.error());  // the .part is kept
  finisher.submit([file = std::make_shared<detail::PartFile>(std::move(*part))] { return file->finish(); });
  return record_of(index, state);
}

// Fetches a big file as parallel ranges (Done), or leaves it to be fetched in
// one piece: NotRanged (small, --split 1, a .part from a one-piece attempt to
// resume, or a host that ignores Range) or Probed (its probe came fast, or
// no connection was spare: the .part holds the probe's bytes).
Result<Ranged> Session::try_ranges(std::size_t index, const detail::Directory& dir, detail::PartFile& part,
                                   FileState& state) {
  const std::uint64_t expected = exp_.files[index].size_in_bytes;
  const std::string name = part_file_name(index);
  auto sidecar = dir.file_size(detail::ranges_file_name(name));
  if (!sidecar) return std::unexpected(sidecar.error());
  // A .part from a one-piece attempt (no sidecar) is resumed in one piece.
  const bool can_split = options_.force || part.size() == 0 || sidecar->has_value();
  if (options_.split <= 1 || expected < options_.split_min_size || !can_split) return Ranged::NotRanged;
  // A fresh file while every connection is busy with other files: a probe
  // could only end in one piece (ranges take idle connections only), so none
  // is made (no sidecar, no probe request, no second read of its bytes).
  if (part.size() == 0 && !sidecar->has_value() && !spare_.any_idle()) return Ranged::NotRanged;
  const detail::RangedFile job{.transport = transport_,
                               .clock = clock_,
                               .urls = *this,
                               .settings = settings_,
                               .dir = dir,
                               .index = index,
                               .name = name,
                               .size = expected,
                               .ranges = static_cast<std::size_t>(options_.split),
                               .probe_bytes = options_.split_probe_bytes,
                               .split_below = options_.split_below_rate,
                               .spare = &spare_,
                               .on_bytes = [this, index](std::uint64_t bytes) { report(index, bytes); }};
  auto one_piece = detail::OnePiece::No;
  auto fetched = detail::fetch_ranges(job, part, state, one_piece);
  switch (one_piece) {
    case detail::OnePiece::No:
      if (!fetched) return std::unexpected(fetched.error());
      return Ranged::Done;
    case detail::OnePiece::OneConnectionIsEnough:
      if (!fetched) return std::unexpected(fetched.error());
      state.reset();  // the caller digests the probe's bytes as a .part to resume
      return Ranged::Probed;
    case detail::OnePiece::HostIgnoresRanges: break;
  }
  // The host sends whole files only: start this one again in one piece.
  if (auto st = dir.remove(detail::ranges_file_name(name)); !st) return std::unexpected(st.error());
  if (auto st = part.truncate(0); !st) return std::unexpected(st.error());
  state.reset();
  return Ranged::NotRanged;
}

Manifest Session::base_manifest() const {
  Manifest manifest;
  manifest.export_id = exp_.id;
  manifest.entity_type =
      exp_.entity_type_name.empty() ? std::string(to_string(exp_.entity_type)) : exp_.entity_type_name;
  manifest.scope = raw_or(exp_, "Scope", exp_.scope ? to_json(*exp_.scope) : json(nullptr));
  manifest.filters = raw_or(exp_, "Filters", exp_.filters ? to_json(*exp_.filters) : json(nullptr));
  manifest.expires_utc = exp_.expires_utc.value_or("");
  return manifest;
}

// out_dir/<Id>, created when missing; the id must be a safe name and the
// directory must not be a symbolic link.
// The export's directory name (its id, or options_.directory): one safe
// path component either way.
Result<std::string> Session::export_name() const {
  if (!is_valid_export_id(exp_.id)) {
    return fail(ErrorKind::Protocol, "the export id '" + exp_.id +
                                         "' is not an export id (letters, digits and hyphens, as in a UUID); "
                                         "refusing to use it as a directory name");
  }
  std::string name = options_.directory.value_or(exp_.id);
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) {
    return fail(ErrorKind::Usage, "'" + name + "' cannot name an export directory");
  }
  return name;
}

Result<detail::Directory> Session::export_directory(const std::filesystem::path& out_dir) {
  auto name = export_name();
  if (!name) return std::unexpected(name.error());
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return std::unexpected(detail::io_error("cannot create directory", out_dir, ec.value()));
  auto parent = detail::Directory::open(out_dir);
  if (!parent) return std::unexpected(parent.error());
  return parent->child(*name, /*create=*/true);
}

// Downloads every file with options_.parallel workers; the records in file
// order, once what the workers left to a Finisher is done too.
Result<std::vector<FileRecord>> Session::run_workers(
    const std::function<Result<FileRecord>(std::size_t, detail::Finisher&)>& one_file) {
  const std::size_t count = exp_.files.size();
  std::vector<FileRecord> records(count);
  std::atomic<std::size_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex error_mutex;
  std::optional<Error> first_error;
  const auto record_error = [&](Error error) {
    std::lock_guard lock(error_mutex);
    if (!first_error) first_error = std::move(error);
    stop = true;
  };
  const auto workers = std::min(static_cast<std::size_t>(std::max(1, options_.parallel)), count);
  detail::Finisher finisher(workers, record_error);
  const auto work = [&] {
    const detail::ConnectionLease held(spare_, 1);  // a worker out of files frees its connection for others' ranges
    while (!stop) {
      if (cancel_requested()) return record_error(detail::interrupted_keeping_files());
      const std::size_t index = next.fetch_add(1);
      if (index >= count) return;
      try {
        auto record = one_file(index, finisher);
        if (!record) return record_error(std::move(record.error()));
        records[index] = std::move(*record);
      } catch (const std::exception& e) {  // std::bad_alloc included: an error, not an abort
        return record_error(
            Error{.kind = ErrorKind::Io, .message = "downloading " + part_file_name(index) + ": " + e.what()});
      }
    }
  };
  const std::size_t budget = connection_budget(options_);
  spare_.give_back(budget - std::min(workers, budget));
  if (workers <= 1) {
    work();
  } else {
    std::vector<std::jthread> threads;
    threads.reserve(workers);
    for (std::size_t i = 0; i < workers; ++i) threads.emplace_back(work);
  }  // jthreads join here
  finisher.drain();
  if (first_error) return std::unexpected(std::move(*first_error));
  return records;
}

Result<DownloadResult> Session::to_directory(const std::filesystem::path& out_dir) {
  auto dir = export_directory(out_dir);
  if (!dir) return std::unexpected(dir.error());
  auto manifest_size = dir->file_size(kManifestName);
  if (!manifest_size) return std::unexpected(manifest_size.error());
  if (*manifest_size) {
    if (!options_.force) {
      if (auto manifest = load_verified_manifest(*dir, exp_)) {
        return DownloadResult{.directory = dir->path(), .manifest = std::move(*manifest), .already_complete = true};
      }
    }
    // From here on the directory is incomplete until the new manifest lands.
    if (auto st = dir->remove(kManifestName); !st) return std::unexpected(st.error());
    if (auto st = dir->sync(); !st) return std::unexpected(st.error());
  }
  auto records = run_workers(
      [&](std::size_t index, detail::Finisher& finisher) { return file_to_directory(index, *dir, finisher); });
  if (!records) return std::unexpected(records.error());
  Manifest manifest = base_manifest();
  manifest.completed_utc = format_utc(std::chrono::floor<std::chrono::seconds>(clock_.now()));
  manifest.files = std::move(*records);
  if (auto st = detail::write_file_atomically(*dir, kManifestName, manifest_text(manifest)); !st) {
    return std::unexpected(st.error());
  }
  return DownloadResult{.directory = dir->path(), .manifest = std::move(manifest), .already_complete = false};
}

// The same layout in an object store: each file streamed into its object
// (resuming an upload an earlier call left), manifest.json last.
Result<DownloadResult> Session::to_store(const S3Location& root) {
  auto name = export_name();
  if (!name) return std::unexpected(name.error());
  const S3Location here = root.child(*name);
  s3::Client client(transport_, clock_, root.store,
                    s3::ClientOptions{.retry = options_.retry,
                                      .allow_insecure_http = options_.allow_insecure_http,
                                      .on_retry = options_.on_retry,
                                      .stall_timeout = options_.stall_timeout});
  const detail::UploadStore uploads(options_.upload_state_dir);
  // An export's files live 7 days: an upload untouched for longer can never be resumed.
  (void)uploads.abort_stale(client, here.bucket, std::chrono::hours{24 * 8});
  const std::string manifest_key = here.key(kManifestName);
  auto existing = client.get_object(here.bucket, manifest_key, kMaxManifestBytes);
  if (!existing) return std::unexpected(existing.error());
  if (*existing) {
    if (!options_.force) {
      const auto size_of = [&](const std::string& file) -> std::optional<std::uint64_t> {
        auto size = client.head_object(here.bucket, here.key(file));
        return size ? *size : std::nullopt;
      };
      if (auto manifest = verified_manifest(std::move(**existing), exp_, size_of)) {
        return DownloadResult{.directory = here.display(), .manifest = std::move(*manifest), .already_complete = true};
      }
    }
    // From here on the prefix is incomplete until the new manifest lands.
    if (auto st = client.delete_object(here.bucket, manifest_key); !st) return std::unexpected(st.error());
  }
  auto records =
      run_workers([&](std::size_t index, detail::Finisher&) { return file_to_store(index, client, uploads, here); });
  if (!records) return std::unexpected(records.error());
  Manifest manifest = base_manifest();
  manifest.completed_utc = format_utc(std::chrono::floor<std::chrono::seconds>(clock_.now()));
  manifest.files = std::move(*records);
  if (auto st = client.put_object(here.bucket, manifest_key, manifest_text(manifest)); !st) {
    return std::unexpected(st.error());
  }
  for (const auto& file : manifest.files) (void)uploads.forget(here.bucket, here.key(file.name));  // listed now
  return DownloadResult{.directory = here.display(), .manifest = std::move(manifest), .already_complete = false};
}

// The record of a file an earlier call uploaded completely, when its object
// is still there with its size; nullopt when it must be uploaded.
Result<std::optional<FileRecord>> Session::completed_upload(std::size_t index, s3::Client& client,
                                                            const detail::UploadRecord& saved) {
  auto size = client.head_object(saved.bucket, saved.key);
  if (!size) return std::unexpected(size.error());
  if (*size != saved.size) return std::optional<FileRecord>{};
  report(index, saved.size);
  return std::optional<FileRecord>(FileRecord{
      .name = part_file_name(index), .size_in_bytes = saved.size, .sha256 = saved.sha256, .lines = saved.lines});
}

Result<FileRecord> Session::file_to_store(std::size_t index, s3::Client& client, const detail::UploadStore& uploads,
                                          const S3Location& here) {
  const std::uint64_t expected = exp_.files[index].size_in_bytes;
  detail::UploadRecord record{.bucket = here.bucket,
                              .key = here.key(part_file_name(index)),
                              .export_id = exp_.id,
                              .size = expected,
                              .part_size = detail::part_size_for(expected)};
  auto saved = uploads.load(record.bucket, record.key);
  if (!saved) return std::unexpected(saved.error());
  if (*saved) {
    const auto& earlier = **saved;
    const bool same_source =
        earlier.export_id == exp_.id && earlier.size == expected && earlier.part_size == record.part_size;
    if (same_source && earlier.complete && !options_.force) {
      auto done = completed_upload(index, client, earlier);
      if (!done) return std::unexpected(done.error());
      if (*done) return std::move(**done);
    } else if (same_source && !earlier.complete && !options_.force) {
      record = earlier;  // resume: the uploaded parts stay
    } else if (!earlier.complete && !earlier.upload_id.empty()) {
      // Another source, or --force: its parts would only bill the user.
      (void)client.abort_multipart_upload(earlier.bucket, earlier.key, earlier.upload_id);
    }
  }
  for (int round = 0;; ++round) {
    detail::S3Output out(client, uploads, record);
    FileState state = new_state();
    state.bytes = out.resumed_bytes();
    state.newlines = out.resumed_newlines();
    state.last = out.resumed_last();
    if (state.bytes > 0) state.validator.reset();  // it would start in the middle of a line
    auto done = transfer(index, out, state);
    if (done) done = check_lines(index, state);
    Result<std::string> sha = done ? out.finish(state.lines()) : std::unexpected(done.error());
    if (sha) {
      return FileRecord{
          .name = part_file_name(index), .size_in_bytes = expected, .sha256 = *sha, .lines = state.lines()};
    }
    if (!out.upload_lost() || round > 0) return std::unexpected(sha.error());
    // The store forgot the upload (aborted, or expired by a lifecycle rule): start the file again.
    if (auto st = uploads.forget(record.bucket, record.key); !st) return std::unexpected(st.error());
    record.upload_id.clear();
    record.parts.clear();
    record.hash = {};
    record.newlines = 0;
    record.last = '\n';
  }
}

// Files in order; with parallel N, the next N-1 files are fetched ahead into
// unlinked temporary files while the current one streams live.
Result<DownloadResult> Session::to_stream(std::FILE* stream) {
  StreamOutput out(stream);
  const std::size_t count = exp_.files.size();
  const std::size_t ahead =
      count == 0 ? 0 : std::min(static_cast<std::size_t>(std::max(1, options_.parallel) - 1), count - 1);
  detail::FetchWindow window(count, ahead);
  std::vector<StreamedFile> fetched(count);
  // The writer holds one connection and each fetcher one until it runs out
  // of files: a big file's ranges take only the others.
  const std::size_t budget = connection_budget(options_);
  spare_.give_back(budget - std::min(budget, ahead + 1));
  Result<Manifest> manifest = std::unexpected(Error{});
  {
    std::vector<std::jthread> fetchers;
    fetchers.reserve(ahead);
    for (std::size_t i = 0; i < ahead; ++i) {
      fetchers.emplace_back([&] {
        const detail::ConnectionLease held(spare_, 1);
        fetch_ahead(window, fetched);
      });
    }
    manifest = emit_stream(out, window, fetched);
    window.stop();
  }  // fetchers join here; a stopped window makes their writes fail at once
  if (!manifest) return std::unexpected(manifest.error());
  return DownloadResult{.directory = {}, .manifest = std::move(*manifest), .already_complete = false};
}

Result<Manifest> Session::emit_stream(StreamOutput& out, detail::FetchWindow& window,
                                      std::vector<StreamedFile>& fetched) {
  Manifest manifest = base_manifest();
  for (std::size_t index = 0; index < exp_.files.size(); ++index) {
    if (cancel_requested()) return std::unexpected(detail::interrupted_keeping_files());
    auto file =
        window.claim_for_writer(index) ? stream_live(index, out) : copy_fetched(index, window, fetched[index], out);
    if (!file) {
      (void)out.flush();  // what was verified so far reaches the reader
      return std::unexpected(file.error());
    }
    if (file->record.size_in_bytes > 0 && file->last != '\n') {
      if (auto st = out.write("\n"); !st) return std::unexpected(st.error());
    }
    manifest.files.push_back(std::move(file->record));
    window.emitted(index);
  }
  if (auto st = out.flush(); !st) return std::unexpected(st.error());
  manifest.completed_utc = format_utc(std::chrono::floor<std::chrono::seconds>(clock_.now()));
  return manifest;
}

Result<StreamedFile> Session::stream_live(std::size_t index, StreamOutput& out) {
  FileState state = new_state();
  if (auto st = stream_file(index, out, state); !st) return std::unexpected(st.error());
  if (auto st = check_lines(index, state); !st) return std::unexpected(st.error());
  return StreamedFile{.record = record_of(index, state), .last = state.last, .temp = {}};
}

// A file of a stream, into `out` (the stream itself, or the temporary file of
// a file fetched ahead): in one piece, or, when it is big and its probe came
// slow, the rest as ranges on the connections no other file uses (none idle
// when it starts: no probe, one piece).
Status Session::stream_file(std::size_t index, FileOutput& out, FileState& state) {
  const std::uint64_t size = exp_.files[index].size_in_bytes;
  if (!may_split(options_) || size == 0 || size < options_.split_min_size || !spare_.any_idle()) {
    return transfer(index, out, state);
  }
  auto slow = probe_is_slow(index, out, state);
  if (!slow) return std::unexpected(slow.error());
  detail::ConnectionLease borrowed;
  const std::size_t extra = *slow ? borrowed.borrow(&spare_, static_cast<std::size_t>(options_.split) - 1) : 0;
  if (extra == 0) return transfer(index, out, state);  // the rest at once, on this connection
  return stream_split(index, out, state, extra);
}

// A big file's first split_probe_bytes alone into `out`, timed: true when
// they came slower than split_below_rate (or there is no probe: always
// split); false when they came faster, or the host sends whole files only
// (then nothing was written).
Result<bool> Session::probe_is_slow(std::size_t index, FileOutput& out, FileState& state) {
  const std::uint64_t probe = options_.split_probe_bytes;
  if (probe == 0 || probe >= exp_.files[index].size_in_bytes) return true;
  const auto started = clock_.now();
  bool ignored = false;
  auto probed =
      transfer_range(index, out, state, detail::ByteRange{.start = 0, .end = probe, .done = 0}, ignored, settings_);
  if (!probed && ignored && state.bytes == 0) return false;
  if (!probed) return std::unexpected(probed.error());
  const std::chrono::duration<double> took = clock_.now() - started;
  return took.count() > 0 && static_cast<double>(probe) / took.count() < options_.split_below_rate;
}

// The rest of the file as 1 + `extra` ranges at once: the first streams live
// while the others are spooled into one unlinked temporary file, then copied
// out in order. The temporary space is at most the file less its first range.
Status Session::stream_split(std::size_t index, FileOutput& out, FileState& state, std::size_t extra) {
  const std::uint64_t from = state.bytes;
  auto ranges = detail::plan_ranges(exp_.files[index].size_in_bytes - from, extra + 1);
  for (auto& r : ranges) {
    r.start += from;
    r.end += from;
  }
  std::error_code no_tmp;
  const auto tmp = std::filesystem::temp_directory_path(no_tmp);
  auto fd = no_tmp ? fail(ErrorKind::Io, no_tmp.message()) : detail::open_unlinked_temp(tmp);
  if (!fd) return transfer(index, out, state);  // nowhere to spool: the rest in one piece, as it would come
  const detail::ByteRange live = ranges.front();
  detail::RangeSpool spool(std::move(*fd), std::vector<detail::ByteRange>(ranges.begin() + 1, ranges.end()));
  Status streamed;
  {
    std::vector<std::jthread> fetchers;
    for (std::size_t k = 0; k < spool.count(); ++k) {
      fetchers.emplace_back([&, k] { spool.finish(k, fetch_to_spool(index, spool, k)); });
    }
    bool ignored = false;
    streamed = transfer_range(index, out, state, live, ignored, shared_settings());
    if (streamed) streamed = copy_spooled(index, spool, out, state);
    spool.stop();  // a fetcher still running fails at its next write
  }                // the fetchers join here
  return streamed;
}

// Bytes [range.start, range.end) of file `index` into `out`, digested into
// `state` after the bytes it already holds.
Status Session::transfer_range(std::size_t index, FileOutput& out, FileState& state, detail::ByteRange range,
                               bool& ranges_ignored, const detail::TransferSettings& settings) {
  detail::FileTransfer transfer(transport_, clock_, *this, settings, index, part_file_name(index), range.length());
  transfer.set_range(range.start);
  const std::uint64_t before = state.bytes;
  state.bytes = 0;  // a range's transfer counts its own bytes
  auto st = transfer.run(out, state, [&](std::uint64_t bytes) { report(index, before + bytes); });
  state.bytes += before;
  ranges_ignored = transfer.ranges_ignored();
  return st;
}

// settings_ for a transfer that shares the download with others started after
// it (a split stream's ranges): the transport's own receive buffer.
detail::TransferSettings Session::shared_settings() const {
  detail::TransferSettings settings = settings_;
  settings.receive_buffer = 0;
  return settings;
}

// A spooling fetcher: range `k` of the spool; its error, if any.
std::optional<Error> Session::fetch_to_spool(std::size_t index, detail::RangeSpool& spool, std::size_t k) {
  detail::TransferSettings settings = shared_settings();
  settings.hash = false;  // the writer digests every byte, in order, as it copies them out
  settings.write_on_thread = false;
  // Its pieces of kDirectWriteMin or more go straight to the spool; only the
  // rare small one is gathered (full-size blocks, three per fetcher, took
  // 0.7-0.9 MiB more peak memory than one file alone).
  settings.block_size = detail::kMinBlockSize;
  detail::SpoolOutput out(spool, k);
  bool ignored = false;
  return detail::fetch_range({.transport = transport_,
                              .clock = clock_,
                              .urls = *this,
                              .settings = settings,
                              .index = index,
                              .name = part_file_name(index)},
                             spool.range(k), out, ignored);
}

// The spooled ranges into `out`, in order, each as far as it is written.
Status Session::copy_spooled(std::size_t index, detail::RangeSpool& spool, FileOutput& out, FileState& state) {
  std::vector<char> buffer(detail::kReadChunk);
  const auto emit = [&](std::string_view chunk) {
    state.bytes += chunk.size();
    state.digest(chunk, settings_.hash);
    return out.write(chunk);
  };
  for (std::size_t k = 0; k < spool.count(); ++k) {
    const detail::ByteRange range = spool.range(k);
    for (std::uint64_t copied = 0; copied < range.length();) {
      auto held = spool.wait_beyond(k, copied);
      if (!held) return std::unexpected(held.error());
      const auto from = spool.offset_in_spool(range.start + copied);
      if (auto st = detail::read_range(spool.fd(), from, from + (*held - copied), "the temporary copy of a range",
                                       buffer, emit);
          !st) {
        return st;
      }
      copied = *held;
      report(index, state.bytes);
    }
  }
  return {};
}

Result<StreamedFile> Session::copy_fetched(std::size_t index, detail::FetchWindow& window, StreamedFile& file,
                                           StreamOutput& out) {
  if (auto error = window.wait_fetched(index)) return std::unexpected(std::move(*error));
  const auto temp = std::move(file.temp);  // closed (and gone) once copied
  auto st = detail::read_range(temp.get(), 0, file.record.size_in_bytes, "the temporary copy of " + file.record.name,
                               [&](std::string_view chunk) { return out.write(chunk); });
  if (!st) return std::unexpected(st.error());
  report(index, file.record.size_in_bytes);
  return std::move(file);
}

// A fetcher: takes the next files ahead of the writer into temporary files.
void Session::fetch_ahead(detail::FetchWindow& window, std::vector<StreamedFile>& fetched) {
  while (const auto index = window.claim_ahead()) {
    std::optional<Error> error;
    try {
      auto fd = detail::open_unlinked_temp(std::filesystem::temp_directory_path());
      if (!fd) {
        error = fd.error();
      } else {
        detail::TempOutput temp(std::move(*fd), window);
        FileState state = new_state();
        if (auto st = stream_file(*index, temp, state); !st) {
          error = st.error();
        } else if (auto valid = check_lines(*index, state); !valid) {
          error = valid.error();
        } else {
          fetched[*index] = StreamedFile{.record = record_of(*index, state), .last = state.last, .temp = temp.take()};
        }
      }
    } catch (const std::exception& e) {  // bad_alloc, or no usable temporary directory
      error = Error{.kind = ErrorKind::Io, .message = "fetching " + part_file_name(*index) + " ahead: " + e.what()};
    }
    window.finish(*index, std::move(error));
  }
}

}  // namespace

// --------------------------------------------------------------- public API

std::string part_file_name(std::size_t index) {
  std::string digits = std::to_string(index + 1);
  if (digits.size() < 3) digits.insert(0, 3 - digits.size(), '0');
  return "part-" + digits + ".jsonl";
}

std::string manifest_text(const Manifest& manifest) {
  // People read it: one key per line in a fixed order, one line per file.
  // Scope and Filters echo the server: written compactly, whatever their shape.
  const auto text = [](const json& value) { return to_compact_json(value); };
  const auto optional = [&](const std::string& value) { return value.empty() ? "null" : text(value); };
  std::string out = "{\n";
  out += "  \"ExportId\": " + text(manifest.export_id) + ",\n";
  out += "  \"EntityType\": " + text(manifest.entity_type) + ",\n";
  out += "  \"Scope\": " + text(manifest.scope) + ",\n";
  out += "  \"Filters\": " + text(manifest.filters) + ",\n";
  out += "  \"ExpiresUtc\": " + optional(manifest.expires_utc) + ",\n";
  out += "  \"CompletedUtc\": " + optional(manifest.completed_utc) + ",\n";
  out += "  \"Files\": [";
  for (std::size_t i = 0; i < manifest.files.size(); ++i) {
    const auto& f = manifest.files[i];
    out += i == 0 ? "\n" : ",\n";
    out += "    {\"Name\": " + text(f.name) + ", \"SizeInBytes\": " + std::to_string(f.size_in_bytes) +
           ", \"Sha256\": " + text(f.sha256) + ", \"Lines\": " + std::to_string(f.lines) + "}";
  }
  out += manifest.files.empty() ? "]\n}\n" : "\n  ]\n}\n";
  return out;
}

nlohmann::json to_json(const Manifest& manifest) {
  json files = json::array();
  for (const auto& f : manifest.files) {
    files.push_back({{"Name", f.name}, {"SizeInBytes", f.size_in_bytes}, {"Sha256", f.sha256}, {"Lines", f.lines}});
  }
  return json{
      {"ExportId", manifest.export_id},
      {"EntityType", manifest.entity_type},
      {"Scope", manifest.scope},
      {"Filters", manifest.filters},
      {"ExpiresUtc", manifest.expires_utc.empty() ? json(nullptr) : json(manifest.expires_utc)},
      {"CompletedUtc", manifest.completed_utc.empty() ? json(nullptr) : json(manifest.completed_utc)},
      {"Files", std::move(files)},
  };
}

Result<Manifest> parse_manifest(const nlohmann::json& object) {
  const auto bad = [](const std::string& what) { return fail(ErrorKind::Protocol, "invalid manifest: " + what); };
  if (!object.is_object()) return bad("not a JSON object");
  const auto string_field = [&](const char* key, bool required, std::string& out) -> bool {
    const auto it = object.find(key);
    if (it == object.end() || it->is_null()) return !required;
    if (!it->is_string()) return false;
    out = it->get<std::string>();
    return true;
  };
  Manifest manifest;
  if (!string_field("ExportId", true, manifest.export_id)) return bad("ExportId must be a string");
  if (!string_field("EntityType", false, manifest.entity_type)) return bad("EntityType must be a string");
  if (!string_field("ExpiresUtc", false, manifest.expires_utc)) return bad("ExpiresUtc must be a string");
  if (!string_field("CompletedUtc", false, manifest.completed_utc)) return bad("CompletedUtc must be a string");
  manifest.scope = object.value("Scope", json(nullptr));
  manifest.filters = object.value("Filters", json(nullptr));
  const auto files = object.find("Files");
  if (files == object.end() || !files->is_array()) return bad("Files must be an array");
  for (const auto& entry : *files) {
    if (!entry.is_object()) return bad("each of Files must be an object");
    FileRecord record;
    const auto name = entry.find("Name");
    const auto size = entry.find("SizeInBytes");
    const auto sha = entry.find("Sha256");
    const auto lines = entry.find("Lines");
    if (name == entry.end() || !name->is_string()) return bad("Files[].Name must be a string");
    if (size == entry.end() || !size->is_number_unsigned()) return bad("Files[].SizeInBytes must be a count");
    if (sha == entry.end() || !sha->is_string()) return bad("Files[].Sha256 must be a string");
    if (lines == entry.end() || !lines->is_number_unsigned()) return bad("Files[].Lines must be a count");
    record.name = name->get<std::string>();
    record.size_in_bytes = size->get<std::uint64_t>();
    record.sha256 = sha->get<std::string>();
    record.lines = lines->get<std::uint64_t>();
    manifest.files.push_back(std::move(record));
  }
  return manifest;
}

Downloader::Downloader(HttpTransport& transport, Clock& clock, UrlRefresher refresh)
    : transport_(transport), clock_(clock), refresh_(std::move(refresh)) {}

Result<DownloadResult> Downloader::download(const Export& exp, const DownloadOptions& options) {
  if (exp.status != ExportStatus::Success) {
    return fail(ErrorKind::ExportFailed,
                "export " + exp.id + " is " + status_name(exp) + ", not Success: there is nothing to download");
  }
  const int destinations =
      int{options.out_dir.has_value()} + int{options.out_stream != nullptr} + int{options.out_store.has_value()};
  if (destinations != 1) {
    return fail(ErrorKind::Usage, "download needs exactly one destination: a directory, a stream or an object store");
  }
  if (options.out_store && options.upload_state_dir.empty()) {
    return fail(ErrorKind::Usage, "an object-store download needs a directory for its upload state");
  }
  Session session(transport_, clock_, refresh_, exp, options);
  if (options.out_stream != nullptr) return session.to_stream(options.out_stream);
  if (options.out_store) return session.to_store(*options.out_store);
  return session.to_directory(*options.out_dir);
}

}  // namespace mews_export
