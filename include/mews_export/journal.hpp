// The local journal of exports this machine started, and the per-job lock.
// The API cannot list exports, so the journal is how `run` re-attaches to its
// own unfinished export after a crash, and how `list` knows what we started.
// One JSON file per export, each written atomically (temp + fsync + rename),
// so no entry is ever half written and concurrent processes never clash.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mews_export/clock.hpp"
#include "mews_export/config.hpp"
#include "mews_export/error.hpp"
#include "mews_export/model.hpp"
#include "mews_export/unique_fd.hpp"
#include "mews_export/validate.hpp"

namespace mews_export {

// What identifies "the same export job": compared as the user gave it.
struct JobKey {
  std::string platform;                     // base URL
  std::string token_fingerprint;            // token_fingerprint(client token + access token), never a token
  std::string entity_type;                  // canonical
  std::vector<std::string> enterprise_ids;  // sorted
  std::vector<std::string> chain_ids;       // sorted
  std::optional<std::string> updated_from;  // normalised "YYYY-MM-DDThh:mm:ssZ"
  std::optional<std::string> updated_to;    // as given (normalised); nullopt when omitted
  std::optional<std::string> posting_from;
  std::optional<std::string> posting_to;

  // True when an export started for `recorded` serves a request for *this:
  // all fields equal, except that an omitted updated_to (or posting_to) matches any.
  bool matches(const JobKey& recorded) const;
  // Platform + token + entity: what the lock serialises.
  std::string lock_name() const;
};

// The fingerprint of a pair of tokens, as the journal and lock names use it.
std::string credentials_fingerprint(const std::string& client_token, const std::string& access_token);

// Builds the key of a validated request.
JobKey make_job_key(const std::string& platform, const std::string& client_token, const std::string& access_token,
                    const AddArguments& args, const AddExportRequest& request);

struct JournalEntry {
  std::string id;
  JobKey key;
  ExportStatus status = ExportStatus::Unknown;  // the last status we saw; NotFound: getAll no longer lists it
  std::string created_utc;
  std::string updated_utc;
  std::string output;       // the output directory, or "-" for stdout
  bool downloaded = false;  // every file verified on disk (or streamed)

  // Unfinished: not downloaded, and not Failed, Expired or NotFound (forgotten by the API).
  bool unfinished() const;
  // The entry of a new export `created` for `key`, now.
  static JournalEntry created(const Export& created, const JobKey& key, const std::string& output, UtcTime now);
};

nlohmann::json to_json(const JournalEntry& entry);
Result<JournalEntry> parse_journal_entry(const nlohmann::json& object);

class Journal {
 public:
  // Uses `state_dir` (created with mode 0700 when missing).
  static Result<Journal> open(const std::filesystem::path& state_dir);

  // Writes (or replaces) the entry of `entry.id` atomically, mode 0600.
  Status record(const JournalEntry& entry);
  // All entries, newest first (by created_utc, then id). Unreadable files are skipped with no error.
  std::vector<JournalEntry> entries() const;
  // The newest unfinished entry whose key `key` matches.
  std::optional<JournalEntry> find_unfinished(const JobKey& key) const;
  // The entry of export `id` (compared without regard to case), if any.
  std::optional<JournalEntry> find(const std::string& id) const;

  const std::filesystem::path& directory() const { return dir_; }

 private:
  std::filesystem::path dir_;
};

// The default state directory: $XDG_STATE_HOME/mews-export, else
// ~/.local/state/mews-export (MEWS_EXPORT_STATE_DIR and --state-dir are
// settings: see settings.hpp).
std::filesystem::path default_state_dir(const EnvLookup& env = process_env);

// An exclusive advisory lock (flock) on <state_dir>/locks/<name>.lock, released
// on destruction or process death (so a crashed run never leaves it stuck).
class JobLock {
 public:
  // Returns the lock, or Locked when another process holds it. With `wait`, polls
  // every second through `clock` until it is free (Interrupted on cancellation).
  static Result<JobLock> acquire(const std::filesystem::path& state_dir, const std::string& name, bool wait,
                                 Clock& clock);

 private:
  explicit JobLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;  // the kernel drops the flock when it is closed
};

}  // namespace mews_export
