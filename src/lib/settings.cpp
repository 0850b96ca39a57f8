#include "mews_export/settings.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "files.hpp"
#include "mews_export/journal.hpp"
#include "mews_export/time.hpp"
#include "mews_export/url.hpp"
#include "mews_export/version.hpp"

namespace mews_export {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string profile_origin(const ConfigProfile& profile) { return profile.name + " (" + profile.file.string() + ")"; }

// Where one setting may come from, first match wins.
struct Layers {
  const EnvLookup& env;
  const ConfigProfile* profile;
};

// The first of `flag` (named `flag_name`), environment `env_name` (may be
// null), profile key `key` (may be null) that is present; nullopt when none is.
std::optional<Sourced<std::string>> pick(const Layers& at, const std::optional<std::string>& flag,
                                         const char* flag_name, const char* env_name, const char* key) {
  if (flag) return Sourced<std::string>{*flag, SettingSource::CommandLine, flag_name};
  if (env_name != nullptr) {
    if (auto value = at.env(env_name)) return Sourced<std::string>{*value, SettingSource::Environment, env_name};
  }
  if (at.profile != nullptr && key != nullptr) {
    if (const auto it = at.profile->values.find(key); it != at.profile->values.end()) {
      return Sourced<std::string>{it->second, SettingSource::Profile, profile_origin(*at.profile)};
    }
  }
  return std::nullopt;
}

// The same, with `fallback` as the default.
Sourced<std::string> pick_or(const Layers& at, const std::optional<std::string>& flag, const char* flag_name,
                             const char* env_name, const char* key, std::string fallback) {
  if (auto found = pick(at, flag, flag_name, env_name, key)) return std::move(*found);
  return Sourced<std::string>{std::move(fallback), SettingSource::Default, ""};
}

// "--interval '5x'", "MEWS_PLATFORM 'x'" or "interval = '5x' in profile default (/path)".
std::string where(const Sourced<std::string>& s, const char* key) {
  if (s.source == SettingSource::Profile) return std::string(key) + " = '" + s.value + "' in profile " + s.origin;
  return s.origin + " '" + s.value + "'";
}

template <class T>
Sourced<T> as(const Sourced<std::string>& s, T value) {
  return Sourced<T>{std::move(value), s.source, s.origin};
}

Result<Sourced<std::chrono::milliseconds>> duration_setting(const Layers& at, const std::optional<std::string>& flag,
                                                            const char* flag_name, const char* key,
                                                            std::chrono::milliseconds fallback) {
  const auto text = pick(at, flag, flag_name, nullptr, key);
  if (!text) return Sourced<std::chrono::milliseconds>{fallback, SettingSource::Default, ""};
  const auto d = parse_duration(text->value);
  if (!d || d->count() <= 0) {
    return fail(ErrorKind::Usage, where(*text, key) + " is not a duration; use e.g. 30s, 5m or 1h");
  }
  return as(*text, *d);
}

std::optional<int> parse_int(std::string_view text) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

Result<Sourced<int>> parallel_setting(const Layers& at, const std::optional<int>& flag) {
  if (flag) return Sourced<int>{*flag, SettingSource::CommandLine, "--parallel"};
  const auto text = pick(at, std::nullopt, nullptr, nullptr, "parallel");
  if (!text) return Sourced<int>{kDefaultParallel, SettingSource::Default, ""};
  const auto n = parse_int(text->value);
  if (!n || *n < 1 || *n > kMaxParallel) {
    return fail(ErrorKind::Usage,
                where(*text, "parallel") + " is not a number from 1 to " + std::to_string(kMaxParallel));
  }
  return as(*text, *n);
}

Result<Sourced<bool>> bool_setting(const Layers& at, bool flag, const char* flag_name, const char* key) {
  if (flag) return Sourced<bool>{true, SettingSource::CommandLine, flag_name};
  const auto text = pick(at, std::nullopt, nullptr, nullptr, key);
  if (!text) return Sourced<bool>{false, SettingSource::Default, ""};
  if (text->value != "true" && text->value != "false")
    return fail(ErrorKind::Usage, where(*text, key) + " is not true or false");
  return as(*text, text->value == "true");
}

struct TokenNames {
  const char* flag;       // --client-token-file
  const char* value_env;  // MEWS_CLIENT_TOKEN
  const char* file_env;   // MEWS_CLIENT_TOKEN_FILE
  const char* file_key;   // client_token_file
  const char* env_key;    // client_token_env
};

constexpr TokenNames kClientToken{"--client-token-file", "MEWS_CLIENT_TOKEN", "MEWS_CLIENT_TOKEN_FILE",
                                  "client_token_file", "client_token_env"};
constexpr TokenNames kAccessToken{"--access-token-file", "MEWS_ACCESS_TOKEN", "MEWS_ACCESS_TOKEN_FILE",
                                  "access_token_file", "access_token_env"};

// Where a token comes from: flag file > env value > env file > profile file >
// profile env. With `profile_only` (runs over several profiles), only the profile.
std::optional<Sourced<TokenSource>> token_setting(const Layers& at, const std::optional<std::string>& flag,
                                                  const TokenNames& names, bool profile_only) {
  const auto file = [&](const std::string& path) { return TokenSource{TokenFile{expand_home(path, at.env)}}; };
  if (!profile_only) {
    if (flag) return Sourced<TokenSource>{file(*flag), SettingSource::CommandLine, names.flag};
    if (at.env(names.value_env)) {
      return Sourced<TokenSource>{TokenEnv{names.value_env}, SettingSource::Environment, names.value_env};
    }
    if (auto path = at.env(names.file_env)) {
      return Sourced<TokenSource>{file(*path), SettingSource::Environment, names.file_env};
    }
  }
  if (at.profile == nullptr) return std::nullopt;
  const auto origin = profile_origin(*at.profile);
  if (const auto it = at.profile->values.find(names.file_key); it != at.profile->values.end()) {
    return Sourced<TokenSource>{file(it->second), SettingSource::Profile, origin};
  }
  if (const auto it = at.profile->values.find(names.env_key); it != at.profile->values.end()) {
    return Sourced<TokenSource>{TokenEnv{it->second}, SettingSource::Profile, origin};
  }
  return std::nullopt;
}

Result<std::optional<Sourced<std::filesystem::path>>> ca_bundle_setting(const Layers& at, const SettingsFlags& flags) {
  const auto text = pick(at, flags.ca_bundle, "--ca-bundle", nullptr, "ca_bundle");
  if (!text) return std::optional<Sourced<std::filesystem::path>>{};
  const auto path = expand_home(text->value, at.env);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return fail(ErrorKind::Usage, "CA bundle " + path.string() + " (" +
                                      (text->origin.empty() ? "ca_bundle" : text->origin) +
                                      ") does not exist or is not a file");
  }
  return std::optional(as(*text, path));
}

