// The configuration file (TOML, one table per profile) and the effective
// settings with where each came from: command line > environment > profile >
// default. Token values never live in the file: only *_file paths or the
// names of environment variables (*_env).
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "mews_export/error.hpp"

namespace mews_export {

// The keys a profile may hold; anything else is an error (a typo must not pass silently).
std::span<const std::string_view> known_config_keys();

struct ConfigProfile {
  std::string name;
  std::filesystem::path file;
  std::map<std::string, std::string> values;  // key -> value as text ("4", "5m", "~/x")
};

// A configuration file larger than this is refused.
inline constexpr std::size_t kMaxConfigFileBytes = 1024 * 1024;

// Reads profile `name` from the TOML file at `path`. Errors (Usage) name the
// file and say what to change: a syntax error (with line), a missing profile
// (listing those that exist), an unknown key, a value of the wrong type, or a
// token value put in the file.
Result<ConfigProfile> load_profile(const std::filesystem::path& path, const std::string& name);

// $XDG_CONFIG_HOME/mews-export/config.toml, else ~/.config/mews-export/config.toml.
std::filesystem::path default_config_path();

enum class SettingSource { CommandLine, Environment, Profile, Default };
const char* to_string(SettingSource source);

struct Setting {
  std::optional<std::string> value;
  SettingSource source = SettingSource::Default;
  std::string origin;  // "--platform", "MEWS_PLATFORM", "default (/path)" (the profile), ""
};

// Looks up environment variables; injectable for tests.
using EnvLookup = std::function<std::optional<std::string>(const char*)>;
// The process environment (unset and empty both count as absent).
std::optional<std::string> process_env(const char* name);

// Picks the first present of: `flag` (named `flag_name`), environment `env_name`
// (may be null), `profile` key `key` (may be null), `fallback`.
Setting resolve_setting(const std::optional<std::string>& flag, const char* flag_name, const char* env_name,
                        const ConfigProfile* profile, const char* key, std::optional<std::string> fallback,
                        const EnvLookup& env);

}  // namespace mews_export
