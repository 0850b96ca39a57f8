// `mews-export download ID (-o DIR | --stdout)`: fresh URLs from getAll, then
// the Downloader writes part-NNN.jsonl + manifest.json or streams to stdout.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>

#include "app.hpp"
#include "logging.hpp"
#include "mews_export/settings.hpp"
#include "mews_export/time.hpp"
#include "mews_export/untrusted.hpp"

namespace mews_export::cli {
namespace {

struct DownloadCommandOptions {
  std::string id;
  OutputOptions output;
};

// The export `id` as getAll reports it now.
Result<Export> fetch_export(ApiClient& api, const std::string& id) {
  const std::vector<std::string> ids{id};
  auto answer = api.get_exports(ids);
  if (!answer) return std::unexpected(answer.error());
  for (auto& e : *answer) {
    if (same_export_id(e.id, id)) return std::move(e);
  }
  return fail(ErrorKind::NotFound, "export " + id + " was not found (unknown id, or an export of another token)");
}

int run_download(const GlobalOptions& global, const DownloadCommandOptions& options) {
  if (auto ok = check_export_ids({options.id}); !ok) return report(ok.error());
  auto context = Context::create(global);
  if (!context) return report(context.error());
  auto output = resolve_output(**context, options.output);
  if (!output) return report(output.error());
  auto exp = fetch_export((*context)->api(), options.id);
  if (!exp) return report(exp.error());
  if (exp->status == ExportStatus::Failed || exp->status == ExportStatus::Expired) {
    return check_all_succeeded({*exp});
  }
  if (exp->status != ExportStatus::Success) {
    return report(Error{.kind = ErrorKind::Api,
                        .message = "export " + exp->id + " is " + status_text(*exp) +
                                   ", not finished yet: run `mews-export wait " + exp->id + "` first"});
  }
  return download_export(**context, *exp, *output);
}

// Marks our journal entry of `id` (if any) as downloaded, so `run` does not
// re-attach to it.
void mark_downloaded(Context& context, const std::string& id) {
  auto journal = Journal::open(context.state_dir());
  if (!journal) return;
  for (auto& entry : journal->entries()) {
    if (!same_export_id(entry.id, id) || entry.downloaded) continue;
    entry.downloaded = true;
    entry.status = "Success";
    entry.updated_utc = format_utc(std::chrono::floor<std::chrono::seconds>(context.clock().now()));
    if (auto ok = journal->record(entry); !ok) spdlog::warn("cannot update the journal: {}", describe(ok.error()));
  }
}

}  // namespace

void add_output_options(CLI::App& command, OutputOptions& output) {
  auto* dir =
      command.add_option("-o,--output-dir", output.out_dir, "write DIR/<ExportId>/part-NNN.jsonl + manifest.json");
  auto* out = command.add_flag("--stdout", output.to_stdout, "write all records, in order, to standard output");
  dir->excludes(out);
  command.add_option("--parallel", output.parallel, "files downloaded at once (default 4)")->check(CLI::Range(1, 64));
}

Result<OutputOptions> resolve_output(const Context& context, OutputOptions output) {
  if (output.out_dir.empty() && !output.to_stdout) {
    output.out_dir = context.settings().get("output_dir").value.value_or("");
    if (!output.out_dir.empty()) output.out_dir = expand_home(output.out_dir).string();
  }
  if (output.out_dir.empty() && !output.to_stdout) {
    return fail(ErrorKind::Usage, "say where the data goes: -o DIR or --stdout (or output_dir in the config profile)");
  }
  if (output.parallel == 0) {
    const auto text = context.settings().get("parallel").value.value_or("4");
    const auto parallel = parse_count(text);
    if (!parallel || *parallel < 1 || *parallel > 64) {
      return fail(ErrorKind::Usage, "parallel = '" + text + "' in the config profile is not a number from 1 to 64");
    }
    output.parallel = *parallel;
  }
  return output;
}

int download_export(Context& context, const Export& exp, const OutputOptions& output) {
  LogFields export_field(nlohmann::json{{"export_id", exp.id}});
  if (auto ok = check_expiry(exp, context.clock()); !ok) return report(ok.error());
  const std::string id = exp.id;
  Downloader downloader(context.transport(), context.clock(),
                        [&context, id] { return fetch_export(context.api(), id); });
  DownloadOptions options;
  if (output.to_stdout) {
    options.out_stream = stdout;
  } else {
    options.out_dir = output.out_dir;
  }
  options.parallel = output.parallel;
  options.allow_insecure_http = context.settings().get("allow_insecure_http").value == "true";
  options.on_retry = log_retry;
  options.retry = context.retry_policy();
  options.stall_timeout = context.stall_timeout();
  context.progress().start_download(exp);
  if (context.progress().enabled()) {
    options.on_progress = [&context](const DownloadProgress& p) { context.progress().file_progress(p); };
  }
  options.force = output.force;
  auto result = downloader.download(exp, options);
  context.progress().stop();
  if (!result) return report(result.error());
  mark_downloaded(context, id);
  if (result->already_complete)
    spdlog::info("export {} is already downloaded and verified in {}", id, result->directory.string());
  if (output.to_stdout) return 0;
  if (context.options().json) {
    auto doc = to_json(result->manifest);
    doc["Directory"] = result->directory.string();
    print_json(doc);
  } else {
    print_stdout(result->directory.string() + "\n");
  }
  return 0;
}

void setup_download(CLI::App& app, GlobalOptions& global, CommandRunner& runner) {
  auto options = std::make_shared<DownloadCommandOptions>();
  auto* command = app.add_subcommand("download", "Download the files of a successful export");
  command->add_option("id", options->id, "export id")->required();
  add_output_options(*command, options->output);
  command->add_flag("--force", options->output.force, "download again even when a verified copy exists");
  command->footer("Examples:\n  mews-export download ID -o ./exports\n  mews-export download ID --stdout | jq -c .Id");
  command->callback(
      [&global, &runner, options] { runner = [&global, options] { return run_download(global, *options); }; });
}

}  // namespace mews_export::cli
