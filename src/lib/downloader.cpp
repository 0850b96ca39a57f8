// The downloader: per-file transfers with resume (Range), retries, shared URL
// refresh, and verification; a directory writer (parallel, manifest last) and
// a stream writer (sequential, newline-repaired).
#include "mews_export/downloader.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>
#include <utility>

#include <spdlog/spdlog.h>

#include "atomic_file.hpp"
#include "mews_export/cancel.hpp"
#include "mews_export/redact.hpp"
#include "mews_export/retry.hpp"
#include "mews_export/time.hpp"
#include "sha256.hpp"

namespace mews_export {
namespace {

// A file URL is valid for 10 minutes after the getAll that produced it; start
// (or resume) a transfer only with a URL younger than this.
constexpr auto kUrlMaxAge = std::chrono::minutes{9};
// Refreshes of one file's URL in a row, without any byte of progress, before giving up.
constexpr int kMaxRefreshesWithoutProgress = 3;

using nlohmann::json;

// ------------------------------------------------------------ per-file state

// '\n' in `chunk`; memchr is vectorised by glibc, std::count is not at -O2.
std::uint64_t count_newlines(std::string_view chunk) {
  std::uint64_t n = 0;
  const char* at = chunk.data();
  const char* const end = at + chunk.size();
  while (at < end) {
    const void* hit = std::memchr(at, '\n', static_cast<std::size_t>(end - at));
    if (hit == nullptr) break;
    ++n;
    at = static_cast<const char*>(hit) + 1;
  }
  return n;
}

// What has been accepted of one file so far: bytes, hash and newlines.
struct FileState {
  detail::Sha256 hash;
  std::uint64_t bytes = 0;
  std::uint64_t newlines = 0;
  char last = '\n';

  void add(std::string_view chunk) {
    if (chunk.empty()) return;
    hash.update(chunk);
    bytes += chunk.size();
    newlines += count_newlines(chunk);
    last = chunk.back();
  }
  // Records: newlines, plus a last line that lacks its '\n'.
  std::uint64_t lines() const { return newlines + (bytes > 0 && last != '\n' ? 1 : 0); }
};

// Where the accepted bytes of one file go.
class FileOutput {
 public:
  virtual ~FileOutput() = default;
  // Appends the next bytes of the file.
  virtual Status write(std::string_view chunk) = 0;
  // Forgets every byte written (false when impossible: a stream cannot take bytes back).
  virtual bool can_restart() const = 0;
  virtual Status restart() = 0;
  // Deletes what was written (data that must not be kept: too long).
  virtual void discard() = 0;
  // Where a resumed body waits until its status says where it belongs.
  virtual std::filesystem::path spill_dir() const = 0;
};

class PartOutput final : public FileOutput {
 public:
  explicit PartOutput(detail::PartFile& part) : part_(part) {}
  Status write(std::string_view chunk) override { return part_.append(chunk); }
  bool can_restart() const override { return true; }
  Status restart() override { return part_.truncate(0); }
  void discard() override { part_.discard(); }
  std::filesystem::path spill_dir() const override { return part_.final_path().parent_path(); }