// The settings that only come from flags: --retry, --retry-max-time, --stall-timeout.
Status flag_only_settings(const SettingsFlags& flags, Settings& out) {
  if (flags.retries) out.retry.max_attempts = *flags.retries + 1;
  if (flags.retry_max_time) {
    const auto budget = parse_duration(*flags.retry_max_time);
    if (!budget) {
      return fail(ErrorKind::Usage,
                  "--retry-max-time '" + *flags.retry_max_time + "' is not a duration; use e.g. 30s, 15m");
    }
    out.retry.max_total = *budget;
  }
  if (flags.stall_timeout) {
    const auto d = parse_duration(*flags.stall_timeout);
    if (!d || *d < std::chrono::seconds{1}) {
      return fail(ErrorKind::Usage, "--stall-timeout '" + *flags.stall_timeout + "' is not a duration of 1s or more");
    }
    out.stall_timeout = std::chrono::duration_cast<std::chrono::seconds>(*d);
  }
  return {};
}

Status command_settings(const Layers& at, const SettingsFlags& flags, Settings& out) {
  if (flags.interval && flags.interval->empty())
    return fail(ErrorKind::Usage, "--interval needs a duration, e.g. 30s, 5m or 1h");
  if (flags.timeout && flags.timeout->empty())
    return fail(ErrorKind::Usage, "--timeout needs a duration, e.g. 30m or 24h");
  auto interval = duration_setting(at, flags.interval, "--interval", "interval", kDefaultPollInterval);
  if (!interval) return std::unexpected(interval.error());
  auto timeout = duration_setting(at, flags.timeout, "--timeout", "timeout", kDefaultWaitTimeout);
  if (!timeout) return std::unexpected(timeout.error());
  auto parallel = parallel_setting(at, flags.parallel);
  if (!parallel) return std::unexpected(parallel.error());
  out.interval = *interval;
  out.timeout = *timeout;
  out.parallel = *parallel;
  if (auto dir = pick(at, flags.output_dir, "--output-dir", nullptr, "output_dir")) {
    out.output_dir = as(*dir, expand_home(dir->value, at.env));
  }
  return flag_only_settings(flags, out);
}

