// `mews-export run`: add (or re-attach to our own unfinished export from the
// journal) -> wait -> download, under a per-job lock.
#include <spdlog/spdlog.h>

#include <memory>

#include "app.hpp"
#include "logging.hpp"
#include "mews_export/cancel.hpp"
#include "mews_export/time.hpp"

namespace mews_export::cli {
namespace {

struct RunOptions {
  AddArguments add;
  OutputOptions output;
  std::optional<std::string> interval;
  std::optional<std::string> timeout;
  bool wait_pending = false;
  bool wait_lock = false;
};

UtcTime utc_now(Clock& clock) { return std::chrono::floor<std::chrono::seconds>(clock.now()); }

// How long getAll may leave out the export of `entry` before it counts as
// gone: an export created moments ago may not be listed yet.
std::chrono::milliseconds missing_grace_for(const JournalEntry& entry, Clock& clock) {
  const auto created = parse_utc(entry.created_utc);
  if (!created) return std::chrono::milliseconds{0};
  const auto age = std::chrono::duration_cast<std::chrono::milliseconds>(clock.now() - *created);
  return std::max(std::chrono::milliseconds{0}, kNewExportGrace - age);
}

// exports/add; a 400 (input was validated locally, so most likely "an export
// of this type is already pending", one we have no id for) becomes
// PendingExists, or with --wait-pending is retried at each interval.
Result<Export> add_or_wait_pending(Context& context, const AddExportRequest& request, const RunOptions& options,
                                   const WaitOptions& wait) {
  const auto deadline = context.clock().now() + wait.timeout;
  for (;;) {
    auto created = context.api().add_export(request);
    if (created || created.error().kind != ErrorKind::Api || created.error().http_status != 400) return created;
    Error error = created.error();
    error.kind = ErrorKind::PendingExists;
    error.message += " — the API has a pending export of " + std::string(to_string(request.entity_type)) +
                     " that is not in this machine's journal (started elsewhere, or its answer was lost), and "
                     "its id cannot be known; try again later, or pass --wait-pending to keep trying";
    if (!options.wait_pending) return std::unexpected(error);
    if (context.clock().now() + wait.interval > deadline) {
      error.kind = ErrorKind::WaitTimeout;
      error.message = "timed out waiting for the pending export of " + std::string(to_string(request.entity_type)) +
                      " to finish so that a new one can start";
      return std::unexpected(error);
    }
    spdlog::warn("an export of {} is already pending; trying again in {}", to_string(request.entity_type),
                 format_duration(wait.interval));
    if (!context.clock().sleep_for(wait.interval)) {
      return std::unexpected(
          Error{.kind = ErrorKind::Interrupted, .message = "interrupted", .signal = cancel_signal()});
    }
  }
}

int run_run(const GlobalOptions& global, const RunOptions& options) {
  SystemClock system_clock;
  auto request = build_add_request(options.add, utc_now(system_clock));
  if (!request) return report(request.error());
  auto made = Context::create(global);
  if (!made) return report(made.error());
  Context& context = **made;
  auto resolved = resolve_output(context, options.output);
  if (!resolved) return report(resolved.error());
  const OutputOptions& output_options = *resolved;
  WaitOptions wait;
  if (auto ok = parse_wait_options(context, options.interval, options.timeout, wait); !ok) return report(ok.error());
  const auto& credentials = context.api().options().credentials;
  const JobKey key =
      make_job_key(context.base_url(), credentials.client_token, credentials.access_token, options.add, *request);

  auto journal = Journal::open(context.state_dir());
  if (!journal) return report(journal.error());
  auto lock = JobLock::acquire(context.state_dir(), key.lock_name(), options.wait_lock, context.clock());
  if (!lock) return report(lock.error());

  const std::string output = output_options.to_stdout ? "-" : output_options.out_dir;
  std::optional<JournalEntry> entry = journal->find_unfinished(key);
  wait.on_poll = [&](const std::vector<Export>& exports) {
    context.progress().waiting(exports, wait.interval);
    for (const auto& e : exports) {
      spdlog::info("export {} is {}", e.id, status_text(e));
      if (entry && e.status_name != entry->status) {
        entry->status = e.status_name;
        entry->updated_utc = format_utc(utc_now(context.clock()));
        (void)journal->record(*entry);
      }
    }
  };

  // At most one add per invocation: an export we created that getAll does
  // not list is asked for again (missing_grace), never replaced by another.
  bool added = false;
  Result<std::vector<Export>> finished = std::unexpected(Error{});
  for (;;) {
    if (entry) {
      spdlog::info("re-attaching to our unfinished export {} ({}, started {})", entry->id, entry->status,
                   entry->created_utc);
    } else {
      auto created = add_or_wait_pending(context, *request, options, wait);
      if (!created) return report(created.error());
      added = true;
      entry = journal_created(context, options.add, *request, *created, output);
      LogFields created_field(nlohmann::json{{"export_id", created->id}});
      spdlog::info("export {} started ({})", created->id, status_text(*created));
    }
    const std::vector<std::string> ids{entry->id};
    LogFields export_field(nlohmann::json{{"export_id", entry->id}});
    wait.missing_grace = missing_grace_for(*entry, context.clock());
    finished = wait_for_exports(context.api(), context.clock(), ids, wait);
    if (finished || finished.error().kind != ErrorKind::NotFound || added) break;
    // The journaled export is unknown to the API now (purged): forget it and start anew.
    spdlog::warn("export {} from the journal is no longer known to the API; starting a new one", entry->id);
    entry->status = "NotFound";
    entry->downloaded = false;
    (void)journal->record(JournalEntry{*entry});
    entry.reset();
  }
  if (!finished) {
    context.progress().stop();
    const int code = report(finished.error());
    if (finished.error().kind == ErrorKind::WaitTimeout) {
      spdlog::error("continue with: mews-export wait {0} && mews-export download {0} {1} (or run this command again)",
                    entry->id, output_options.to_stdout ? "--stdout" : "-o " + output_options.out_dir);
    }
    return code;
  }
  const Export& exp = finished->front();
  LogFields export_field(nlohmann::json{{"export_id", exp.id}});
  if (const int code = check_all_succeeded(*finished); code != 0) return code;
  const int code = download_export(context, exp, output_options);
  if (code == 0 || code == 4) {
    entry->downloaded = code == 0;
    if (code == 4) entry->status = "Expired";
    entry->updated_utc = format_utc(utc_now(context.clock()));
    if (auto ok = journal->record(*entry); !ok) spdlog::warn("cannot update the journal: {}", describe(ok.error()));
  }
  return code;
}

}  // namespace

void setup_run(CLI::App& app, GlobalOptions& global, CommandRunner& runner) {
  auto options = std::make_shared<RunOptions>();
  auto* command = app.add_subcommand("run", "Start an export (or resume ours), wait for it, download its files");
  add_export_options(*command, options->add);
  add_output_options(*command, options->output);
  add_wait_options(*command, options->interval, options->timeout);
  command->add_flag("--wait-pending", options->wait_pending,
                    "when the API has a pending export of this type that is not ours, retry at each interval");
  command->add_flag("--wait-lock", options->wait_lock,
                    "wait for another active run of the same job instead of exiting 75");
  command->footer(
      "Examples:\n  mews-export run --entity OrderItem -o ./exports\n"
      "  mews-export run --entity Reservation --stdout | jq -c '{Id, State}'");
  command->callback([&global, &runner, options] { runner = [&global, options] { return run_run(global, *options); }; });
}

}  // namespace mews_export::cli