 private:
  detail::PartFile& part_;
};

class StreamOutput final : public FileOutput {
 public:
  explicit StreamOutput(std::FILE* out) : out_(out) {}
  Status write(std::string_view chunk) override {
    if (chunk.empty()) return {};
    errno = 0;
    if (std::fwrite(chunk.data(), 1, chunk.size(), out_) != chunk.size() || std::ferror(out_) != 0) {
      return fail_write();
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
  std::filesystem::path spill_dir() const override {
    const char* tmp = std::getenv("TMPDIR");
    return (tmp != nullptr && *tmp != '\0') ? std::filesystem::path(tmp) : std::filesystem::path("/tmp");
  }

 private:
  static std::unexpected<Error> fail_write() {
    const int err = errno != 0 ? errno : EIO;
    return fail(ErrorKind::Io, std::string("cannot write to the output stream: ") + std::strerror(err));
  }
  std::FILE* out_;
};

double random01() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

std::optional<std::string> find_header(const HttpResponse& response, const std::string& name) {
  const auto it = response.headers.find(name);
  if (it == response.headers.end()) return std::nullopt;
  return it->second;
}

// START of "bytes START-END/TOTAL", or nullopt.
std::optional<std::uint64_t> content_range_start(std::string_view value) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (!value.starts_with("bytes ")) return std::nullopt;
  value.remove_prefix(6);
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  std::uint64_t start = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), start);
  if (ec != std::errc{} || end == value.data() + value.size() || *end != '-') return std::nullopt;
  return start;
}

std::string status_name(const Export& exp) {
  return exp.status_name.empty() ? std::string(to_string(exp.status)) : exp.status_name;
}

Error interrupted_error() {
  return Error{.kind = ErrorKind::Interrupted,
               .message = "interrupted; partial files are kept and resumed by the next download",
               .signal = cancel_signal()};
}

Error with_context(Error error, const std::string& what) {
  error.message = what + ": " + error.message;
  return error;
}

bool is_safe_component(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos;
}

json raw_or(const Export& exp, const char* key, json fallback) {
  if (exp.raw.is_object()) {
    const auto it = exp.raw.find(key);
    if (it != exp.raw.end()) return *it;
  }
  return fallback;
}

// The manifest in `dir` when it describes exactly `exp`'s files, all present with
// their recorded sizes; nullopt otherwise.
std::optional<Manifest> load_verified_manifest(const std::filesystem::path& dir, const Export& exp) {
  std::ifstream in(dir / kManifestName, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  const auto object = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded()) return std::nullopt;
  auto manifest = parse_manifest(object);
  if (!manifest || manifest->export_id != exp.id || manifest->files.size() != exp.files.size()) return std::nullopt;
  for (std::size_t i = 0; i < exp.files.size(); ++i) {
    const auto& record = manifest->files[i];
    if (record.name != part_file_name(i) || record.size_in_bytes != exp.files[i].size_in_bytes) return std::nullopt;
    std::error_code ec;
    const auto size = std::filesystem::file_size(dir / record.name, ec);
    if (ec || size != record.size_in_bytes) return std::nullopt;
  }
  return std::move(*manifest);
}

// Key order for manifest.json as people read it (nlohmann::json sorts keys).
std::string manifest_text(const Manifest& manifest) {
  const json plain = to_json(manifest);
  nlohmann::ordered_json out;
  for (const char* key : {"ExportId", "EntityType", "Scope", "Filters", "ExpiresUtc", "CompletedUtc"}) {
    out[key] = plain.at(key);
  }
  out["Files"] = nlohmann::ordered_json::array();
  for (const auto& f : manifest.files) {
    nlohmann::ordered_json entry;
    entry["Name"] = f.name;
    entry["SizeInBytes"] = f.size_in_bytes;
    entry["Sha256"] = f.sha256;
    entry["Lines"] = f.lines;
    out["Files"].push_back(std::move(entry));
  }
  return out.dump(2) + "\n";
}

// ------------------------------------------------------------------- session

// One download() call: the shared URL state and the per-file transfer loop.
class Session {
 public:
  Session(HttpTransport& transport, Clock& clock, const UrlRefresher& refresh, const Export& exp,
          const DownloadOptions& options)
      : transport_(transport),
        clock_(clock),
        refresh_(refresh),
        exp_(exp),
        options_(options),
        current_(exp),
        obtained_(clock.now()) {}

  Result<DownloadResult> to_directory(const std::filesystem::path& out_dir);
  Result<DownloadResult> to_stream(std::FILE* out);

 private:
  Status transfer(std::size_t index, FileOutput& out, FileState& state);
  Result<FileRecord> file_to_directory(std::size_t index, const std::filesystem::path& dir);
  Result<std::string> url_for(std::size_t index, std::uint64_t& generation);
  Status refresh_urls(std::size_t index, std::uint64_t seen_generation);
  Status refresh_locked(std::size_t index);
  Status check_file_locked(std::size_t index) const;
  void report(std::size_t index, std::uint64_t bytes);
  Manifest base_manifest() const;

