// Incremental sync: for one job (a profile's token and one entity type), the
// windows of what changed since its bookmark — Filters.UpdatedUtc intervals of
// at most 180 days ending five minutes ago, or whole posting dates for
// LedgerEntry — each exported, downloaded into its own directory, announced by
// one line of sync.jsonl, and only then the bookmark moved.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "mews_export/error.hpp"
#include "mews_export/job.hpp"
#include "mews_export/model.hpp"
#include "mews_export/object_store.hpp"
#include "mews_export/time.hpp"

namespace mews_export {

// One window of a sync.
struct SyncWindow {
  // UpdatedUtc windows: [start, end], start nullopt for the first, full export
  // (no filter), whose end is the time of its request minus five minutes.
  // Posting windows (LedgerEntry): whole dates, [start, end] at midnight UTC.
  std::optional<UtcTime> start;
  UtcTime end{};
  bool posting = false;

  // "20260101T000000Z_20260201T000000Z", "beginning_20260101T000000Z";
  // posting windows "20260101_20260131".
  std::string directory_name() const;
  // The add arguments that export this window of `entity` (scope added by the caller).
  AddArguments arguments(EntityType entity) const;
};

// Pure: the next window after `from` (the bookmark, or --since; nullopt: a
// full export) as of `now`, or nullopt when there is nothing to export yet.
// UpdatedUtc windows end five minutes (and the clock-skew margin) ago and
// span at most 180 days; posting windows start the day after `from` (a
// bookmark's last date; with `since_date`, `from` itself) and end yesterday.
std::optional<SyncWindow> next_window(std::optional<UtcTime> from, UtcTime now, bool posting, bool from_is_since);

// "20260101T000000Z"
std::string compact_utc(UtcTime t);

// Where a job's sync resumes: the end of its last complete window.
struct Bookmark {
  std::string platform;
  std::string token_fingerprint;
  std::string entity_type;
  std::vector<std::string> enterprise_ids;  // sorted
  std::vector<std::string> chain_ids;       // sorted
  UtcTime end{};                            // UpdatedUtc: the next StartUtc; posting: the last date exported
  std::string export_id;                    // of the window that moved it
  std::string updated_utc;                  // when it was written

  // The file name of this job's bookmark (a hash of platform, token, entity and scope).
  std::string file_name() const;
};

nlohmann::json to_json(const Bookmark& bookmark);
Result<Bookmark> parse_bookmark(const nlohmann::json& object);

// Bookmarks under <state_dir>/bookmarks/, one JSON file each, written atomically.
class BookmarkStore {
 public:
  static Result<BookmarkStore> open(const std::filesystem::path& state_dir);
  // The bookmark of the job `key` names (its platform, token, entity and scope
  // fields are what count), or nullopt.
  Result<std::optional<Bookmark>> load(const Bookmark& key) const;
  Status save(const Bookmark& bookmark) const;
  Status remove(const Bookmark& key) const;

 private:
  std::filesystem::path dir_;
};

// The line that announces a complete window in DIR/<EntityType>/sync.jsonl.
struct SyncLine {
  std::string entity_type;
  std::string export_id;
  SyncWindow window;
  std::string directory;  // relative to DIR/<EntityType>/
  std::vector<std::string> files;
  std::uint64_t size_in_bytes = 0;
  std::uint64_t lines = 0;
  std::string completed_utc;  // the manifest's CompletedUtc
};
nlohmann::json to_json(const SyncLine& line);

// Appends `line` to the sync.jsonl in `dir` with one write, then fsync; a
// half line a crash left at the end is cut off first, so readers only ever
// see whole lines. Io on failure.
Status append_sync_line(const std::filesystem::path& dir, const SyncLine& line);
// The EndUtc of the last line of `dir`/sync.jsonl (nullopt without one).
std::optional<UtcTime> last_synced_end(const std::filesystem::path& dir);
// The EndUtc of the last whole line of a sync.jsonl's `text`.
std::optional<UtcTime> last_synced_end_of(std::string_view text);

// One sync job.
struct SyncSpec {
  std::string profile = "default";
  EntityType entity = EntityType::Unknown;
  std::vector<std::string> enterprise_ids;
  std::vector<std::string> chain_ids;
  std::optional<UtcTime> since;         // with no bookmark: start here (posting: this date) instead of a full export
  bool reset = false;                   // forget the bookmark first (needed to use `since` when there is one)
  std::filesystem::path out_dir;        // DIR/<EntityType> (or DIR/<profile>/<EntityType>) ...
  std::optional<S3Location> out_store;  // ... or s3://BUCKET/PREFIX/<EntityType> (then out_dir is unused)
  int parallel = 4;
  int split = 4;          // DownloadOptions::split
  bool validate = false;  // DownloadOptions::validate
  WaitOptions wait;
  bool wait_lock = false;
};

struct SyncResult {
  int windows = 0;
  std::uint64_t files = 0;
  std::uint64_t size_in_bytes = 0;
  std::uint64_t lines = 0;
};

// Exports every window from the job's bookmark to now, one after another
// (one pending export per type), under the job's lock. A window that fails
// stops the job; its bookmark stays, so the next sync repeats it — or
// finishes its export, re-attached through the journal. Errors: Usage for
// `since` with a bookmark (unless `reset`) or LedgerEntry without one,
// Locked, and whatever a window fails with (Error::export_id set).
Result<SyncResult> sync_job(const SyncSpec& spec, const Services& services);

// A job of a sync over many: its spec and the services of its profile (or
// the error that kept them from being built: bad settings, an unreadable token).
struct SyncJob {
  SyncSpec spec;
  Result<const Services*> services = std::unexpected(Error{});
};

struct SyncOutcome {
  std::string profile;
  EntityType entity = EntityType::Unknown;
  Result<SyncResult> result = std::unexpected(Error{});
  std::chrono::milliseconds duration{0};
};

// Runs every job, at most `max_concurrent` at a time; a failing job never
// stops the others. Outcomes in the order of `jobs`.
std::vector<SyncOutcome> run_sync_jobs(const std::vector<SyncJob>& jobs, int max_concurrent);

// 0 when every job succeeded; the failed jobs' exit code when they all share
// one; else 1.
int sync_exit_code(const std::vector<SyncOutcome>& outcomes);

// The profiles to work on of `sorted` (sorted bytewise): those whose 0-based
// position is `index` modulo `count` (--shard I/N).
std::vector<std::string> shard_profiles(const std::vector<std::string>& sorted, int index, int count);

}  // namespace mews_export
