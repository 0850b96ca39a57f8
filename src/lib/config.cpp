#include "mews_export/config.hpp"

#include "files.hpp"

#include <toml++/toml.h>

#include <array>
#include <cstdlib>
#include <sstream>

namespace mews_export {
namespace {

constexpr std::array<std::string_view, 13> kKeys{
    "platform",         "client",     "client_token_file",  "access_token_file", "client_token_env",
    "access_token_env", "output_dir", "interval",           "timeout",           "parallel",
    "state_dir",        "ca_bundle",  "allow_insecure_http"};

std::unexpected<Error> usage(std::string message) { return fail(ErrorKind::Usage, std::move(message)); }

}  // namespace

std::span<const std::string_view> known_config_keys() { return kKeys; }

std::optional<std::string> process_env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

std::filesystem::path default_config_path() {
  if (const auto xdg = process_env("XDG_CONFIG_HOME"); xdg && xdg->starts_with('/')) {
    return std::filesystem::path(*xdg) / "mews-export" / "config.toml";
  }
  if (const auto home = process_env("HOME"))
    return std::filesystem::path(*home) / ".config" / "mews-export" / "config.toml";
  return "config.toml";
}

Result<ConfigProfile> load_profile(const std::filesystem::path& path, const std::string& name) {
  auto text = detail::read_regular_file(path, kMaxConfigFileBytes);
  if (!text) return usage("configuration file " + path.string() + ": " + text.error().message);
  toml::table root;
  try {
    root = toml::parse(*text, path.string());
  } catch (const toml::parse_error& error) {
    std::ostringstream message;
    message << "configuration file " << path.string() << " is not valid TOML: " << error.description() << " (line "
            << error.source().begin.line << ", column " << error.source().begin.column << ")";
    return usage(message.str());
  }
  const auto where = "configuration file " + path.string();
  for (const auto& [key, value] : root) {
    if (key.str() != "profiles") {
      return usage(where + ": unknown top-level key '" + std::string(key.str()) + "'; profiles go in [profiles.NAME]");
    }
  }
  const auto* profiles = root["profiles"].as_table();
  const auto* table = profiles != nullptr ? (*profiles)[name].as_table() : nullptr;
  if (table == nullptr) {
    std::string known;
    if (profiles != nullptr) {
      for (const auto& [key, value] : *profiles) known += (known.empty() ? "" : ", ") + std::string(key.str());
    }
    return usage(
        where + " has no profile '" + name + "'" +
        (known.empty() ? std::string("; add a [profiles." + name + "] table") : "; the profiles there are: " + known));
  }
  ConfigProfile profile{.name = name, .file = path, .values = {}};
  for (const auto& [key_node, value] : *table) {
    const std::string key(key_node.str());
    const auto in = where + ", profile '" + name + "', key '" + key + "'";
    if (key == "client_token" || key == "access_token") {
      return usage(in + ": token values never go in the configuration file; use " + key + "_file (a path) or " + key +
                   "_env (the name of an environment variable)");
    }
    bool known = false;
    for (const auto k : kKeys) known = known || k == key;
    if (!known) {
      std::string list;
      for (const auto k : kKeys) list += (list.empty() ? "" : ", ") + std::string(k);
      return usage(in + " is unknown; the keys are: " + list);
    }
    if (const auto* s = value.as_string()) {
      profile.values[key] = s->get();
    } else if (const auto* i = value.as_integer()) {
      profile.values[key] = std::to_string(i->get());
    } else if (const auto* b = value.as_boolean()) {
      profile.values[key] = b->get() ? "true" : "false";
    } else {
      return usage(in + " must be a string, an integer or a boolean");
    }
  }
  return profile;
}

const char* to_string(SettingSource source) {
  switch (source) {
    case SettingSource::CommandLine: return "flag";
    case SettingSource::Environment: return "env";
    case SettingSource::Profile: return "profile";
    case SettingSource::Default: return "default";
  }
  return "default";
}

Setting resolve_setting(const std::optional<std::string>& flag, const char* flag_name, const char* env_name,
                        const ConfigProfile* profile, const char* key, std::optional<std::string> fallback,
                        const EnvLookup& env) {
  if (flag) return Setting{flag, SettingSource::CommandLine, flag_name != nullptr ? flag_name : ""};
  if (env_name != nullptr) {
    if (auto value = env(env_name)) return Setting{std::move(value), SettingSource::Environment, env_name};
  }
  if (profile != nullptr && key != nullptr) {
    if (const auto it = profile->values.find(key); it != profile->values.end()) {
      return Setting{it->second, SettingSource::Profile, profile->name + " (" + profile->file.string() + ")"};
    }
  }
  return Setting{std::move(fallback), SettingSource::Default, ""};
}

}  // namespace mews_export