  HttpTransport& transport_;
  Clock& clock_;
  const UrlRefresher& refresh_;
  const Export& exp_;
  const DownloadOptions& options_;

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
  spdlog::debug("fetched fresh file URLs for export {}", exp_.id);
  return check_file_locked(index);
}

Result<std::string> Session::url_for(std::size_t index, std::uint64_t& generation) {
  std::lock_guard lock(url_mutex_);
  if (refresh_ && clock_.now() - obtained_ >= kUrlMaxAge) {
    if (auto st = refresh_locked(index); !st) return std::unexpected(st.error());
  }
  if (auto st = check_file_locked(index); !st) return std::unexpected(st.error());
  generation = generation_;
  return current_.files[index].url;
}

// Only one refresh runs at a time; a worker whose URL was already replaced by
// another worker's refresh (the generation moved on) uses that result.
Status Session::refresh_urls(std::size_t index, std::uint64_t seen_generation) {
  std::lock_guard lock(url_mutex_);
  if (generation_ != seen_generation) return check_file_locked(index);
  return refresh_locked(index);
}

// Transfers file `index` into `out`, starting after the `state.bytes` already
// there, until it holds exactly SizeInBytes: resumes with Range requests,
// retries what is retryable, refreshes refused URLs.
Status Session::transfer(std::size_t index, FileOutput& out, FileState& state) {
  const std::string name = part_file_name(index);
  const std::uint64_t expected = exp_.files[index].size_in_bytes;
  const RetryPolicy& policy = options_.retry;
  const int max_attempts = std::max(1, policy.max_attempts);
  auto started = clock_.now();  // of the current run of failures (reset by progress)
  int failures = 0;
  int refreshes = 0;
  std::uint64_t high_water = state.bytes;

  const auto too_long = [&] {
    out.discard();
    return fail(ErrorKind::Verification, name + " of export " + exp_.id + " is longer than the announced " +
                                             std::to_string(expected) + " bytes (SizeInBytes); it was discarded");
  };
  const auto accept = [&](std::string_view chunk) -> Status {
    if (auto st = out.write(chunk); !st) return st;
    state.add(chunk);
    report(index, state.bytes);
    return {};
  };

  for (;;) {
    if (cancel_requested()) return std::unexpected(interrupted_error());
    if (state.bytes == expected) return {};

    std::uint64_t generation = 0;
    auto url = url_for(index, generation);
    if (!url) return std::unexpected(url.error());
    const std::string where = name + " (" + redact_url(*url) + ")";
    const std::uint64_t offset = state.bytes;

    HttpRequest request;
    request.url = *url;
    request.low_speed_time = options_.stall_timeout;
    // A resumed body goes to a scratch file first: only its status tells
    // whether it starts at `offset` (206) or at 0 (200, Range ignored).
    std::optional<detail::SpillFile> spill;
    if (offset > 0) {
      spdlog::debug("resuming {} at byte {} of {}", name, offset, expected);
      request.range_from = offset;
      auto created = detail::SpillFile::create(out.spill_dir());
      if (!created) return std::unexpected(created.error());
      spill = std::move(*created);
    }

    std::optional<Error> local_error;
    bool overflow = false;
    const BodySink sink = [&](std::string_view chunk) -> bool {
      if (cancel_requested()) return false;
      if (spill) {
        // Even a whole-file (200) body has at most `expected` bytes.
        if (spill->size() + chunk.size() > expected) {
          overflow = true;
          return false;
        }
        if (auto st = spill->append(chunk); !st) {
          local_error = st.error();
          return false;
        }
        report(index, std::min(expected, offset + spill->size()));
        return true;
      }
      if (state.bytes + chunk.size() > expected) {
        overflow = true;
        return false;
      }
      if (auto st = accept(chunk); !st) {
        local_error = st.error();
        return false;
      }
      return true;
    };

    auto response = transport_.perform(request, &sink);
    if (local_error) return std::unexpected(*local_error);
    if (cancel_requested()) return std::unexpected(interrupted_error());
    if (overflow) return too_long();

    Error failure;
    std::optional<std::chrono::seconds> retry_after;
    bool refused = false;
    bool short_body = false;  // a complete 2xx response with fewer bytes than announced
    if (!response) {
      failure = response.error();
      if (failure.kind == ErrorKind::Interrupted) {
        failure.signal = failure.signal != 0 ? failure.signal : cancel_signal();
        return std::unexpected(failure);
      }
      if (!is_retryable(failure)) return std::unexpected(with_context(failure, "downloading " + where));
    } else if (const int status = response->status; status >= 200 && status < 300) {
      if (spill) {
        std::optional<std::uint64_t> body_start = 0;
        if (status == 206) {
          const auto range = find_header(*response, "content-range");
          body_start = range ? content_range_start(*range) : std::nullopt;
        }
        if (body_start && *body_start <= offset) {
          bool replay_overflow = false;
          auto st = spill->read(offset - *body_start, [&](std::string_view chunk) -> Status {
            if (state.bytes + chunk.size() > expected) {
              replay_overflow = true;
              return fail(ErrorKind::Verification, "too long");
            }
            return accept(chunk);
          });
          if (replay_overflow) return too_long();
          if (!st) return st;
        } else {
          // A range that does not start where we asked: start again from 0 when we can.
          if (out.can_restart()) {
            if (auto st = out.restart(); !st) return st;
            state = FileState{};
          }
          failure =
              Error{.kind = ErrorKind::Network,
                    .message = "the server answered a request for bytes from " + std::to_string(offset) +
                               " with Content-Range '" + find_header(*response, "content-range").value_or("") + "'"};
        }
      }
      if (state.bytes == expected) return {};
      if (failure.message.empty()) {
        short_body = true;
        failure = Error{.kind = ErrorKind::Network,
                        .message = "the transfer ended after " + std::to_string(state.bytes) + " of " +
                                   std::to_string(expected) + " bytes"};
      }
    } else if (status == 403 || status == 404) {
      refused = true;
      failure = Error{.kind = ErrorKind::Http,
                      .message = "the file URL was refused (HTTP " + std::to_string(status) + ")",
                      .http_status = status};
    } else if (status == 416) {
      // We only send a Range below SizeInBytes: the server's file is shorter.
      if (out.can_restart()) {
        if (auto st = out.restart(); !st) return st;
        state = FileState{};
      }
      failure = Error{.kind = ErrorKind::Verification,
                      .message = "the server has fewer bytes than the announced " + std::to_string(expected),
                      .http_status = status};
    } else if (is_retryable_status(status)) {
      failure = Error{.kind = ErrorKind::Http, .message = "HTTP " + std::to_string(status), .http_status = status};
      if (const auto value = find_header(*response, "retry-after")) {
        retry_after = parse_retry_after(*value, std::chrono::floor<std::chrono::seconds>(clock_.now()));
        if (retry_after) failure.retry_after_seconds = static_cast<long>(retry_after->count());
      }
    } else {
      return std::unexpected(Error{.kind = ErrorKind::Http,
                                   .message = "downloading " + where + ": unexpected HTTP " + std::to_string(status),
                                   .http_status = status});
    }

    if (state.bytes > high_water) {  // progress resets the budgets (attempts and time)
      high_water = state.bytes;
      failures = 0;
      refreshes = 0;
      started = clock_.now();
    }

    if (refused) {
      if (++refreshes > kMaxRefreshesWithoutProgress) {
        return std::unexpected(with_context(failure, "downloading " + where + " still failed after " +
                                                         std::to_string(kMaxRefreshesWithoutProgress) + " fresh URLs"));
      }
      if (auto st = refresh_urls(index, generation); !st) return st;
      continue;
    }

    ++failures;
    const auto delay = next_delay(policy, failures, retry_after, random01());
    if (failures >= max_attempts || clock_.now() - started + delay > policy.max_total) {
      // A server that keeps sending fewer bytes than announced fails verification.
      if (short_body) failure.kind = ErrorKind::Verification;
      return std::unexpected(
          with_context(failure, "downloading " + where + " failed after " + std::to_string(failures) + " attempts"));
    }
    spdlog::warn("downloading {}: {}; retrying in {} (attempt {} of {})", where, failure.message,
                 format_duration(delay), failures + 1, max_attempts);
    if (!clock_.sleep_for(delay)) return std::unexpected(interrupted_error());
  }
}

Result<FileRecord> Session::file_to_directory(std::size_t index, const std::filesystem::path& dir) {
  const std::string name = part_file_name(index);
  const auto final_path = dir / name;
  const std::uint64_t expected = exp_.files[index].size_in_bytes;
  FileState state;

  std::error_code ec;
  const auto existing = std::filesystem::file_size(final_path, ec);
  if (!ec) {
    if (!options_.force && existing == expected) {
      // Completed by an earlier run (only verified files get their final name).
      auto st = detail::read_file_chunks(final_path, 0, [&](std::string_view chunk) { state.add(chunk); });
      if (!st) return std::unexpected(st.error());
      report(index, state.bytes);
      return FileRecord{
          .name = name, .size_in_bytes = state.bytes, .sha256 = state.hash.hex_digest(), .lines = state.lines()};
    }
    if (existing != expected) std::filesystem::remove(final_path, ec);  // not ours to trust
  }

  auto part = detail::PartFile::open(final_path);
  if (!part) return std::unexpected(part.error());
  if (options_.force || part->size() > expected) {
    if (auto st = part->truncate(0); !st) return std::unexpected(st.error());
  } else if (part->size() > 0) {
    // Resume: the hash and line count cover the bytes already there.
    if (auto st = part->read(0, [&](std::string_view chunk) { state.add(chunk); }); !st) {
      return std::unexpected(st.error());
    }
  }

  PartOutput out(*part);
  if (auto st = transfer(index, out, state); !st) return std::unexpected(st.error());
  if (auto st = part->finish(); !st) return std::unexpected(st.error());
  return FileRecord{
      .name = name, .size_in_bytes = state.bytes, .sha256 = state.hash.hex_digest(), .lines = state.lines()};
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

Result<DownloadResult> Session::to_directory(const std::filesystem::path& out_dir) {
  if (!is_safe_component(exp_.id)) {
    return fail(ErrorKind::Protocol, "the export id '" + exp_.id + "' cannot be used as a directory name");
  }
  const auto dir = out_dir / exp_.id;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return std::unexpected(detail::io_error("cannot create directory", dir, ec.value()));

  const auto manifest_path = dir / kManifestName;
  if (std::filesystem::exists(manifest_path, ec)) {
    if (!options_.force) {
      if (auto manifest = load_verified_manifest(dir, exp_)) {
        return DownloadResult{.directory = dir, .manifest = std::move(*manifest), .already_complete = true};
      }
    }
    // From here on the directory is incomplete until the new manifest lands.
    if (!std::filesystem::remove(manifest_path, ec) && ec) {
      return std::unexpected(detail::io_error("cannot remove", manifest_path, ec.value()));
    }
    if (auto st = detail::fsync_directory(dir); !st) return std::unexpected(st.error());
  }

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
  const auto work = [&] {
    while (!stop) {
      if (cancel_requested()) {
        record_error(interrupted_error());
        return;
      }
      const std::size_t index = next.fetch_add(1);
      if (index >= count) return;
      try {
        auto record = file_to_directory(index, dir);
        if (!record) {
          record_error(std::move(record.error()));
          return;
        }
        records[index] = std::move(*record);
      } catch (const std::exception& e) {
        record_error(Error{.kind = ErrorKind::Io, .message = "downloading " + part_file_name(index) + ": " + e.what()});
        return;
      }
    }
  };

  const auto workers = static_cast<std::size_t>(std::max(1, options_.parallel));
  if (workers <= 1 || count <= 1) {
    work();
  } else {
    std::vector<std::jthread> threads;
    threads.reserve(std::min(workers, count));
    for (std::size_t i = 0; i < std::min(workers, count); ++i) threads.emplace_back(work);
  }  // jthreads join here
  if (first_error) return std::unexpected(std::move(*first_error));

  Manifest manifest = base_manifest();
  manifest.completed_utc = format_utc(std::chrono::floor<std::chrono::seconds>(clock_.now()));
  manifest.files = std::move(records);
  if (auto st = detail::write_file_atomically(manifest_path, manifest_text(manifest)); !st) {
    return std::unexpected(st.error());
  }
  return DownloadResult{.directory = dir, .manifest = std::move(manifest), .already_complete = false};
}

Result<DownloadResult> Session::to_stream(std::FILE* stream) {
  StreamOutput out(stream);
  Manifest manifest = base_manifest();
  for (std::size_t index = 0; index < exp_.files.size(); ++index) {
    if (cancel_requested()) return std::unexpected(interrupted_error());
    FileState state;
    if (auto st = transfer(index, out, state); !st) {
      (void)out.flush();  // what was verified so far reaches the reader
      return std::unexpected(st.error());
    }
    if (state.bytes > 0 && state.last != '\n') {
      if (auto st = out.write("\n"); !st) return std::unexpected(st.error());
    }
    manifest.files.push_back(FileRecord{.name = part_file_name(index),
                                        .size_in_bytes = state.bytes,
                                        .sha256 = state.hash.hex_digest(),
                                        .lines = state.lines()});
  }
  if (auto st = out.flush(); !st) return std::unexpected(st.error());
  manifest.completed_utc = format_utc(std::chrono::floor<std::chrono::seconds>(clock_.now()));
  return DownloadResult{.directory = {}, .manifest = std::move(manifest), .already_complete = false};
}

}  // namespace

// --------------------------------------------------------------- public API

std::string part_file_name(std::size_t index) {
  std::string digits = std::to_string(index + 1);
  if (digits.size() < 3) digits.insert(0, 3 - digits.size(), '0');
  return "part-" + digits + ".jsonl";
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
  if (options.out_dir.has_value() == (options.out_stream != nullptr)) {
    return fail(ErrorKind::Usage, "download needs exactly one destination: a directory or a stream");
  }
  Session session(transport_, clock_, refresh_, exp, options);
  if (options.out_stream != nullptr) return session.to_stream(options.out_stream);
  return session.to_directory(*options.out_dir);
}

}  // namespace mews_export
