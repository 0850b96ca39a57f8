// run, add and download as library calls: each step a short function, the
// journal kept at every change so a crash can re-attach, errors returned
// with the export they concern.
#include "mews_export/job.hpp"

#include "mews_export/cancel.hpp"
#include "mews_export/time.hpp"
#include "mews_export/untrusted.hpp"

namespace mews_export {
namespace {

void notify(const Services& services, Notice::Level level, const std::string& export_id, std::string message) {
  if (services.on_notice)
    services.on_notice(Notice{.level = level, .export_id = export_id, .message = std::move(message)});
}

Error about(Error error, const std::string& export_id) {
  if (error.export_id.empty()) error.export_id = export_id;
  return error;
}

// The validated request and the job's identity.
struct Prepared {
  AddExportRequest request;
  JobKey key;
};

Result<Prepared> prepare(const AddArguments& args, const Services& services) {
  auto request = build_add_request(args, utc_now(services.clock));
  if (!request) return std::unexpected(request.error());
  const auto& api = services.api.options();
  return Prepared{
      .request = *request,
      .key = make_job_key(api.base_url, api.credentials.client_token, api.credentials.access_token, args, *request)};
}

std::string output_name(const DownloadSpec& output) {
  if (output.out_store) return output.out_store->display();
  return output.out_stream != nullptr ? "-" : output.out_dir.value_or("").string();
}

// Journals `entry`; a failure is only a warning (the export exists either way).
void record(Journal& journal, const JournalEntry& entry, const Services& services) {
  if (auto ok = journal.record(entry); !ok) {
    notify(services, Notice::Level::Warning, entry.id, "cannot update the journal: " + describe(ok.error()));
  }
}

// exports/add. A 400 (the input was validated locally, so most likely "an
// export of this type is already pending", one we have no id for) becomes
// PendingExists, or with `wait_pending` is tried again at each interval.
Result<Export> add_or_wait_pending(const AddExportRequest& request, const JobSpec& spec, const Services& services) {
  const auto deadline = services.clock.now() + spec.wait.timeout;
  const std::string type(to_string(request.entity_type));
  for (;;) {
    auto created = services.api.add_export(request);
    if (created || created.error().kind != ErrorKind::Api || created.error().http_status != 400) return created;
    Error error = created.error();
    error.kind = ErrorKind::PendingExists;
    error.message += " — the API has a pending export of " + type +
                     " that is not in this machine's journal (started elsewhere, or its answer was lost), and "
                     "its id cannot be known; try again later, or pass --wait-pending to keep trying";
    if (!spec.wait_pending) return std::unexpected(error);
    if (services.clock.now() + spec.wait.interval > deadline) {
      error.kind = ErrorKind::WaitTimeout;
      error.message = "timed out waiting for the pending export of " + type + " to finish so that a new one can start";
      return std::unexpected(error);
    }
    notify(services, Notice::Level::Warning, "",
           "an export of " + type + " is already pending; trying again in " + format_duration(spec.wait.interval));
    if (!services.clock.sleep_for(spec.wait.interval)) return std::unexpected(interrupted_error());
  }
}

// How long getAll may leave out the export of `entry` before it counts as
// gone: an export created moments ago may not be listed yet.
std::chrono::milliseconds missing_grace_for(const JournalEntry& entry, Clock& clock) {
  const auto created = parse_utc(entry.created_utc);
  if (!created) return std::chrono::milliseconds{0};
  const auto age = std::chrono::duration_cast<std::chrono::milliseconds>(clock.now() - *created);
  return std::max(std::chrono::milliseconds{0}, kNewExportGrace - age);
}

// Polls the export of `entry` until it is terminal, journaling each change of status.
Result<Export> await(JournalEntry& entry, Journal& journal, const JobSpec& spec, const Services& services) {
  WaitOptions wait = spec.wait;
  wait.missing_grace = missing_grace_for(entry, services.clock);
  wait.on_poll = [&](const std::vector<Export>& exports) {
    if (services.on_poll) services.on_poll(exports);
    for (const auto& e : exports) {
      if (e.status == entry.status) continue;
      entry.status = e.status;
      entry.updated_utc = format_utc(utc_now(services.clock));
      record(journal, entry, services);
    }
  };
  if (services.polls != nullptr) {
    auto finished = services.polls->wait(entry.id, wait);
    if (!finished) return std::unexpected(about(finished.error(), entry.id));
    return finished;
  }
  const std::vector<std::string> ids{entry.id};
  auto finished = wait_for_exports(services.api, services.clock, ids, wait);
  if (!finished) return std::unexpected(about(finished.error(), entry.id));
  return std::move(finished->front());
}

Status check_succeeded(const Export& exp) {
  if (exp.status == ExportStatus::Success) return {};
  return std::unexpected(
      Error{.kind = ErrorKind::ExportFailed,
            .message = "export " + exp.id + " ended " + status_text(exp) +
                       (exp.status == ExportStatus::Expired ? ": its files are gone; start a new export"
                                                            : ": start a new export (mews-export run ...)"),
            .export_id = exp.id});
}

// ExportFailed when its files have expired; a warning when less than a day is left.
Status check_expiry(const Export& exp, const Services& services) {
  if (!exp.expires_utc) return {};
  const auto expires = parse_utc(*exp.expires_utc);
  if (!expires) return {};
  const auto now = utc_now(services.clock);
  if (*expires <= now) {
    return std::unexpected(Error{.kind = ErrorKind::ExportFailed,
                                 .message = "export " + exp.id + " expired at " + *exp.expires_utc +
                                            "; its files can no longer be downloaded: start a new export",
                                 .export_id = exp.id});
  }
  if (*expires - now < std::chrono::hours{24}) {
    notify(services, Notice::Level::Warning, exp.id,
           "export " + exp.id + " expires at " + *exp.expires_utc + " (in " +
               format_duration(std::chrono::duration_cast<std::chrono::milliseconds>(*expires - now)) +
               "); download it now");
  }
  return {};
}

DownloadOptions download_options(const DownloadSpec& output, const Services& services) {
  DownloadOptions options;
  options.out_dir = output.out_dir;
  options.out_stream = output.out_stream;
  options.out_store = output.out_store;
  options.upload_state_dir = services.state_dir / "uploads";
  options.parallel = output.parallel;
  options.split = output.split;
  options.validate = output.validate;
  options.force = output.force;
  options.directory = output.directory;
  options.retry = services.api.options().retry;
  options.stall_timeout = services.stall_timeout;
  options.allow_insecure_http = services.allow_insecure_http;
  options.on_progress = services.on_progress;
  options.on_retry = services.on_retry;
  return options;
}

// The files of `exp` (Success), with fresh URLs from getAll on demand.
Result<DownloadResult> download_export(const Export& exp, const DownloadSpec& output, const Services& services) {
  if (auto ok = check_expiry(exp, services); !ok) return std::unexpected(ok.error());
  if (services.on_download) services.on_download(exp);
  const std::string id = exp.id;
  Downloader downloader(services.transport, services.clock, [&services, id] { return fetch_export(services.api, id); });
  auto result = downloader.download(exp, download_options(output, services));
  if (!result) return std::unexpected(about(result.error(), id));
  return result;
}

// Marks the journal entry of `id`, if there is one, as downloaded.
void mark_downloaded(const std::string& id, const Services& services) {
  auto journal = Journal::open(services.state_dir);
  if (!journal) return;
  auto entry = journal->find(id);
  if (!entry || entry->downloaded) return;
  entry->downloaded = true;
  entry->status = ExportStatus::Success;
  entry->updated_utc = format_utc(utc_now(services.clock));
  record(*journal, *entry, services);
}

// Our export for this job: re-attached from the journal or added (once),
// waited for until terminal. `entry` ends up describing it.
Result<Export> attach_and_wait(const Prepared& job, const JobSpec& spec, Journal& journal,
                               std::optional<JournalEntry>& entry, bool& reattached, const Services& services) {
  bool added = false;
  for (;;) {
    if (entry) {
      notify(services, Notice::Level::Info, entry->id,
             "re-attaching to our unfinished export " + entry->id + " (" + std::string(to_string(entry->status)) +
                 ", started " + entry->created_utc + ")");
    } else {
      auto created = add_or_wait_pending(job.request, spec, services);
      if (!created) return std::unexpected(created.error());
      added = true;
      entry = JournalEntry::created(*created, job.key, output_name(spec.output), utc_now(services.clock));
      record(journal, *entry, services);
      notify(services, Notice::Level::Info, created->id,
             "export " + created->id + " started (" + status_text(*created) + ")");
    }
    auto finished = await(*entry, journal, spec, services);
    // At most one add per call: an export we created that getAll never
    // listed is an error, not a reason to start another.
    if (finished || finished.error().kind != ErrorKind::NotFound || added) return finished;
    notify(services, Notice::Level::Warning, entry->id,
           "export " + entry->id + " from the journal is no longer known to the API; starting a new one");
    entry->status = ExportStatus::NotFound;
    record(journal, *entry, services);
    entry.reset();
    reattached = false;
  }
}

}  // namespace

std::string status_text(const Export& exp) {
  if (exp.status_name.empty()) return "in no known state (the API gave no Status)";
  if (exp.status == ExportStatus::Unknown) return "in a state this version does not know ('" + exp.status_name + "')";
  return exp.status_name;
}

Result<Export> fetch_export(ApiClient& api, const std::string& id) {
  const std::vector<std::string> ids{id};
  auto answer = api.get_exports(ids);
  if (!answer) return std::unexpected(about(answer.error(), id));
  for (auto& e : *answer) {
    if (same_export_id(e.id, id)) return std::move(e);
  }
  return std::unexpected(Error{.kind = ErrorKind::NotFound,
                               .message = "export " + id + " was not found (unknown id, or an export of another token)",
                               .export_id = id});
}

Result<JobKey> job_key(const AddArguments& args, const Services& services) {
  // Only the entity is checked: the key of a probe may leave out what `add` needs.
  const auto type = parse_entity_type(args.entity);
  if (!type) return fail(ErrorKind::Usage, "unknown entity type '" + args.entity + "'");
  const auto& api = services.api.options();
  return make_job_key(api.base_url, api.credentials.client_token, api.credentials.access_token, args,
                      AddExportRequest{.entity_type = *type});
}

Result<JobResult> run_job(const JobSpec& spec, const Services& services) {
  auto job = prepare(spec.args, services);
  if (!job) return std::unexpected(job.error());
  auto journal = Journal::open(services.state_dir);
  if (!journal) return std::unexpected(journal.error());
  std::optional<JobLock> lock;
  if (!spec.lock_held) {
    auto acquired = JobLock::acquire(services.state_dir, job->key.lock_name(), spec.wait_lock, services.clock);
    if (!acquired) return std::unexpected(acquired.error());
    lock = std::move(*acquired);
  }

  std::optional<JournalEntry> entry = journal->find_unfinished(job->key);
  bool reattached = entry.has_value();
  auto exp = attach_and_wait(*job, spec, *journal, entry, reattached, services);
  if (!exp) return std::unexpected(exp.error());
  auto succeeded = check_succeeded(*exp);
  auto outcome = succeeded ? download_export(*exp, spec.output, services)
                           : Result<DownloadResult>(std::unexpected(succeeded.error()));
  // The journal's last word on this export, from what happened.
  if (outcome || outcome.error().kind == ErrorKind::ExportFailed) {
    entry->downloaded = outcome.has_value();
    entry->status = outcome ? ExportStatus::Success
                            : (exp->status == ExportStatus::Failed ? ExportStatus::Failed : ExportStatus::Expired);
    entry->updated_utc = format_utc(utc_now(services.clock));
    record(*journal, *entry, services);
  }
  if (!outcome) return std::unexpected(outcome.error());
  const auto added = parse_utc(entry->created_utc).value_or(utc_now(services.clock));
  return JobResult{.exp = std::move(*exp), .download = std::move(*outcome), .reattached = reattached, .added = added};
}

Result<Export> add_job(const AddArguments& args, const Services& services) {
  auto job = prepare(args, services);
  if (!job) return std::unexpected(job.error());
  auto created = services.api.add_export(job->request);
  if (!created) return std::unexpected(created.error());
  auto journal = Journal::open(services.state_dir);
  if (!journal) {
    notify(services, Notice::Level::Warning, created->id,
           "export " + created->id + " was created but could not be journaled: " + describe(journal.error()));
    return created;
  }
  record(*journal, JournalEntry::created(*created, job->key, "", utc_now(services.clock)), services);
  return created;
}

Result<DownloadResult> download_job(const std::string& id, const DownloadSpec& output, const Services& services) {
  auto exp = fetch_export(services.api, id);
  if (!exp) return std::unexpected(exp.error());
  if (exp->status == ExportStatus::Failed || exp->status == ExportStatus::Expired) {
    return std::unexpected(check_succeeded(*exp).error());
  }
  if (exp->status != ExportStatus::Success) {
    return std::unexpected(Error{.kind = ErrorKind::Api,
                                 .message = "export " + exp->id + " is " + status_text(*exp) +
                                            ", not finished yet: run `mews-export wait " + exp->id + "` first",
                                 .export_id = exp->id});
  }
  auto result = download_export(*exp, output, services);
  if (result) mark_downloaded(exp->id, services);
  return result;
}

Result<std::vector<ListedExport>> list_journal(const std::filesystem::path& state_dir, std::size_t limit) {
  auto journal = Journal::open(state_dir);
  if (!journal) return std::unexpected(journal.error());
  auto entries = journal->entries();
  if (limit > 0 && entries.size() > limit) entries.resize(limit);
  std::vector<ListedExport> listed;
  listed.reserve(entries.size());
  for (auto& e : entries) listed.push_back(ListedExport{.entry = std::move(e), .fresh = std::nullopt});
  return listed;
}

Status refresh_listed(std::vector<ListedExport>& listed, const Services& services) {
  const auto& api = services.api.options();
  const auto fingerprint = credentials_fingerprint(api.credentials.client_token, api.credentials.access_token);
  std::vector<std::string> ids;
  for (const auto& l : listed) {
    // Only exports of this platform and token can be asked about.
    if (l.entry.key.platform == api.base_url && l.entry.key.token_fingerprint == fingerprint) ids.push_back(l.entry.id);
  }
  if (ids.empty()) return {};
  auto answer = services.api.get_exports(ids);
  if (!answer) return std::unexpected(answer.error());
  auto journal = Journal::open(services.state_dir);
  if (!journal) return std::unexpected(journal.error());
  for (auto& l : listed) {
    for (auto& exp : *answer) {
      if (!same_export_id(exp.id, l.entry.id)) continue;
      if (exp.status != l.entry.status) {
        l.entry.status = exp.status;
        l.entry.updated_utc = format_utc(utc_now(services.clock));
        record(*journal, l.entry, services);
      }
      l.fresh = exp;
    }
  }
  return {};
}

}  // namespace mews_export
