#include "settings.hpp"

#include "app.hpp"

#include <spdlog/spdlog.h>

#include <memory>

#include "mews_export/journal.hpp"
#include "mews_export/settings.hpp"
#include "mews_export/version.hpp"

namespace mews_export::cli {
namespace {

const Setting kAbsent{};

struct TokenNames {
  const char* flag;       // --client-token-file
  const char* value_env;  // MEWS_CLIENT_TOKEN
  const char* file_env;   // MEWS_CLIENT_TOKEN_FILE
  const char* file_key;   // client_token_file
  const char* env_key;    // client_token_env
};

TokenNames token_names(const std::string& which) {
  if (which == "client") {
    return {"--client-token-file", "MEWS_CLIENT_TOKEN", "MEWS_CLIENT_TOKEN_FILE", "client_token_file",
            "client_token_env"};
  }
  return {"--access-token-file", "MEWS_ACCESS_TOKEN", "MEWS_ACCESS_TOKEN_FILE", "access_token_file",
          "access_token_env"};
}

// Where token `which` comes from, as a Setting whose value is "file PATH",
// "env NAME" or absent.
Setting token_source(const GlobalOptions& options, const ConfigProfile* profile, const std::string& which,
                     const EnvLookup& env) {
  const auto names = token_names(which);
  const auto& flag = which == "client" ? options.client_token_file : options.access_token_file;
  if (flag) return Setting{"file " + *flag, SettingSource::CommandLine, names.flag};
  if (env(names.value_env))
    return Setting{std::string("env ") + names.value_env, SettingSource::Environment, names.value_env};
  if (auto file = env(names.file_env)) return Setting{"file " + *file, SettingSource::Environment, names.file_env};
  if (profile != nullptr) {
    const auto origin = profile->name + " (" + profile->file.string() + ")";
    if (const auto it = profile->values.find(names.file_key); it != profile->values.end()) {
      return Setting{"file " + it->second, SettingSource::Profile, origin};
    }
    if (const auto it = profile->values.find(names.env_key); it != profile->values.end()) {
      return Setting{"env " + it->second, SettingSource::Profile, origin};
    }
  }
  return Setting{};
}

}  // namespace

const Setting& EffectiveSettings::get(const std::string& name) const {
  for (const auto& s : settings) {
    if (s.name == name) return s.setting;
  }
  return kAbsent;
}

Result<EffectiveSettings> resolve_settings(const GlobalOptions& options, const EnvLookup& env) {
  EffectiveSettings out;
  out.config_file = options.config ? expand_home(*options.config) : default_config_path();
  std::error_code ec;
  out.config_file_exists = std::filesystem::is_regular_file(out.config_file, ec);
  if (options.config && !out.config_file_exists) {
    return fail(ErrorKind::Usage, "--config " + out.config_file.string() + " does not exist");
  }
  out.profile = resolve_setting(options.profile, "--profile", "MEWS_PROFILE", nullptr, nullptr, "default", env);
  if (out.config_file_exists) {
    auto loaded = load_profile(out.config_file, *out.profile.value);
    if (loaded) {
      out.loaded_profile = std::move(*loaded);
    } else if (out.profile.source != SettingSource::Default ||
               loaded.error().message.find("has no profile") == std::string::npos) {
      return std::unexpected(loaded.error());  // a named profile must exist; a broken file is an error
    }
  } else if (out.profile.source != SettingSource::Default) {
    return fail(ErrorKind::Usage, "profile '" + *out.profile.value +
                                      "' was asked for, but there is no configuration file " +
                                      out.config_file.string() + " (or pass --config PATH)");
  }
  const ConfigProfile* profile = out.loaded_profile ? &*out.loaded_profile : nullptr;
  const auto add = [&](const char* name, Setting s, bool secret = false) {
    out.settings.push_back(NamedSetting{name, std::move(s), secret});
  };
  add("platform",
      resolve_setting(options.platform, "--platform", "MEWS_PLATFORM", profile, "platform", "production", env));
  add("client", resolve_setting(options.client, "--client", "MEWS_CLIENT", profile, "client",
                                std::string("mews-export ") + version(), env));
  add("client_token", token_source(options, profile, "client", env), true);
  add("access_token", token_source(options, profile, "access", env), true);
  add("state_dir", resolve_setting(options.state_dir, "--state-dir", "MEWS_EXPORT_STATE_DIR", profile, "state_dir",
                                   default_state_dir().string(), env));
  auto ca_bundle = resolve_setting(options.ca_bundle, "--ca-bundle", nullptr, profile, "ca_bundle", std::nullopt, env);
  if (ca_bundle.value) {
    ca_bundle.value = expand_home(*ca_bundle.value).string();
    std::error_code missing;
    if (!std::filesystem::is_regular_file(*ca_bundle.value, missing)) {
      return fail(ErrorKind::Usage, "CA bundle " + *ca_bundle.value + " (" +
                                        (ca_bundle.origin.empty() ? "ca_bundle" : ca_bundle.origin) +
                                        ") does not exist or is not a file");
    }
  }
  add("ca_bundle", std::move(ca_bundle));
  add("allow_insecure_http",
      resolve_setting(options.allow_insecure_http ? std::optional<std::string>("true") : std::nullopt,
                      "--allow-insecure-http", nullptr, profile, "allow_insecure_http", "false", env));
  // Command options: the command line wins over these (see the commands).
  add("output_dir", resolve_setting(std::nullopt, nullptr, nullptr, profile, "output_dir", std::nullopt, env));
  add("interval", resolve_setting(std::nullopt, nullptr, nullptr, profile, "interval", "5m", env));
  add("timeout", resolve_setting(std::nullopt, nullptr, nullptr, profile, "timeout", "24h", env));
  add("parallel", resolve_setting(std::nullopt, nullptr, nullptr, profile, "parallel", "4", env));
  return out;
}

Result<std::string> read_token(const EffectiveSettings& settings, const std::string& which, const EnvLookup& env) {
  const auto names = token_names(which);
  const Setting& source = settings.get(which + "_token");
  if (!source.value) {
    return fail(ErrorKind::Usage, "no " + which + " token: set " + names.value_env + " (the value) or " +
                                      names.file_env + " (a file holding it), pass " + names.flag +
                                      " PATH, or name a file in the config profile (" + names.file_key +
                                      "); tokens are never taken as command-line values");
  }
  const std::string& where = *source.value;
  if (where.starts_with("env ")) {
    const auto name = where.substr(4);
    if (auto value = env(name.c_str())) return *value;
    return fail(ErrorKind::Usage, "the " + which + " token should come from environment variable " + name + " (" +
                                      source.origin + "), which is not set");
  }
  const auto path = where.substr(5);  // "file "
  bool readable_by_others = false;
  auto token = read_token_file(path, &readable_by_others);
  if (token && readable_by_others) {
    spdlog::warn("token file {} is readable by other users; restrict it with: chmod 600 {}", path, path);
  }
  return token;
}

namespace {

int run_config(const GlobalOptions& global) {
  auto settings = resolve_settings(global);
  if (!settings) return report(settings.error());
  const auto source_text = [](const Setting& s) {
    return std::string(to_string(s.source)) + (s.origin.empty() ? "" : " " + s.origin);
  };
  const auto shown = [](const NamedSetting& s) -> nlohmann::json {
    if (!s.setting.value) return nullptr;
    if (!s.secret) return *s.setting.value;
    return "<redacted> (" + *s.setting.value + ")";  // where it comes from, never the value
  };
  if (global.json) {
    nlohmann::json doc = {{"ConfigFile", settings->config_file.string()},
                          {"ConfigFileExists", settings->config_file_exists},
                          {"Profile",
                           {{"Value", *settings->profile.value},
                            {"Source", to_string(settings->profile.source)},
                            {"Origin", settings->profile.origin},
                            {"Loaded", settings->loaded_profile.has_value()}}},
                          {"Settings", nlohmann::json::object()}};
    for (const auto& s : settings->settings) {
      doc["Settings"][s.name] = {
          {"Value", shown(s)}, {"Source", to_string(s.setting.source)}, {"Origin", s.setting.origin}};
    }
    print_json(doc);
    return 0;
  }
  std::vector<std::vector<std::string>> rows{{"SETTING", "VALUE", "SOURCE"}};
  rows.push_back({"config_file", settings->config_file.string() + (settings->config_file_exists ? "" : " (absent)"),
                  global.config ? "flag --config" : "default"});
  rows.push_back({"profile", *settings->profile.value + (settings->loaded_profile ? "" : " (not in a file)"),
                  source_text(settings->profile)});
  for (const auto& s : settings->settings) {
    const auto value = shown(s);
    rows.push_back({s.name, value.is_null() ? "-" : value.get<std::string>(), source_text(s.setting)});
  }
  print_table(rows);
  return 0;
}

}  // namespace

void setup_config(CLI::App& app, GlobalOptions& global, CommandRunner& runner) {
  auto* command =
      app.add_subcommand("config", "Show the effective settings and where each came from (secrets redacted)");
  command->footer("Examples:\n  mews-export config\n  mews-export --profile hotel-b config --json");
  command->callback([&global, &runner] { runner = [&global] { return run_config(global); }; });
}

}  // namespace mews_export::cli