// Object storage. The AWS_* variables describe the user's store, not a
// property: they apply in runs over several profiles too.
void s3_settings(const Layers& at, const SettingsFlags& flags, Settings& out) {
  out.s3_endpoint = pick(at, flags.s3_endpoint, "--s3-endpoint", "AWS_ENDPOINT_URL_S3", "s3_endpoint");
  auto region = pick(at, std::nullopt, nullptr, "AWS_REGION", nullptr);
  if (!region) region = pick(at, std::nullopt, nullptr, "AWS_DEFAULT_REGION", "s3_region");
  out.s3_region = region ? std::move(*region) : Sourced<std::string>{"us-east-1", SettingSource::Default, ""};
  out.s3_access_key_id = pick(at, std::nullopt, nullptr, "AWS_ACCESS_KEY_ID", "s3_access_key_id");
  if (at.env("AWS_SECRET_ACCESS_KEY")) {
    out.s3_secret_access_key =
        Sourced<TokenSource>{TokenEnv{"AWS_SECRET_ACCESS_KEY"}, SettingSource::Environment, "AWS_SECRET_ACCESS_KEY"};
  } else if (at.profile != nullptr) {
    if (const auto it = at.profile->values.find("s3_secret_access_key_file"); it != at.profile->values.end()) {
      out.s3_secret_access_key = Sourced<TokenSource>{TokenFile{expand_home(it->second, at.env)},
                                                      SettingSource::Profile, profile_origin(*at.profile)};
    }
  }
}

// Everything but the config file and profile choice, from `at`.
Status resolve_values(const Layers& at, const SettingsFlags& flags, bool profile_only, Settings& out) {
  const auto* platform_env = profile_only ? nullptr : "MEWS_PLATFORM";
  out.platform = pick_or(at, flags.platform, "--platform", platform_env, "platform", kDefaultPlatform);
  out.client = pick_or(at, flags.client, "--client", profile_only ? nullptr : "MEWS_CLIENT", "client",
                       std::string("mews-export ") + version());
  out.client_token = token_setting(at, flags.client_token_file, kClientToken, profile_only);
  out.access_token = token_setting(at, flags.access_token_file, kAccessToken, profile_only);
  const auto state = pick_or(at, flags.state_dir, "--state-dir", "MEWS_EXPORT_STATE_DIR", "state_dir",
                             default_state_dir(at.env).string());
  out.state_dir = as(state, expand_home(state.value, at.env));
  auto ca_bundle = ca_bundle_setting(at, flags);
  if (!ca_bundle) return std::unexpected(ca_bundle.error());
  out.ca_bundle = std::move(*ca_bundle);
  auto insecure = bool_setting(at, flags.allow_insecure_http, "--allow-insecure-http", "allow_insecure_http");
  if (!insecure) return std::unexpected(insecure.error());
  out.allow_insecure_http = *insecure;
  s3_settings(at, flags, out);
  return command_settings(at, flags, out);
}

// The config file: --config (must exist) or the default (may be absent).
Result<std::optional<ConfigFile>> config_file_of(const SettingsFlags& flags, const EnvLookup& env, Settings& out) {
  out.config_file = flags.config ? expand_home(*flags.config, env) : default_config_path(env);
  std::error_code ec;
  out.config_file_exists = std::filesystem::exists(out.config_file, ec);
  if (flags.config && !out.config_file_exists) {
    return fail(ErrorKind::Usage, "--config " + out.config_file.string() + " does not exist");
  }
  if (!out.config_file_exists) return std::optional<ConfigFile>{};
  auto file = load_config(out.config_file);
  if (!file) return std::unexpected(file.error());
  return std::optional(std::move(*file));
}

}  // namespace

std::string describe(const TokenSource& source) {
  if (const auto* file = std::get_if<TokenFile>(&source)) return "file " + file->path.string();
  return "env " + std::get<TokenEnv>(source).variable;
}

Result<Settings> resolve_settings(const SettingsFlags& flags, const EnvLookup& env) {
  Settings out;
  auto file = config_file_of(flags, env, out);
  if (!file) return std::unexpected(file.error());
  out.profile = pick_or(Layers{env, nullptr}, flags.profile, "--profile", "MEWS_PROFILE", nullptr, kDefaultProfile);
  const ConfigProfile* profile = *file ? (*file)->find(out.profile.value) : nullptr;
  // The default profile may be absent; one asked for by name must exist.
  if (profile == nullptr && out.profile.source != SettingSource::Default) {
    return std::unexpected(unknown_profile(out.profile.value, *file ? &**file : nullptr, out.config_file));
  }
  out.profile_loaded = profile != nullptr;
  if (auto st = resolve_values(Layers{env, profile}, flags, /*profile_only=*/false, out); !st) {
    return std::unexpected(st.error());
  }
  return out;
}

