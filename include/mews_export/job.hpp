// Jobs as library calls: `run` (add or re-attach, wait, download), `add` and
// `download` as the CLI performs them, each returning what happened instead of
// printing it. The journal and the per-job lock are kept here, so any program
// that embeds the library gets the same crash safety as the CLI.
#pragma once

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "mews_export/api_client.hpp"
#include "mews_export/clock.hpp"
#include "mews_export/downloader.hpp"
#include "mews_export/error.hpp"
#include "mews_export/http.hpp"
#include "mews_export/journal.hpp"
#include "mews_export/object_store.hpp"
#include "mews_export/poll_group.hpp"
#include "mews_export/poller.hpp"
#include "mews_export/validate.hpp"

namespace mews_export {

// Something worth telling the user while a job runs (the library does not log).
struct Notice {
  enum class Level { Info, Warning };
  Level level = Level::Info;
  std::string export_id;  // may be empty
  std::string message;    // secret-free; may quote what a server sent
};
using NoticeCallback = std::function<void(const Notice&)>;

// What jobs work with: the API, the transport and clock behind it, where the
// journal lives, and where reports go (each callback may be empty).
struct Services {
  ApiClient& api;
  HttpTransport& transport;
  Clock& clock;
  std::filesystem::path state_dir;
  // Jobs sharing an access token wait through one PollGroup (may be null:
  // each job polls on its own).
  PollGroup* polls = nullptr;
  bool allow_insecure_http = false;
  std::chrono::seconds stall_timeout{60};
  NoticeCallback on_notice;
  RetryCallback on_retry;
  std::function<void(const std::vector<Export>&)> on_poll;
  std::function<void(const Export&)> on_download;  // a download of this export starts
  std::function<void(const DownloadProgress&)> on_progress;
};

// Where and how the files of an export are written.
struct DownloadSpec {
  std::optional<std::filesystem::path> out_dir;  // files in out_dir/<ExportId>/ ...
  std::FILE* out_stream = nullptr;               // ... or concatenated here ...
  std::optional<S3Location> out_store;           // ... or objects under <prefix>/<ExportId>/
  int parallel = 4;
  int split = 4;          // DownloadOptions::split
  bool validate = false;  // DownloadOptions::validate
  bool force = false;
  // The export's directory under out_dir (or out_store) when not its id (sync windows).
  std::optional<std::string> directory;
};

struct JobSpec {
  AddArguments args;  // as the user gave them; validated by run_job()
  DownloadSpec output;
  WaitOptions wait;  // interval and timeout (on_poll comes from Services)
  // When the API has a pending export of this type that is not ours, try the
  // add again at each interval (until the wait timeout) instead of failing.
  bool wait_pending = false;
  // Wait for another run of the same job instead of failing Locked.
  bool wait_lock = false;
  // The caller holds the job's lock already (sync, across its windows).
  bool lock_held = false;
};

struct JobResult {
  Export exp;               // as getAll last answered (Success)
  DownloadResult download;  // directory (or none for a stream) and manifest
  bool reattached = false;  // an unfinished export of ours from the journal, not a new one
  UtcTime added{};          // when the export was added (from the journal when re-attached)
};

// The journal key of a job with `args` (only its entity type is checked:
// a key to look for an export may leave out what an add needs).
Result<JobKey> job_key(const AddArguments& args, const Services& services);

// add (or re-attach to our own unfinished export of the same job, from the
// journal) -> wait -> download, under the job's lock; at most one add per
// call. Errors carry the export id when there is one (Error::export_id):
// Usage (invalid arguments, nothing sent), Locked, PendingExists, WaitTimeout,
// ExportFailed (Failed, Expired), NotFound (an export we just created that
// getAll never listed), and whatever the API or the download fail with.
Result<JobResult> run_job(const JobSpec& spec, const Services& services);

// `add`: validates `args`, sends exports/add and journals the new export
// (a journal failure is only a Warning notice: the export exists either way).
Result<Export> add_job(const AddArguments& args, const Services& services);

// `download`: fresh URLs for export `id` from getAll, then its files (which
// must be Success and not expired), and marks it downloaded in the journal.
// Errors: NotFound, ExportFailed (Failed/Expired, or expired files), Api (not
// finished yet), and whatever the download fails with.
Result<DownloadResult> download_job(const std::string& id, const DownloadSpec& output, const Services& services);

// The export `id` as getAll reports it now (ids compared without regard to
// case); NotFound when it is not listed.
Result<Export> fetch_export(ApiClient& api, const std::string& id);

// The export's status for messages: its name, or what is odd about it.
std::string status_text(const Export& exp);

// One export of the journal, with what getAll says of it now (when asked).
struct ListedExport {
  JournalEntry entry;
  std::optional<Export> fresh;
};

// The journal's exports, newest first; at most `limit` (0: all).
Result<std::vector<ListedExport>> list_journal(const std::filesystem::path& state_dir, std::size_t limit);

// Asks getAll, in one batched call, about the listed exports of this
// platform and token, and journals the statuses that changed.
Status refresh_listed(std::vector<ListedExport>& listed, const Services& services);

}  // namespace mews_export
