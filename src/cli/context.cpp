#include <spdlog/spdlog.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "app.hpp"
#include "logging.hpp"
#include "mews_export/settings.hpp"
#include "mews_export/time.hpp"
#include "mews_export/untrusted.hpp"
#include "mews_export/version.hpp"
#include "settings.hpp"

namespace mews_export::cli {
Result<std::unique_ptr<Context>> Context::create(const GlobalOptions& options) {
  auto context = std::unique_ptr<Context>(new Context());
  context->options_ = options;
  auto settings = resolve_settings(options);
  if (!settings) return std::unexpected(settings.error());
  context->settings_ = std::move(*settings);
  const auto& s = context->settings_;
  auto base = resolve_platform(*s.get("platform").value, s.get("allow_insecure_http").value == "true");
  if (!base) return std::unexpected(base.error());
  context->base_url_ = *base;

  auto client_token = read_token(s, "client");
  if (!client_token) return std::unexpected(client_token.error());
  auto access_token = read_token(s, "access");
  if (!access_token) return std::unexpected(access_token.error());

  if (options.stall_timeout) {
    const auto d = parse_duration(*options.stall_timeout);
    if (!d || *d < std::chrono::seconds{1}) {
      return fail(ErrorKind::Usage, "--stall-timeout '" + *options.stall_timeout + "' is not a duration of 1s or more");
    }
    context->stall_timeout_ = std::chrono::duration_cast<std::chrono::seconds>(*d);
  }

  context->progress_ = std::make_unique<ProgressDisplay>(!options.quiet && progress_enabled(options.progress));

  CurlOptions curl;
  curl.user_agent = std::string("mews-export/") + version();
  curl.ca_bundle = s.get("ca_bundle").value.value_or("");
  context->transport_ = make_curl_transport(curl);

  ApiClientOptions api;
  api.base_url = context->base_url_;
  if (options.retries) api.retry.max_attempts = *options.retries + 1;
  if (options.retry_max_time) {
    const auto budget = parse_duration(*options.retry_max_time);
    if (!budget) {
      return fail(ErrorKind::Usage,
                  "--retry-max-time '" + *options.retry_max_time + "' is not a duration; use e.g. 30s, 15m");
    }
    api.retry.max_total = *budget;
  }
  api.credentials.client_token = std::move(*client_token);
  api.credentials.access_token = std::move(*access_token);
  api.credentials.client = *s.get("client").value;
  api.on_retry = log_retry;
  context->api_ = std::make_unique<ApiClient>(*context->transport_, context->clock_, std::move(api));
  spdlog::debug("platform {}", context->base_url_);
  return context;
}

Result<std::filesystem::path> state_dir_of(const GlobalOptions& options) {
  auto settings = resolve_settings(options);
  if (!settings) return std::unexpected(settings.error());
  return expand_home(*settings->get("state_dir").value);
}

std::filesystem::path Context::state_dir() const { return expand_home(*settings_.get("state_dir").value); }

JournalEntry journal_created(Context& context, const AddArguments& args, const AddExportRequest& request,
                             const Export& created, const std::string& output) {
  const auto& credentials = context.api().options().credentials;
  JournalEntry entry;
  entry.id = created.id;
  entry.key = make_job_key(context.base_url(), credentials.client_token, credentials.access_token, args, request);
  entry.status = created.status_name;
  entry.created_utc = format_utc(std::chrono::floor<std::chrono::seconds>(context.clock().now()));
  entry.updated_utc = entry.created_utc;
  entry.output = output;
  auto journal = Journal::open(context.state_dir());
  auto recorded = journal ? journal->record(entry) : Status(std::unexpected(journal.error()));
  if (!recorded)
    spdlog::warn("export {} was created but could not be journaled: {}", created.id, describe(recorded.error()));
  return entry;
}

std::string status_text(const Export& exp) {
  if (exp.status_name.empty()) return "in no known state (the API gave no Status)";
  if (exp.status == ExportStatus::Unknown) return "in a state this version does not know ('" + exp.status_name + "')";
  return exp.status_name;
}

Status check_export_ids(const std::vector<std::string>& ids) {
  for (const auto& id : ids) {
    if (!is_valid_export_id(id)) {
      return fail(ErrorKind::Usage, "'" + id +
                                        "' is not an export id; ids are UUIDs such as "
                                        "3fa85f64-5717-4562-b3fc-2c963f66afa6 (as `add` prints them)");
    }
  }
  return {};
}

std::optional<int> parse_count(std::string_view text) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

void log_retry(const RetryNotice& retry) {
  spdlog::warn("{}: {}; retrying in {} (attempt {} of {})", retry.what, describe(retry.error),
               format_duration(retry.delay), retry.attempt, retry.max_attempts);
}

int report(const Error& error) {
  if (error.kind == ErrorKind::OutputClosed) return exit_code(error);  // `| head`: not worth a word
  nlohmann::json fields = {{"error", to_string(error.kind)}, {"exit_code", exit_code(error)}};
  if (error.http_status != 0) fields["http_status"] = error.http_status;
  if (!error.request_id.empty()) fields["request_id"] = error.request_id;
  LogFields scope(fields);
  spdlog::error("{}", describe(error));
  return exit_code(error);
}

void print_json(const nlohmann::json& value) { print_stdout(to_display_json(value) + "\n"); }

std::string human_size(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024.0 && unit < 4) {
    value /= 1024.0;
    ++unit;
  }
  std::ostringstream out;
  if (unit == 0) {
    out << bytes << " B";
  } else {
    out << std::fixed << std::setprecision(1) << value << ' ' << kUnits[unit];
  }
  return out.str();
}

