// The CLI's shared pieces: global options (one struct), the per-invocation
// context built from them (transport, clock, API client), and output helpers.
// Each subcommand lives in its own cmd_*.cpp with setup_x() and run_x().
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mews_export/api_client.hpp"
#include "mews_export/clock.hpp"
#include "mews_export/config.hpp"
#include "mews_export/downloader.hpp"
#include "mews_export/error.hpp"
#include "mews_export/http.hpp"
#include "mews_export/journal.hpp"
#include "mews_export/model.hpp"
#include "mews_export/poller.hpp"
#include "mews_export/validate.hpp"
#include "options.hpp"
#include "output.hpp"
#include "progress.hpp"
#include "settings.hpp"

namespace mews_export::cli {

// What one invocation works with, resolved from the global options, the
// environment and the config profile.
class Context {
 public:
  // Resolves platform and tokens; errors are Usage (exit 2) and say what to set.
  static Result<std::unique_ptr<Context>> create(const GlobalOptions& options);

  ApiClient& api() { return *api_; }
  HttpTransport& transport() { return *transport_; }
  Clock& clock() { return clock_; }
  const GlobalOptions& options() const { return options_; }
  const std::string& base_url() const { return base_url_; }
  // The retry policy from --retry/--retry-max-time (API calls and file transfers).
  const RetryPolicy& retry_policy() const { return api_->options().retry; }
  std::chrono::seconds stall_timeout() const { return stall_timeout_; }
  const EffectiveSettings& settings() const { return settings_; }
  ProgressDisplay& progress() { return *progress_; }
  // --state-dir > $MEWS_EXPORT_STATE_DIR > $XDG_STATE_HOME/mews-export.
  std::filesystem::path state_dir() const;

 private:
  GlobalOptions options_;
  std::string base_url_;
  SystemClock clock_;
  std::unique_ptr<HttpTransport> transport_;
  std::unique_ptr<ApiClient> api_;
  std::chrono::seconds stall_timeout_{60};
  EffectiveSettings settings_;
  std::unique_ptr<ProgressDisplay> progress_;
};

// Records a newly created export in the journal (a failure is only a warning:
// the export exists either way). Returns the entry.
JournalEntry journal_created(Context& context, const AddArguments& args, const AddExportRequest& request,
                             const Export& created, const std::string& output);

// Each subcommand registers itself on `app` and sets `*runner` when chosen.
void setup_add(CLI::App& app, GlobalOptions& global, CommandRunner& runner);
void setup_status(CLI::App& app, GlobalOptions& global, CommandRunner& runner);
void setup_wait(CLI::App& app, GlobalOptions& global, CommandRunner& runner);
void setup_download(CLI::App& app, GlobalOptions& global, CommandRunner& runner);
void setup_run(CLI::App& app, GlobalOptions& global, CommandRunner& runner);
void setup_list(CLI::App& app, GlobalOptions& global, CommandRunner& runner);
void setup_config(CLI::App& app, GlobalOptions& global, CommandRunner& runner);

// --state-dir > $MEWS_EXPORT_STATE_DIR > $XDG_STATE_HOME/mews-export (no tokens needed).
// Usage error when the configuration is broken.
Result<std::filesystem::path> state_dir_of(const GlobalOptions& options);

// Registers add's options (entity, scope, filters) on `command`, filling `args`.
void add_export_options(CLI::App& command, AddArguments& args);
// Registers --interval/--timeout on `command`.
void add_wait_options(CLI::App& command, std::optional<std::string>& interval, std::optional<std::string>& timeout);
// Parses --interval/--timeout (or, when not given, the profile's) into `options`
// (Usage error when malformed or empty).
Status parse_wait_options(const Context& context, std::optional<std::string> interval,
                          std::optional<std::string> timeout, WaitOptions& options);
Status parse_wait_durations(const std::string& interval, const std::string& timeout, WaitOptions& options);

// Usage error unless every id can be an export id (is_valid_export_id); says what ids look like.
Status check_export_ids(const std::vector<std::string>& ids);
// A whole decimal number (no sign, no suffix), or nullopt.
std::optional<int> parse_count(std::string_view text);
// The export's status for messages: its name, or what is odd about it.
std::string status_text(const Export& exp);

// Logs `error` to stderr and returns its exit code (OutputClosed: quietly).
int report(const Error& error);
// Logs a retry that is about to happen (the library reports, the CLI logs).
void log_retry(const RetryNotice& retry);
// Prints `value` on stdout as one JSON document and a newline, indented at
// the top levels only (to_display_json: linear in the value's size).
void print_json(const nlohmann::json& value);
// Prints `rows` (the first is the header) as aligned columns on stdout, with
// control characters escaped.
void print_table(std::vector<std::vector<std::string>> rows);
// One table row per export: id, entity, status, files, total size, expiry.
void print_export_table(const std::vector<Export>& exports);
// "1.2 MiB"
std::string human_size(std::uint64_t bytes);
// Exit code for terminal exports: 0 when all succeeded, else 4 (and a message per failure).
int check_all_succeeded(const std::vector<Export>& exports);
// Warns (stderr) when fewer than 24 h remain before ExpiresUtc; errors (ExportFailed)
// when it has passed.
Status check_expiry(const Export& exp, Clock& clock);

}  // namespace mews_export::cli

namespace mews_export::cli {

// Where and how `download` and `run` write the files.
struct OutputOptions {
  std::string out_dir;
  bool to_stdout = false;
  int parallel = 0;  // 0: not given (profile, else 4)
  bool force = false;
};

// Registers -o/--output-dir, --stdout and --parallel on `command`.
void add_output_options(CLI::App& command, OutputOptions& output);

// Fills what the command line left out from the config profile (output_dir,
// parallel); Usage error when no destination is known.
Result<OutputOptions> resolve_output(const Context& context, OutputOptions output);

// Downloads the files of `exp` (already known to be Success) with fresh URLs
// from getAll on demand, then prints the export directory (or JSON).
int download_export(Context& context, const Export& exp, const OutputOptions& output);

}  // namespace mews_export::cli
