// The per-invocation context and the options several commands share.
#include <spdlog/spdlog.h>

#include <charconv>

#include "app.hpp"
#include "logging.hpp"
#include "mews_export/untrusted.hpp"
#include "mews_export/version.hpp"

namespace mews_export::cli {

Result<std::unique_ptr<Context>> Context::create(const GlobalOptions& global, const SettingsFlags& flags) {
  auto settings = resolve_settings(flags);
  if (!settings) return std::unexpected(settings.error());
  return from_settings(global, std::move(*settings), nullptr, true);
}

Result<std::unique_ptr<Context>> Context::from_settings(const GlobalOptions& global, Settings settings,
                                                        std::shared_ptr<RequestBudget> budget, bool progress) {
  auto context = std::unique_ptr<Context>(new Context());
  context->settings_ = std::move(settings);
  const Settings& s = context->settings_;
  auto base = base_url(s);
  if (!base) return std::unexpected(base.error());
  auto credentials = read_credentials(s, process_env, [](const std::string& warning) { spdlog::warn("{}", warning); });
  if (!credentials) return std::unexpected(credentials.error());

  context->progress_ =
      std::make_unique<ProgressDisplay>(progress && !global.quiet && progress_enabled(global.progress));
  context->transport_ = make_curl_transport(CurlOptions{.user_agent = std::string("mews-export/") + version(),
                                                        .ca_bundle = s.ca_bundle ? s.ca_bundle->value.string() : ""});
  context->api_ = std::make_unique<ApiClient>(*context->transport_, context->clock_,
                                              ApiClientOptions{.base_url = *base,
                                                               .credentials = std::move(*credentials),
                                                               .retry = s.retry,
                                                               .on_retry = log_retry,
                                                               .budget = std::move(budget)});
  context->services_ = std::make_unique<Services>(make_services(*context));
  spdlog::debug("platform {}", *base);
  return context;
}

Services Context::make_services(Context& context) {
  const Settings& s = context.settings_;
  ProgressDisplay& progress = *context.progress_;
  return Services{
      .api = *context.api_,
      .transport = *context.transport_,
      .clock = context.clock_,
      .state_dir = s.state_dir.value,
      .allow_insecure_http = s.allow_insecure_http.value,
      .stall_timeout = s.stall_timeout,
      .on_notice = log_notice,
      .on_retry = log_retry,
      .on_poll =
          [&progress, interval = s.interval.value](const std::vector<Export>& exports) {
            for (const auto& e : exports) spdlog::info("export {} is {}", e.id, status_text(e));
            progress.waiting(exports, interval);
          },
      .on_download = [&progress](const Export& exp) { progress.start_download(exp); },
      .on_progress = [&progress](const DownloadProgress& p) { progress.file_progress(p); },
  };
}

SettingsFlags command_flags(const GlobalOptions& global, const std::optional<std::string>& interval,
                            const std::optional<std::string>& timeout, const OutputOptions* output) {
  SettingsFlags flags = global.settings;
  flags.interval = interval;
  flags.timeout = timeout;
  if (output != nullptr) {
    flags.output_dir = output->out_dir;
    flags.parallel = output->parallel;
  }
  return flags;
}

Result<S3Location> s3_location(const Settings& settings, const std::string& url) {
  auto location = parse_s3_url(url);
  if (!location) return location;
  auto store = read_s3_store(settings, process_env, [](const std::string& warning) { spdlog::warn("{}", warning); });
  if (!store) return std::unexpected(store.error());
  location->store = std::move(*store);
  return location;
}

Result<DownloadSpec> download_spec(const Settings& settings, const OutputOptions& output) {
  DownloadSpec spec{
      .parallel = settings.parallel.value, .split = output.split, .validate = output.validate, .force = output.force};
  if (output.to_stdout) {
    spec.out_stream = stdout;
  } else if (settings.output_dir && is_s3_url(settings.output_dir->value.string())) {
    auto store = s3_location(settings, settings.output_dir->value.string());
    if (!store) return std::unexpected(store.error());
    spec.out_store = std::move(*store);
  } else if (settings.output_dir) {
    spec.out_dir = settings.output_dir->value;
  } else {
    return fail(ErrorKind::Usage, "say where the data goes: -o DIR or --stdout (or output_dir in the config profile)");
  }
  return spec;
}

WaitOptions wait_options(const Settings& settings) {
  return WaitOptions{.interval = settings.interval.value, .timeout = settings.timeout.value};
}

std::optional<int> parse_count(std::string_view text) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
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

void add_wait_options(CLI::App& command, std::optional<std::string>& interval, std::optional<std::string>& timeout) {
  command.add_option("--interval", interval, "time between status checks (ms, s, m, h; default 5m)");
  command.add_option("--timeout", timeout, "give up waiting after this long (default 24h)");
}

void add_directory_options(CLI::App& command, OutputOptions& output) {
  command.add_option("-o,--output-dir", output.out_dir,
                     "write DIR/<ExportId>/part-NNN.jsonl + manifest.json (DIR may be s3://BUCKET/PREFIX)");
  command.add_option("--parallel", output.parallel, "files downloaded at once (default 4)")
      ->check(CLI::Range(1, kMaxParallel));
  command.add_option("--split", output.split, "Range requests at once per file of 64 MiB or more (1: none; default 4)")
      ->check(CLI::Range(1, 16));
  command.add_flag("--validate", output.validate,
                   "check that every line is a JSON object (exit 6 naming the first bad line)");
}

void add_output_options(CLI::App& command, OutputOptions& output) {
  add_directory_options(command, output);
  auto* out = command.add_flag("--stdout", output.to_stdout, "write all records, in order, to standard output");
  command.get_option("--output-dir")->excludes(out);
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