void print_table(std::vector<std::vector<std::string>> rows) {
  if (rows.empty()) return;
  for (auto& row : rows) {
    for (auto& cell : row) cell = escape_for_terminal(cell);  // cells may hold what a server sent
  }
  std::vector<std::size_t> widths(rows.front().size(), 0);
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      out += row[i];
      if (i + 1 < row.size()) out += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out += '\n';
  }
  print_stdout(out);
}

void print_export_table(const std::vector<Export>& exports) {
  std::vector<std::vector<std::string>> rows{{"ID", "ENTITY", "STATUS", "FILES", "SIZE", "EXPIRES"}};
  for (const auto& e : exports) {
    rows.push_back({e.id, e.entity_type_name.empty() ? "-" : e.entity_type_name,
                    e.status_name.empty() ? "-" : e.status_name, std::to_string(e.files.size()),
                    e.files.empty() ? "-" : human_size(e.total_size()), e.expires_utc.value_or("-")});
  }
  print_table(rows);
}

int check_all_succeeded(const std::vector<Export>& exports) {
  int code = 0;
  for (const auto& e : exports) {
    if (e.status != ExportStatus::Success) {
      spdlog::error("export {} ended {}{}", e.id, e.status_name,
                    e.status == ExportStatus::Expired ? ": its files are gone; start a new export"
                                                      : ": start a new export (mews-export run ...)");
      code = 4;
    }
  }
  return code;
}

Status check_expiry(const Export& exp, Clock& clock) {
  if (!exp.expires_utc) return {};
  const auto expires = parse_utc(*exp.expires_utc);
  if (!expires) return {};
  const auto now = std::chrono::floor<std::chrono::seconds>(clock.now());
  if (*expires <= now) {
    return fail(ErrorKind::ExportFailed, "export " + exp.id + " expired at " + *exp.expires_utc +
                                             "; its files can no longer be downloaded: start a new export");
  }
  if (*expires - now < std::chrono::hours{24}) {
    spdlog::warn("export {} expires at {} (in {}); download it now", exp.id, *exp.expires_utc,
                 format_duration(std::chrono::duration_cast<std::chrono::milliseconds>(*expires - now)));
  }
  return {};
}

void add_wait_options(CLI::App& command, std::optional<std::string>& interval, std::optional<std::string>& timeout) {
  command.add_option("--interval", interval, "time between status checks (ms, s, m, h; default 5m)");
  command.add_option("--timeout", timeout, "give up waiting after this long (default 24h)");
}

Status parse_wait_options(const Context& context, std::optional<std::string> interval,
                          std::optional<std::string> timeout, WaitOptions& options) {
  if (interval && interval->empty()) return fail(ErrorKind::Usage, "--interval needs a duration, e.g. 30s, 5m or 1h");
  if (timeout && timeout->empty()) return fail(ErrorKind::Usage, "--timeout needs a duration, e.g. 30m or 24h");
  if (!interval) interval = context.settings().get("interval").value;
  if (!timeout) timeout = context.settings().get("timeout").value;
  return parse_wait_durations(interval.value_or(""), timeout.value_or(""), options);
}

Status parse_wait_durations(const std::string& interval, const std::string& timeout, WaitOptions& options) {
  if (!interval.empty()) {
    const auto d = parse_duration(interval);
    if (!d || d->count() <= 0) {
      return fail(ErrorKind::Usage, "--interval '" + interval + "' is not a duration; use e.g. 30s, 5m or 1h");
    }
    options.interval = *d;
  }
  if (!timeout.empty()) {
    const auto d = parse_duration(timeout);
    if (!d) return fail(ErrorKind::Usage, "--timeout '" + timeout + "' is not a duration; use e.g. 30m, 24h");
    options.timeout = *d;
  }
  return {};
}

void add_export_options(CLI::App& command, AddArguments& args) {
  command.add_option("--entity", args.entity, "entity type, e.g. OrderItem, Reservation (case-insensitive)")
      ->required();
  command.add_option("--enterprise", args.enterprise_ids, "limit to this enterprise id (repeatable, at most 1000)");
  command.add_option("--chain", args.chain_ids, "limit to this chain id (repeatable, at most 1000)");
  command.add_option("--updated-from", args.updated_from,
                     "only entities updated at or after T (YYYY-MM-DD[Thh:mm:ssZ])");
  command.add_option("--updated-to", args.updated_to, "... and at or before T (default: five minutes ago)");
  command.add_option("--posting-from", args.posting_from, "LedgerEntry: first posting date (YYYY-MM-DD)");
  command.add_option("--posting-to", args.posting_to, "LedgerEntry: last posting date (YYYY-MM-DD)");
}

}  // namespace mews_export::cli
