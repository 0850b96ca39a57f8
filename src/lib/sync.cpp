// Incremental sync of one job: windows from the bookmark to now, each one a
// run_job() into its own directory, announced in sync.jsonl, then the
// bookmark moved (in that order: a reader may see a window twice after a
// crash, never miss one).
#include "mews_export/sync.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <thread>

#include "atomic_file.hpp"
#include "files.hpp"
#include "mews_export/untrusted.hpp"
#include "mews_export/validate.hpp"
#include "s3_client.hpp"
#include "sha256.hpp"

namespace mews_export {
namespace {

using nlohmann::json;
using std::chrono::days;

constexpr const char* kSyncFile = "sync.jsonl";
constexpr std::size_t kMaxBookmarkBytes = 1024 * 1024;
constexpr std::size_t kMaxSyncFileBytes = std::size_t{256} << 20;

UtcTime midnight(UtcTime t) { return std::chrono::floor<days>(t); }

std::string compact_date(UtcTime t) {
  std::string date = format_date(t);
  date.erase(std::remove(date.begin(), date.end(), '-'), date.end());
  return date;
}

std::optional<SyncWindow> next_updated_window(std::optional<UtcTime> from, UtcTime now) {
  const UtcTime end = std::chrono::floor<std::chrono::seconds>(now - kMinEndAge - kClockSkewMargin);
  if (!from) return SyncWindow{.start = std::nullopt, .end = now - kMinEndAge, .posting = false};
  if (*from >= end) return std::nullopt;
  return SyncWindow{.start = from, .end = std::min(end, *from + kMaxUpdatedSpan), .posting = false};
}

std::optional<SyncWindow> next_posting_window(std::optional<UtcTime> from, UtcTime now, bool from_is_since) {
  if (!from) return std::nullopt;  // LedgerEntry needs a first date
  const UtcTime first = from_is_since ? midnight(*from) : midnight(*from) + days{1};
  const UtcTime yesterday = midnight(now) - days{1};
  if (first > yesterday) return std::nullopt;
  return SyncWindow{.start = first, .end = std::min(yesterday, first + kMaxUpdatedSpan - days{1}), .posting = true};
}

Error with_export(Error error, const std::string& id) {
  if (error.export_id.empty()) error.export_id = id;
  return error;
}

// A job's bookmark identity, from its journal key.
Bookmark bookmark_key(const JobKey& key) {
  return Bookmark{.platform = key.platform,
                  .token_fingerprint = key.token_fingerprint,
                  .entity_type = key.entity_type,
                  .enterprise_ids = key.enterprise_ids,
                  .chain_ids = key.chain_ids};
}

// Cuts a half line (no final '\n') left by a crash off the end of `fd`.
Status repair_tail(int fd, const std::filesystem::path& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return std::unexpected(detail::io_error("cannot read", path, errno));
  std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
  char last = '\n';
  while (size > 0 && ::pread(fd, &last, 1, static_cast<off_t>(size - 1)) == 1 && last != '\n') --size;
  if (size == static_cast<std::uint64_t>(st.st_size)) return {};
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0)
    return std::unexpected(detail::io_error("cannot repair", path, errno));
  return {};
}

// Our unfinished export of this job that starts where `window` starts (an
// interrupted sync): finishing it, with its own end, beats adding another.
Status adopt_unfinished(const AddArguments& args, SyncWindow& window, const Services& services) {
  AddArguments probe = args;
  probe.updated_to.reset();
  probe.posting_to.reset();  // any end
  auto key = job_key(probe, services);
  if (!key) return std::unexpected(key.error());
  auto journal = Journal::open(services.state_dir);
  if (!journal) return std::unexpected(journal.error());
  const auto entry = journal->find_unfinished(*key);
  if (!entry) return {};
  if (!window.start) {
    // A full export: its window ends when it was requested, less five minutes.
    if (const auto created = parse_utc(entry->created_utc)) window.end = *created - kMinEndAge;
  } else if (const auto& to = window.posting ? entry->key.posting_to : entry->key.updated_to) {
    if (const auto end = window.posting ? parse_date(*to) : parse_utc(*to)) window.end = *end;
  }
  return {};
}

// One sync window: its export (re-attached when our unfinished one covers it)
// downloaded into its directory. `window` ends where that export ends.
Result<JobResult> export_window(const SyncSpec& spec, SyncWindow& window, const Services& services) {
  AddArguments args = window.arguments(spec.entity);
  args.enterprise_ids = spec.enterprise_ids;
  args.chain_ids = spec.chain_ids;
  if (auto ok = adopt_unfinished(args, window, services); !ok) return std::unexpected(ok.error());
  const AddArguments final_args = [&] {
    AddArguments a = window.arguments(spec.entity);
    a.enterprise_ids = spec.enterprise_ids;
    a.chain_ids = spec.chain_ids;
    return a;
  }();
  const JobSpec job{.args = final_args,
                    .output = DownloadSpec{.out_dir = spec.out_store ? std::nullopt : std::optional(spec.out_dir),
                                           .out_store = spec.out_store,
                                           .parallel = spec.parallel,
                                           .split = spec.split,
                                           .validate = spec.validate,
                                           .directory = window.directory_name()},
                    .wait = spec.wait,
                    .lock_held = true};
  return run_job(job, services);
}

SyncLine line_of(const SyncSpec& spec, const SyncWindow& window, const JobResult& result) {
  SyncLine line{.entity_type = std::string(to_string(spec.entity)),
                .export_id = result.exp.id,
                .window = window,
                .directory = window.directory_name(),
                .completed_utc = result.download.manifest.completed_utc};
  for (const auto& f : result.download.manifest.files) {
    line.files.push_back(f.name);
    line.size_in_bytes += f.size_in_bytes;
    line.lines += f.lines;
  }
  return line;
}

std::string output_name(const SyncSpec& spec) {
  return spec.out_store ? spec.out_store->display() : spec.out_dir.string();
}

s3::Client store_client(const S3Location& location, const Services& services) {
  return s3::Client(services.transport, services.clock, location.store,
                    s3::ClientOptions{.retry = services.api.options().retry,
                                      .allow_insecure_http = services.allow_insecure_http,
                                      .on_retry = services.on_retry,
                                      .stall_timeout = services.stall_timeout});
}

// The last EndUtc of the sync.jsonl object under `location` (nullopt
// without one, or when it cannot be read: the bookmark decides then).
std::optional<UtcTime> last_synced_end_in(const S3Location& location, const Services& services) {
  auto client = store_client(location, services);
  auto text = client.get_object(location.bucket, location.key(kSyncFile), kMaxSyncFileBytes);
  if (!text || !*text) return std::nullopt;
  return last_synced_end_of(**text);
}

// Objects cannot be appended to: sync.jsonl is read, the line added after
// its last whole line, and the object written again whole (one PutObject:
// readers see the old or the new version, never a half line).
Status append_sync_line_in(const S3Location& location, const SyncLine& line, const Services& services) {
  auto client = store_client(location, services);
  const std::string key = location.key(kSyncFile);
  auto text = client.get_object(location.bucket, key, kMaxSyncFileBytes);
  if (!text) return std::unexpected(text.error());
  std::string content = text->value_or("");
  content.resize(content.empty() ? 0 : content.rfind('\n') + 1);  // never after a half line (npos + 1 == 0)
  content += to_json(line).dump() + "\n";
  return client.put_object(location.bucket, key, std::move(content));
}

// Where the sync resumes: the bookmark, unless sync.jsonl already announces
// a later window (a crash between the announcement and the bookmark).
std::optional<UtcTime> resume_point(const SyncSpec& spec, const std::optional<Bookmark>& bookmark,
                                    const Services& services) {
  std::optional<UtcTime> from = bookmark ? std::optional(bookmark->end) : std::nullopt;
  const auto announced = spec.out_store ? last_synced_end_in(*spec.out_store, services) : last_synced_end(spec.out_dir);
  if (from && announced && *announced > *from) {
    if (services.on_notice) {
      services.on_notice(Notice{.level = Notice::Level::Warning,
                                .message = "sync.jsonl in " + output_name(spec) + " already announces a window to " +
                                           format_utc(*announced) + "; continuing from there"});
    }
    from = announced;
  }
  return from;
}

}  // namespace

