// `mews-export sync`: incremental exports of what changed since the last
// successful sync, for one or many (profile, entity type) jobs: the jobs are
// planned here, run by the library (run_sync_jobs), and summed up on stdout.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>

#include "app.hpp"
#include "mews_export/metrics.hpp"
#include "mews_export/poll_group.hpp"
#include "mews_export/rate_limit.hpp"
#include "mews_export/sync.hpp"

namespace mews_export::cli {
namespace {

struct SyncOptions {
  std::vector<std::string> entities;
  bool all_entities = false;
  std::vector<std::string> profiles;
  bool all_profiles = false;
  std::vector<std::string> enterprise_ids;
  std::vector<std::string> chain_ids;
  std::optional<std::string> since;
  bool reset = false;
  OutputOptions output;
  std::optional<std::string> interval;
  std::optional<std::string> timeout;
  int max_concurrent = 4;
  std::optional<std::string> shard;
  std::optional<std::string> metrics_file;
  bool wait_lock = false;
};

// A profile's share of the run: its context (or why there is none).
struct ProfileRun {
  std::string name;
  Result<std::unique_ptr<Context>> context = std::unexpected(Error{});
};

// What the profiles of one access token share: their request budget and their polls.
struct Shared {
  std::map<std::string, std::shared_ptr<RequestBudget>> budgets;  // by access token
  std::map<std::string, std::unique_ptr<PollGroup>> polls;        // by platform and access token
};

Result<std::vector<EntityType>> entities_of(const SyncOptions& options) {
  std::vector<EntityType> out;
  if (options.all_entities) {
    for (const auto type : all_entity_types()) {
      if (type != EntityType::LedgerEntry) out.push_back(type);  // it needs --since
    }
  }
  for (const auto& name : options.entities) {
    const auto type = parse_entity_type(name);
    if (!type) return fail(ErrorKind::Usage, "unknown entity type '" + name + "'");
    if (std::find(out.begin(), out.end(), *type) == out.end()) out.push_back(*type);
  }
  if (out.empty()) return fail(ErrorKind::Usage, "say what to sync: --entity TYPE (repeatable) or --all-entities");
  return out;
}

// --shard I/N -> {I, N}; {0, 1} without it.
Result<std::pair<int, int>> shard_of(const SyncOptions& options) {
  if (!options.shard) return std::pair{0, 1};
  const auto slash = options.shard->find('/');
  const auto index = parse_count(options.shard->substr(0, slash == std::string::npos ? 0 : slash));
  const auto count = slash == std::string::npos ? std::nullopt : parse_count(options.shard->substr(slash + 1));
  if (!index || !count || *count < 1 || *index >= *count) {
    return fail(ErrorKind::Usage, "--shard '" + *options.shard + "' is not I/N with 0 <= I < N, e.g. 0/4");
  }
  return std::pair{*index, *count};
}

// The profiles named (--profile, repeatable, or the global one), or all of
// the configuration file's; sorted bytewise, then sharded. `many`: a run
// over several profiles (their own tokens, DIR/<profile>/ layout).
Result<std::vector<std::string>> profiles_of(const GlobalOptions& global, const SyncOptions& options,
                                             const std::optional<ConfigFile>& file, bool& many) {
  std::set<std::string> names(options.profiles.begin(), options.profiles.end());
  if (global.settings.profile) names.insert(*global.settings.profile);
  if (options.all_profiles) {
    if (!file) return fail(ErrorKind::Usage, "--all-profiles needs a configuration file with [profiles.NAME] tables");
    for (const auto& [name, profile] : file->profiles) names.insert(name);
  }
  many = options.all_profiles || names.size() > 1;
  std::vector<std::string> sorted(names.begin(), names.end());  // std::set: bytewise order
  if (sorted.empty()) sorted.push_back("");                     // the profile the settings resolve to
  auto shard = shard_of(options);
  if (!shard) return std::unexpected(shard.error());
  return shard_profiles(sorted, shard->first, shard->second);
}

Result<std::optional<ConfigFile>> config_of(const GlobalOptions& global) {
  const auto path = global.settings.config ? expand_home(*global.settings.config) : default_config_path();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::optional<ConfigFile>{};
  auto file = load_config(path);
  if (!file) return std::unexpected(file.error());
  return std::optional(std::move(*file));
}

void warn_ignored_environment() {
  for (const char* name : {"MEWS_PLATFORM", "MEWS_CLIENT_TOKEN", "MEWS_CLIENT_TOKEN_FILE", "MEWS_ACCESS_TOKEN",
                           "MEWS_ACCESS_TOKEN_FILE"}) {
    if (process_env(name)) {
      spdlog::warn("{} is ignored in a sync over several profiles: each profile's own settings are used", name);
    }
  }
}

// The settings of one profile (`name` empty: the one resolution picks).
Result<Settings> profile_settings(const SettingsFlags& flags, const std::optional<ConfigFile>& file,
                                  const std::string& name, bool many) {
  if (!many) {
    SettingsFlags one = flags;
    if (!name.empty()) one.profile = name;
    return resolve_settings(one);
  }
  return resolve_profile_settings(flags, *file, name);
}

std::string access_token_of(const Settings& settings) {
  auto credentials = read_credentials(settings);
  return credentials ? credentials->access_token : std::string();
}

// One request budget per access token, shared by every profile that uses it.
std::shared_ptr<RequestBudget> budget_for(const Settings& settings, RateLimit limit, Shared& shared) {
  auto& budget = shared.budgets[access_token_of(settings)];
  if (!budget) budget = std::make_shared<RequestBudget>(limit);
  return budget;
}

// One poll group per platform and access token: one getAll per tick for all their jobs.
void share_polls(Context& context, Shared& shared) {
  const auto& api = context.api().options();
  auto& group = shared.polls[api.base_url + '\n' + api.credentials.access_token];
  if (!group)
    group = std::make_unique<PollGroup>(context.api(), context.services().clock, context.settings().interval.value);
  context.share_polls(group.get());
}

RateLimit rate_limit() {
  const auto text = process_env("MEWS_EXPORT_RATE_LIMIT");
  if (!text) return kApiRateLimit;
  if (const auto limit = parse_rate_limit(*text)) return *limit;
  spdlog::warn("MEWS_EXPORT_RATE_LIMIT '{}' is not N/DURATION (e.g. 200/30s); using 200/30s", *text);
  return kApiRateLimit;
}

std::vector<ProfileRun> contexts_of(const GlobalOptions& global, const SettingsFlags& flags,
                                    const std::optional<ConfigFile>& file, const std::vector<std::string>& names,
                                    bool many, bool single_job, Shared& shared) {
  const RateLimit limit = rate_limit();
  std::vector<ProfileRun> runs;
  for (const auto& name : names) {
    ProfileRun run{.name = name};
    auto settings = profile_settings(flags, file, name, many);
    if (settings) {
      if (run.name.empty()) run.name = settings->profile.value;
      auto budget = budget_for(*settings, limit, shared);
      run.context = Context::from_settings(global, std::move(*settings), std::move(budget), single_job);
      if (run.context && !single_job) share_polls(**run.context, shared);
    } else {
      if (run.name.empty()) run.name = kDefaultProfile;
      run.context = std::unexpected(settings.error());
    }
    runs.push_back(std::move(run));
  }
  return runs;
}

Result<SyncSpec> base_spec(const SyncOptions& options) {
  SyncSpec spec{.enterprise_ids = options.enterprise_ids,
                .chain_ids = options.chain_ids,
                .reset = options.reset,
                .wait_lock = options.wait_lock};
  if (options.since) {
    const auto since = parse_time_arg(*options.since);
    if (!since)
      return fail(ErrorKind::Usage, "--since '" + *options.since + "' is not a time (YYYY-MM-DD[Thh:mm:ssZ])");
    spec.since = *since;
  }
  return spec;
}

// The jobs: every profile × every entity type.
Result<std::vector<SyncJob>> jobs_of(const SyncOptions& options, const std::vector<EntityType>& entities,
                                     const std::vector<ProfileRun>& runs, bool many) {
  auto base = base_spec(options);
  if (!base) return std::unexpected(base.error());
  std::vector<SyncJob> jobs;
  for (const auto& run : runs) {
    for (const auto entity : entities) {
      SyncJob job{.spec = *base};
      job.spec.profile = run.name;
      job.spec.entity = entity;
      if (!run.context) {
        job.services = std::unexpected(run.context.error());
        jobs.push_back(std::move(job));
        continue;
      }
      const Settings& s = (*run.context)->settings();
      if (!s.output_dir)
        return fail(ErrorKind::Usage, "say where the data goes: -o DIR (or output_dir in the profile)");
      const std::string type(to_string(entity));
      if (is_s3_url(s.output_dir->value.string())) {
        auto root = s3_location(s, s.output_dir->value.string());
        if (!root) return std::unexpected(root.error());
        job.spec.out_store = (many ? root->child(run.name) : *root).child(type);
      } else {
        const auto root = many ? s.output_dir->value / run.name : s.output_dir->value;
        job.spec.out_dir = root / type;
      }
      job.spec.parallel = s.parallel.value;
      job.spec.split = options.output.split;
      job.spec.validate = options.output.validate;
      job.spec.wait = wait_options(s);
      job.services = &(*run.context)->services();
      jobs.push_back(std::move(job));
    }
  }
  return jobs;
}

void print_summary(const std::vector<SyncOutcome>& outcomes, bool json) {
  if (json) {
    auto array = nlohmann::json::array();
    for (const auto& o : outcomes) {
      const SyncResult r = o.result.value_or(SyncResult{});
      nlohmann::json row = {{"Profile", o.profile},
                            {"EntityType", std::string(to_string(o.entity))},
                            {"Windows", r.windows},
                            {"Files", r.files},
                            {"SizeInBytes", r.size_in_bytes},
                            {"Lines", r.lines},
                            {"Result", o.result ? "ok" : "failed"},
                            {"ExitCode", o.result ? 0 : exit_code(o.result.error())}};
      if (!o.result) row["Error"] = describe(o.result.error());
      array.push_back(std::move(row));
    }
    return print_json(array);
  }
  std::vector<std::vector<std::string>> rows{
      {"PROFILE", "ENTITY", "WINDOWS", "FILES", "BYTES", "RECORDS", "RESULT", "EXIT"}};
  for (const auto& o : outcomes) {
    const SyncResult r = o.result.value_or(SyncResult{});
    rows.push_back({o.profile, std::string(to_string(o.entity)), std::to_string(r.windows), std::to_string(r.files),
                    human_size(r.size_in_bytes), std::to_string(r.lines), o.result ? "ok" : "failed",
                    std::to_string(o.result ? 0 : exit_code(o.result.error()))});
  }
  print_table(std::move(rows));
}

void write_metrics(const std::optional<std::string>& path, const std::vector<SyncOutcome>& outcomes, double started) {
  if (!path) return;
  std::vector<JobMetrics> jobs;
  for (const auto& o : outcomes) {
    const SyncResult r = o.result.value_or(SyncResult{});
    const double seconds = static_cast<double>(o.duration.count()) / 1000.0;
    jobs.push_back(JobMetrics{.profile = o.profile,
                              .entity = std::string(to_string(o.entity)),
                              .last_run = started,
                              .last_success = o.result ? std::optional(started + seconds) : std::nullopt,
                              .exit_code = o.result ? 0 : exit_code(o.result.error()),
                              .bytes = r.size_in_bytes,
                              .records = r.lines,
                              .files = r.files,
                              .duration_seconds = seconds});
  }
  if (auto ok = update_metrics_file(expand_home(*path), jobs); !ok) report(ok.error());
}

double unix_now() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

int run_sync(const GlobalOptions& global, const SyncOptions& options) {
  const double started = unix_now();
  auto entities = entities_of(options);
  if (!entities) return report(entities.error());
  if (auto spec = base_spec(options); !spec) return report(spec.error());
  auto file = config_of(global);
  if (!file) return report(file.error());
  bool many = false;
  auto names = profiles_of(global, options, *file, many);
  if (!names) return report(names.error());
  if (many) warn_ignored_environment();
  const SettingsFlags flags = command_flags(global, options.interval, options.timeout, &options.output);
  const bool single = names->size() * entities->size() == 1;
  Shared shared;
  auto runs = contexts_of(global, flags, *file, *names, many, single, shared);
  auto jobs = jobs_of(options, *entities, runs, many);
  if (!jobs) return report(jobs.error());
  const auto outcomes = run_sync_jobs(*jobs, std::max(1, options.max_concurrent));
  for (auto& run : runs) {
    if (run.context) (*run.context)->progress().stop();
  }
  for (const auto& o : outcomes) {
    if (!o.result) report(o.result.error());
  }
  print_summary(outcomes, global.json);
  write_metrics(options.metrics_file, outcomes, started);
  return sync_exit_code(outcomes);
}

}  // namespace

void setup_sync(CLI::App& app, GlobalOptions& global, CommandRunner& runner) {
  auto options = std::make_shared<SyncOptions>();
  auto* command = app.add_subcommand("sync", "Export what changed since the last sync, per profile and entity type");
  command->add_option("--entity", options->entities, "entity type to sync (repeatable)");
  command->add_flag("--all-entities", options->all_entities, "every entity type but LedgerEntry (which needs --since)");
  command->add_option("--profile", options->profiles, "configuration profile to sync (repeatable)");
  command->add_flag("--all-profiles", options->all_profiles, "every profile of the configuration file");
  command->add_option("--enterprise", options->enterprise_ids, "limit to this enterprise id (repeatable)");
  command->add_option("--chain", options->chain_ids, "limit to this chain id (repeatable)");
  command->add_option("--since", options->since,
                      "first sync only: start here (YYYY-MM-DD[Thh:mm:ssZ]) instead of a full export");
  command->add_flag("--reset", options->reset, "forget the bookmark (with --since: start again from there)");
  add_directory_options(*command, options->output);
  command->get_option("--output-dir")
      ->description("write DIR/[<profile>/]<EntityType>/<window>/ and DIR/[<profile>/]<EntityType>/sync.jsonl");
  add_wait_options(*command, options->interval, options->timeout);
  command->add_option("--max-concurrent", options->max_concurrent, "jobs (profile, entity) at once (default 4)")
      ->check(CLI::Range(1, 64));
  command->add_option("--shard", options->shard, "I/N: only the profiles whose position modulo N is I");
  command->add_option("--metrics-file", options->metrics_file, "write a Prometheus textfile of the jobs here");
  command->add_flag("--wait-lock", options->wait_lock, "wait for another run of a job instead of failing it");
  command->footer(
      "Examples:\n  mews-export sync --entity OrderItem -o /srv/mews\n"
      "  mews-export sync --all-entities --all-profiles --max-concurrent 4 -o /srv/mews "
      "--metrics-file /var/lib/node_exporter/mews.prom\n"
      "  mews-export sync --entity LedgerEntry --since 2026-01-01 -o /srv/mews");
  command->callback(
      [&global, &runner, options] { runner = [&global, options] { return run_sync(global, *options); }; });
}

}  // namespace mews_export::cli