Result<Settings> resolve_profile_settings(const SettingsFlags& flags, const ConfigFile& file, const std::string& name,
                                          const EnvLookup& env) {
  const ConfigProfile* profile = file.find(name);
  if (profile == nullptr) return std::unexpected(unknown_profile(name, &file, file.path));
  Settings out;
  out.config_file = file.path;
  out.config_file_exists = true;
  out.profile = Sourced<std::string>{name, SettingSource::CommandLine, "--profile"};
  out.profile_loaded = true;
  if (auto st = resolve_values(Layers{env, profile}, flags, /*profile_only=*/true, out); !st) {
    return std::unexpected(st.error());
  }
  return out;
}

Result<std::string> base_url(const Settings& settings) {
  return resolve_platform(settings.platform.value, settings.allow_insecure_http.value);
}

namespace {

Result<std::string> read_token(const std::optional<Sourced<TokenSource>>& source, const TokenNames& names,
                               const char* which, const EnvLookup& env,
                               const std::function<void(const std::string&)>& on_warning) {
  if (!source) {
    return fail(ErrorKind::Usage, std::string("no ") + which + " token: set " + names.value_env + " (the value) or " +
                                      names.file_env + " (a file holding it), pass " + names.flag +
                                      " PATH, or name a file in the config profile (" + names.file_key +
                                      "); tokens are never taken as command-line values");
  }
  if (const auto* variable = std::get_if<TokenEnv>(&source->value)) {
    if (auto value = env(variable->variable.c_str())) return *value;
    return fail(ErrorKind::Usage, std::string("the ") + which + " token should come from environment variable " +
                                      variable->variable + " (" + source->origin + "), which is not set");
  }
  const auto& path = std::get<TokenFile>(source->value).path;
  bool readable_by_others = false;
  auto token = read_token_file(path, &readable_by_others);
  if (token && readable_by_others && on_warning) {
    on_warning("token file " + path.string() + " is readable by other users; restrict it with: chmod 600 " +
               path.string());
  }
  return token;
}

}  // namespace

Result<ApiCredentials> read_credentials(const Settings& settings, const EnvLookup& env,
                                        const std::function<void(const std::string&)>& on_warning) {
  auto client_token = read_token(settings.client_token, kClientToken, "client", env, on_warning);
  if (!client_token) return std::unexpected(client_token.error());
  auto access_token = read_token(settings.access_token, kAccessToken, "access", env, on_warning);
  if (!access_token) return std::unexpected(access_token.error());
  return ApiCredentials{.client_token = std::move(*client_token),
                        .access_token = std::move(*access_token),
                        .client = settings.client.value};
}

Result<S3Store> read_s3_store(const Settings& settings, const EnvLookup& env,
                              const std::function<void(const std::string&)>& on_warning) {
  if (!settings.s3_access_key_id || settings.s3_access_key_id->value.empty() || !settings.s3_secret_access_key) {
    return fail(ErrorKind::Usage,
                "writing to s3:// needs the store's credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
                "s3_access_key_id and s3_secret_access_key_file in the config profile");
  }
  S3Store store;
  if (settings.s3_endpoint) store.endpoint = settings.s3_endpoint->value;
  store.region = settings.s3_region.value;
  store.access_key_id = settings.s3_access_key_id->value;
  const auto& source = settings.s3_secret_access_key->value;
  if (const auto* variable = std::get_if<TokenEnv>(&source)) {
    store.secret_access_key = env(variable->variable.c_str()).value_or("");
  } else {
    const auto& path = std::get<TokenFile>(source).path;
    bool readable_by_others = false;
    auto secret = read_token_file(path, &readable_by_others);
    if (!secret) return std::unexpected(secret.error());
    if (readable_by_others && on_warning) {
      on_warning("secret key file " + path.string() + " is readable by other users; restrict it with: chmod 600 " +
                 path.string());
    }
    store.secret_access_key = std::move(*secret);
  }
  if (store.secret_access_key.empty()) return fail(ErrorKind::Usage, "the S3 secret access key is empty");
  store.session_token = env("AWS_SESSION_TOKEN").value_or("");
  return store;
}