std::string compact_utc(UtcTime t) {
  std::string text = format_utc(t);  // 2026-01-01T00:00:00Z
  text.erase(std::remove_if(text.begin(), text.end(), [](char c) { return c == '-' || c == ':'; }), text.end());
  return text;
}

std::string SyncWindow::directory_name() const {
  if (posting) return compact_date(*start) + "_" + compact_date(end);
  return (start ? compact_utc(*start) : std::string("beginning")) + "_" + compact_utc(end);
}

AddArguments SyncWindow::arguments(EntityType entity) const {
  AddArguments args{.entity = std::string(to_string(entity))};
  if (posting) {
    args.posting_from = format_date(*start);
    args.posting_to = format_date(end);
  } else if (start) {
    args.updated_from = format_utc(*start);
    args.updated_to = format_utc(end);
  }
  return args;
}

std::optional<SyncWindow> next_window(std::optional<UtcTime> from, UtcTime now, bool posting, bool from_is_since) {
  return posting ? next_posting_window(from, now, from_is_since) : next_updated_window(from, now);
}

std::string Bookmark::file_name() const {
  std::string identity = platform + '\n' + token_fingerprint + '\n' + entity_type;
  for (const auto& id : enterprise_ids) identity += "\ne:" + id;
  for (const auto& id : chain_ids) identity += "\nc:" + id;
  return detail::sha256_hex(identity).substr(0, 24) + ".json";
}

