// `mews-export run`: add (or re-attach to our own unfinished export from the
// journal) -> wait -> download, under a per-job lock: one library call
// (run_job), then its result printed.
#include <spdlog/spdlog.h>

#include <memory>

#include "app.hpp"
#include "mews_export/metrics.hpp"

namespace mews_export::cli {
namespace {

struct RunOptions {
  AddArguments add;
  OutputOptions output;
  std::optional<std::string> interval;
  std::optional<std::string> timeout;
  bool wait_pending = false;
  bool wait_lock = false;
  std::optional<std::string> metrics_file;
};

double unix_now() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

// --metrics-file: this run's line of the Prometheus textfile.
void write_metrics(const RunOptions& options, const Settings& settings, const Result<JobResult>& result,
                   double started) {
  if (!options.metrics_file) return;
  const auto type = parse_entity_type(options.add.entity);
  JobMetrics job{.profile = settings.profile.value,
                 .entity = type ? std::string(to_string(*type)) : options.add.entity,
                 .last_run = started,
                 .exit_code = result ? 0 : exit_code(result.error()),
                 .duration_seconds = unix_now() - started};
  if (result) {
    job.last_success = unix_now();
    for (const auto& f : result->download.manifest.files) {
      ++job.files;
      job.bytes += f.size_in_bytes;
      job.records += f.lines;
    }
  }
  if (auto ok = update_metrics_file(expand_home(*options.metrics_file), {job}); !ok) report(ok.error());
}

// After a timeout: the commands that continue where this run stopped.
void hint_continue(const Error& error, const OutputOptions& output, const Settings& settings) {
  if (error.kind != ErrorKind::WaitTimeout || error.export_id.empty()) return;
  const std::string where =
      output.to_stdout ? "--stdout" : "-o " + (settings.output_dir ? settings.output_dir->value.string() : "");
  spdlog::error("continue with: mews-export wait {0} && mews-export download {0} {1} (or run this command again)",
                error.export_id, where);
}

int run_run(const GlobalOptions& global, const RunOptions& options) {
  // Invalid input is refused before anything else (no token needed to say so).
  SystemClock clock;
  if (auto request = build_add_request(options.add, utc_now(clock)); !request) {
    return report(request.error());
  }
  auto context = Context::create(global, command_flags(global, options.interval, options.timeout, &options.output));
  if (!context) return report(context.error());
  const Settings& settings = (*context)->settings();
  auto output = download_spec(settings, options.output);
  if (!output) return report(output.error());
  const JobSpec spec{.args = options.add,
                     .output = *output,
                     .wait = wait_options(settings),
                     .wait_pending = options.wait_pending,
                     .wait_lock = options.wait_lock};
  const double started = unix_now();
  auto result = run_job(spec, (*context)->services());
  (*context)->progress().stop();
  write_metrics(options, settings, result, started);
  if (!result) {
    const int code = report(result.error());
    hint_continue(result.error(), options.output, settings);
    return code;
  }
  print_download(result->download, global.json);
  return 0;
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
  command->add_option("--metrics-file", options->metrics_file, "write a Prometheus textfile of this job here");
  command->footer(
      "Examples:\n  mews-export run --entity OrderItem -o ./exports\n"
      "  mews-export run --entity Reservation --stdout | jq -c '{Id, State}'");
  command->callback([&global, &runner, options] { runner = [&global, options] { return run_run(global, *options); }; });
}

}  // namespace mews_export::cli