std::vector<SettingView> describe(const Settings& s) {
  std::vector<SettingView> rows;
  const auto add = [&rows](const char* name, std::optional<std::string> value, SettingSource source,
                           const std::string& origin, bool secret = false) {
    rows.push_back(SettingView{name, std::move(value), source, origin, secret});
  };
  const auto token = [&](const char* name, const std::optional<Sourced<TokenSource>>& t) {
    if (t) return add(name, describe(t->value), t->source, t->origin, true);
    add(name, std::nullopt, SettingSource::Default, "", true);
  };
  const auto path = [&](const char* name, const std::optional<Sourced<std::filesystem::path>>& p) {
    if (p) return add(name, p->value.string(), p->source, p->origin);
    add(name, std::nullopt, SettingSource::Default, "");
  };
  add("platform", s.platform.value, s.platform.source, s.platform.origin);
  add("client", s.client.value, s.client.source, s.client.origin);
  token("client_token", s.client_token);
  token("access_token", s.access_token);
  add("state_dir", s.state_dir.value.string(), s.state_dir.source, s.state_dir.origin);
  path("ca_bundle", s.ca_bundle);
  add("allow_insecure_http", s.allow_insecure_http.value ? "true" : "false", s.allow_insecure_http.source,
      s.allow_insecure_http.origin);
  path("output_dir", s.output_dir);
  add("interval", format_duration(s.interval.value), s.interval.source, s.interval.origin);
  add("timeout", format_duration(s.timeout.value), s.timeout.source, s.timeout.origin);
  add("parallel", std::to_string(s.parallel.value), s.parallel.source, s.parallel.origin);
  const auto text = [&](const char* name, const std::optional<Sourced<std::string>>& t) {
    if (t) return add(name, t->value, t->source, t->origin);
    add(name, std::nullopt, SettingSource::Default, "");
  };
  text("s3_endpoint", s.s3_endpoint);
  add("s3_region", s.s3_region.value, s.s3_region.source, s.s3_region.origin);
  text("s3_access_key_id", s.s3_access_key_id);
  token("s3_secret_access_key", s.s3_secret_access_key);
  return rows;
}

Result<std::string> resolve_platform(const std::string& platform, bool allow_insecure_http) {
  const auto name = lower(platform);
  if (name == "demo") return std::string(kDemoAddress);
  if (name == "production") return std::string(kProductionAddress);
  std::string url = platform;
  while (!url.empty() && url.back() == '/') url.pop_back();
  const auto parts = parse_url(url);
  if (url.find("://") == std::string::npos || !parts || (parts->scheme != "http" && parts->scheme != "https") ||
      parts->host.empty()) {
    return fail(ErrorKind::Usage, "--platform '" + platform +
                                      "' is not demo, production or an http(s):// URL such as https://api.mews.com");
  }
  if (parts->scheme == "http" && !allow_insecure_http && !is_loopback_host(parts->host)) {
    return fail(ErrorKind::Usage, "--platform " + url +
                                      " uses plain http:// to a non-loopback host, which would send tokens "
                                      "unencrypted; use https:// or pass --allow-insecure-http");
  }
  return url;
}

std::filesystem::path expand_home(const std::string& path, const EnvLookup& env) {
  if (path == "~" || path.starts_with("~/")) {
    if (const auto home = env("HOME"))
      return std::filesystem::path(*home) / path.substr(std::min<std::size_t>(2, path.size()));
  }
  return path;
}

Result<std::string> read_token_file(const std::filesystem::path& path, bool* world_readable) {
  const auto full = expand_home(path.string());
  struct stat info {};
  if (::stat(full.c_str(), &info) != 0) {
    return fail(ErrorKind::Usage, "token file " + full.string() + " does not exist or cannot be read");
  }
  if (!S_ISREG(info.st_mode)) {
    return fail(ErrorKind::Usage, "token file " + full.string() +
                                      " is not a regular file (a directory, FIFO or device?); give the file "
                                      "that holds only the token");
  }
  if (world_readable != nullptr) *world_readable = (info.st_mode & (S_IRGRP | S_IROTH)) != 0;
  auto content = detail::read_regular_file(full, kMaxTokenFileBytes);
  if (!content) {
    return fail(ErrorKind::Usage, "token file " + full.string() + ": " + content.error().message +
                                      " (a token file holds only the token, at most " +
                                      std::to_string(kMaxTokenFileBytes / 1024) + " KiB)");
  }
  std::string token = std::move(*content);
  const auto not_space = [](unsigned char c) { return !std::isspace(c); };
  token.erase(token.begin(), std::find_if(token.begin(), token.end(), not_space));
  token.erase(std::find_if(token.rbegin(), token.rend(), not_space).base(), token.end());
  if (token.empty()) return fail(ErrorKind::Usage, "token file " + full.string() + " is empty");
  if (token.find('\n') != std::string::npos) {
    return fail(ErrorKind::Usage,
                "token file " + full.string() + " holds more than one line; put only the token in it");
  }
  return token;
}

}  // namespace mews_export