json to_json(const Bookmark& b) {
  return {{"Platform", b.platform},      {"TokenFingerprint", b.token_fingerprint},
          {"EntityType", b.entity_type}, {"EnterpriseIds", b.enterprise_ids},
          {"ChainIds", b.chain_ids},     {"EndUtc", format_utc(b.end)},
          {"ExportId", b.export_id},     {"UpdatedUtc", b.updated_utc}};
}

Result<Bookmark> parse_bookmark(const json& object) {
  try {
    Bookmark b;
    b.platform = object.at("Platform").get<std::string>();
    b.token_fingerprint = object.at("TokenFingerprint").get<std::string>();
    b.entity_type = object.at("EntityType").get<std::string>();
    b.enterprise_ids = object.value("EnterpriseIds", std::vector<std::string>{});
    b.chain_ids = object.value("ChainIds", std::vector<std::string>{});
    const auto end = parse_utc(object.at("EndUtc").get<std::string>());
    if (!end) return fail(ErrorKind::Protocol, "bookmark: EndUtc is not a time");
    b.end = *end;
    b.export_id = object.value("ExportId", "");
    b.updated_utc = object.value("UpdatedUtc", "");
    return b;
  } catch (const json::exception& e) {
    return fail(ErrorKind::Protocol, std::string("malformed bookmark: ") + e.what());
  }
}

Result<BookmarkStore> BookmarkStore::open(const std::filesystem::path& state_dir) {
  auto journal = Journal::open(state_dir);  // creates the state dir privately
  if (!journal) return std::unexpected(journal.error());
  BookmarkStore store;
  store.dir_ = state_dir / "bookmarks";
  if (::mkdir(store.dir_.c_str(), 0700) != 0 && errno != EEXIST) {
    return std::unexpected(detail::io_error("cannot create directory", store.dir_, errno));
  }
  return store;
}

Result<std::optional<Bookmark>> BookmarkStore::load(const Bookmark& key) const {
  const auto path = dir_ / key.file_name();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::optional<Bookmark>{};
  auto text = detail::read_regular_file(path, kMaxBookmarkBytes);
  if (!text) return std::unexpected(text.error());
  auto object = parse_untrusted_json(*text);
  if (!object) return std::unexpected(detail::io_error("cannot read bookmark", path, EINVAL));
  auto bookmark = parse_bookmark(*object);
  if (!bookmark) return std::unexpected(bookmark.error());
  return std::optional(std::move(*bookmark));
}

Status BookmarkStore::save(const Bookmark& bookmark) const {
  const auto path = dir_ / bookmark.file_name();
  if (auto ok = detail::write_file_atomically(path, to_json(bookmark).dump(2) + "\n"); !ok) return ok;
  ::chmod(path.c_str(), 0600);
  return {};
}

Status BookmarkStore::remove(const Bookmark& key) const {
  const auto path = dir_ / key.file_name();
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return std::unexpected(detail::io_error("cannot remove", path, errno));
  return detail::fsync_directory(dir_);
}

