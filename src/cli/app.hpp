// The CLI's shared pieces: the per-invocation context (settings, transport,
// clock, API client, progress, and the library's Services over them), the
// options several commands share, and the printing of results and errors.
// Each subcommand lives in its own cmd_*.cpp with setup_x() and run_x().
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mews_export/api_client.hpp"
#include "mews_export/clock.hpp"
#include "mews_export/error.hpp"
#include "mews_export/http.hpp"
#include "mews_export/job.hpp"
#include "mews_export/settings.hpp"
#include "options.hpp"
#include "output.hpp"
#include "progress.hpp"

namespace mews_export::cli {

// What one invocation works with.
class Context {
 public:
  // Resolves the settings from the global options and `flags` (the global
  // ones plus the command's), reads the tokens and builds the services.
  // Errors are Usage/UnknownProfile (exit 2) and say what to set.
  static Result<std::unique_ptr<Context>> create(const GlobalOptions& global, const SettingsFlags& flags);
  // The same for settings already resolved (one profile of a sync over many),
  // drawing on `budget` (shared by the clients of one access token; may be
  // null) and with a progress display only when `progress`.
  static Result<std::unique_ptr<Context>> from_settings(const GlobalOptions& global, Settings settings,
                                                        std::shared_ptr<RequestBudget> budget, bool progress);
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  const Settings& settings() const { return settings_; }
  const Services& services() const { return *services_; }
  // From now on this context's jobs wait through `group` (shared by the jobs of one token).
  void share_polls(PollGroup* group) { services_->polls = group; }
  ApiClient& api() { return *api_; }
  ProgressDisplay& progress() { return *progress_; }

 private:
  Context() = default;
  static Services make_services(Context& context);
  Settings settings_;
  SystemClock clock_;
  std::unique_ptr<HttpTransport> transport_;
  std::unique_ptr<ApiClient> api_;
  std::unique_ptr<ProgressDisplay> progress_;
  std::unique_ptr<Services> services_;
};

// Where and how `download` and `run` write the files.
struct OutputOptions {
  std::optional<std::string> out_dir;
  bool to_stdout = false;
  std::optional<int> parallel;
  int split = 4;  // ranges per big file (1: none)
  bool validate = false;
  bool force = false;
};

// Registers add's options (entity, scope, filters) on `command`, filling `args`.
void add_export_options(CLI::App& command, AddArguments& args);
// Registers --interval/--timeout on `command`.
void add_wait_options(CLI::App& command, std::optional<std::string>& interval, std::optional<std::string>& timeout);
// Registers -o/--output-dir, --stdout and --parallel on `command`.
void add_output_options(CLI::App& command, OutputOptions& output);
// Registers -o/--output-dir and --parallel on `command` (no --stdout: sync).
void add_directory_options(CLI::App& command, OutputOptions& output);

// The global settings flags plus a command's own.
SettingsFlags command_flags(const GlobalOptions& global, const std::optional<std::string>& interval = std::nullopt,
                            const std::optional<std::string>& timeout = std::nullopt,
                            const OutputOptions* output = nullptr);
// The destination: -o / --stdout, else the profile's output_dir; Usage error when none.
Result<DownloadSpec> download_spec(const Settings& settings, const OutputOptions& output);
// The object-store location of `url` ("s3://BUCKET/PREFIX") with the store's
// settings and credentials (Usage when they are missing or malformed).
Result<S3Location> s3_location(const Settings& settings, const std::string& url);
// Interval and timeout from the settings.
WaitOptions wait_options(const Settings& settings);
// A whole decimal number (no sign, no suffix), or nullopt.
std::optional<int> parse_count(std::string_view text);
// Usage error unless every id can be an export id (is_valid_export_id); says what ids look like.
Status check_export_ids(const std::vector<std::string>& ids);

// Logs `error` to stderr (with its fields in JSON logs) and returns its exit
// code; OutputClosed quietly. The one place errors become exit codes.
int report(const Error& error);
// Logs a retry that is about to happen, and a notice from a job.
void log_retry(const RetryNotice& retry);
void log_notice(const Notice& notice);
// Prints `value` on stdout as one JSON document and a newline, indented at
// the top levels only (to_display_json: linear in the value's size).
void print_json(const nlohmann::json& value);
// Prints `rows` (the first is the header) as aligned columns on stdout, with
// control characters escaped.
void print_table(std::vector<std::vector<std::string>> rows);
// One table row per export: id, entity, status, files, total size, expiry.
void print_export_table(const std::vector<Export>& exports);
// What `download` and `run` print: the directory (or, with --json, the
// manifest and "Directory"); nothing for a stream.
void print_download(const DownloadResult& result, bool json);
// "1.2 MiB"
std::string human_size(std::uint64_t bytes);

// Each subcommand registers itself on `app` and sets `*runner` when chosen.
void setup_add(CLI::App& app, GlobalOptions& global, CommandRunner& runner);
void setup_status(CLI::App& app, GlobalOptions& global, CommandRunner& runner);
void setup_wait(CLI::App& app, GlobalOptions& global, CommandRunner& runner);
void setup_download(CLI::App& app, GlobalOptions& global, CommandRunner& runner);
void setup_run(CLI::App& app, GlobalOptions& global, CommandRunner& runner);
void setup_list(CLI::App& app, GlobalOptions& global, CommandRunner& runner);
void setup_config(CLI::App& app, GlobalOptions& global, CommandRunner& runner);
void setup_sync(CLI::App& app, GlobalOptions& global, CommandRunner& runner);

}  // namespace mews_export::cli