json to_json(const SyncLine& line) {
  json out = {{"EntityType", line.entity_type},
              {"ExportId", line.export_id},
              {"StartUtc", line.window.start ? json(format_utc(*line.window.start)) : json(nullptr)},
              {"EndUtc", format_utc(line.window.end)},
              {"Directory", line.directory},
              {"Files", line.files},
              {"SizeInBytes", line.size_in_bytes},
              {"Lines", line.lines},
              {"CompletedUtc", line.completed_utc}};
  if (line.window.posting) {
    out["PostingStart"] = format_date(*line.window.start);
    out["PostingEnd"] = format_date(line.window.end);
  }
  return out;
}

Status append_sync_line(const std::filesystem::path& dir, const SyncLine& line) {
  auto directory = detail::Directory::open(dir);
  if (!directory) return std::unexpected(directory.error());
  auto file = directory->open_file(kSyncFile, O_RDWR | O_APPEND | O_CREAT);
  if (!file) return std::unexpected(file.error());
  const auto path = dir / kSyncFile;
  if (auto ok = repair_tail(file->get(), path); !ok) return ok;
  const std::string text = to_json(line).dump() + "\n";
  const ssize_t n = ::write(file->get(), text.data(), text.size());
  if (n != static_cast<ssize_t>(text.size())) {
    const int err = n < 0 ? errno : ENOSPC;
    (void)repair_tail(file->get(), path);  // a short write must not stay as a half line
    return std::unexpected(detail::io_error("cannot append to", path, err));
  }
  if (const int err = detail::fsync_fd(file->get()); err != 0) {
    return std::unexpected(detail::io_error("cannot sync", path, err));
  }
  return {};
}

std::optional<UtcTime> last_synced_end(const std::filesystem::path& dir) {
  auto directory = detail::Directory::open(dir);
  if (!directory) return std::nullopt;
  auto text = directory->read_file(kSyncFile, kMaxSyncFileBytes);
  if (!text) return std::nullopt;
  return last_synced_end_of(*text);
}

std::optional<UtcTime> last_synced_end_of(std::string_view text) {
  const auto end = text.rfind('\n', text.size() > 1 ? text.size() - 2 : 0);
  const auto start = end == std::string::npos ? 0 : end + 1;
  const auto line = parse_untrusted_json(text.substr(start));
  if (!line || !line->is_object() || !line->contains("EndUtc") || !(*line)["EndUtc"].is_string()) return std::nullopt;
  return parse_utc((*line)["EndUtc"].get<std::string>());
}

// The bookmark this run starts from, after --reset; a Usage error when
// --since or its absence does not fit the job's state.
Result<std::optional<Bookmark>> starting_bookmark(const SyncSpec& spec, const BookmarkStore& store,
                                                  const Bookmark& identity) {
  auto bookmark = store.load(identity);
  if (!bookmark) return std::unexpected(bookmark.error());
  if (*bookmark && spec.since && !spec.reset) {
    return fail(ErrorKind::Usage, "--since is for a first sync, and " + identity.entity_type +
                                      " already has a bookmark (synced up to " + format_utc((*bookmark)->end) +
                                      "); pass --reset as well to start again from --since");
  }
  if (spec.reset && *bookmark) {
    if (auto ok = store.remove(identity); !ok) return std::unexpected(ok.error());
    bookmark->reset();
  }
  if (spec.entity == EntityType::LedgerEntry && !*bookmark && !spec.since) {
    return fail(ErrorKind::Usage, "the first sync of LedgerEntry needs --since DATE (its first posting date)");
  }
  return bookmark;
}

// A window is done: its line is appended to sync.jsonl, then the bookmark
// moves to its end (after a crash between the two, resume_point continues
// from what sync.jsonl announces).
Status announce_window(const SyncSpec& spec, const SyncWindow& window, const JobResult& done,
                       const BookmarkStore& store, const Bookmark& identity, const Services& services) {
  const SyncLine line = line_of(spec, window, done);
  if (auto ok =
          spec.out_store ? append_sync_line_in(*spec.out_store, line, services) : append_sync_line(spec.out_dir, line);
      !ok) {
    return std::unexpected(with_export(ok.error(), done.exp.id));
  }
  Bookmark moved = identity;
  moved.end = window.end;
  moved.export_id = done.exp.id;
  moved.updated_utc = format_utc(utc_now(services.clock));
  if (auto ok = store.save(moved); !ok) return std::unexpected(with_export(ok.error(), done.exp.id));
  return {};
}

void count_window(SyncResult& result, const JobResult& done) {
  ++result.windows;
  for (const auto& f : done.download.manifest.files) {
    ++result.files;
    result.size_in_bytes += f.size_in_bytes;
    result.lines += f.lines;
  }
}

Result<SyncResult> sync_job(const SyncSpec& spec, const Services& services) {
  const bool posting = spec.entity == EntityType::LedgerEntry;
  auto key = job_key(AddArguments{.entity = std::string(to_string(spec.entity)),
                                  .enterprise_ids = spec.enterprise_ids,
                                  .chain_ids = spec.chain_ids},
                     services);
  if (!key) return std::unexpected(key.error());
  auto store = BookmarkStore::open(services.state_dir);
  if (!store) return std::unexpected(store.error());
  auto lock = JobLock::acquire(services.state_dir, key->lock_name(), spec.wait_lock, services.clock);
  if (!lock) return std::unexpected(lock.error());

  const Bookmark identity = bookmark_key(*key);
  auto bookmark = starting_bookmark(spec, *store, identity);
  if (!bookmark) return std::unexpected(bookmark.error());
  if (!spec.out_store) {
    std::error_code ec;
    std::filesystem::create_directories(spec.out_dir, ec);
    if (ec) return std::unexpected(detail::io_error("cannot create directory", spec.out_dir, ec.value()));
  }

  SyncResult result;
  std::optional<UtcTime> from = *bookmark ? resume_point(spec, *bookmark, services) : spec.since;
  bool from_is_since = !*bookmark && spec.since.has_value();
  // Every window of this run ends by `now` as it was at the start: a slow
  // window does not drag a sliver of a window after it.
  const UtcTime now = utc_now(services.clock);
  while (auto window = next_window(from, now, posting, from_is_since)) {
    auto done = export_window(spec, *window, services);
    if (!done) return std::unexpected(done.error());
    if (auto ok = announce_window(spec, *window, *done, *store, identity, services); !ok) {
      return std::unexpected(ok.error());
    }
    count_window(result, *done);
    from = window->end;
    from_is_since = false;
  }
  return result;
}

std::vector<SyncOutcome> run_sync_jobs(const std::vector<SyncJob>& jobs, int max_concurrent) {
  std::vector<SyncOutcome> outcomes(jobs.size());
  std::atomic<std::size_t> next{0};
  const auto work = [&] {
    for (std::size_t i = next++; i < jobs.size(); i = next++) {
      const auto started = std::chrono::steady_clock::now();
      auto& out = outcomes[i];
      out.profile = jobs[i].spec.profile;
      out.entity = jobs[i].spec.entity;
      try {
        out.result = jobs[i].services ? sync_job(jobs[i].spec, **jobs[i].services)
                                      : Result<SyncResult>(std::unexpected(jobs[i].services.error()));
      } catch (const std::exception& e) {  // std::bad_alloc included: this job fails, the others go on
        out.result =
            std::unexpected(Error{.kind = ErrorKind::Io, .message = std::string("internal error: ") + e.what()});
      }
      out.duration = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    }
  };
  const auto workers = std::min<std::size_t>(static_cast<std::size_t>(std::max(1, max_concurrent)), jobs.size());
  std::vector<std::jthread> threads;
  for (std::size_t i = 1; i < workers; ++i) threads.emplace_back(work);
  work();
  return outcomes;
}

int sync_exit_code(const std::vector<SyncOutcome>& outcomes) {
  std::optional<int> shared;
  for (const auto& o : outcomes) {
    if (o.result) continue;
    const int code = exit_code(o.result.error());
    if (shared && *shared != code) return 1;
    shared = code;
  }
  return shared.value_or(0);
}

std::vector<std::string> shard_profiles(const std::vector<std::string>& sorted, int index, int count) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    if (count > 0 && static_cast<int>(i % static_cast<std::size_t>(count)) == index) out.push_back(sorted[i]);
  }
  return out;
}

}  // namespace mews_export
