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

// A whole configuration file: every profile, each checked.
struct ConfigFile {
  std::filesystem::path path;
  std::map<std::string, ConfigProfile> profiles;  // by name, sorted bytewise

  // The profile `name`, or null.
  const ConfigProfile* find(const std::string& name) const;
  // "a, b, c" (for messages).
  std::string profile_names() const;
};

// Reads the TOML file at `path`. Errors (Usage) name the file and say what to
// change: not a small regular file, a syntax error (with line), a key outside
// [profiles.NAME], an unknown key, a value of the wrong type, or a token value
// put in the file.
Result<ConfigFile> load_config(const std::filesystem::path& path);

// Reads profile `name` from the file at `path`: load_config(), then
// UnknownProfile (listing the profiles that exist) when it has no such profile.
Result<ConfigProfile> load_profile(const std::filesystem::path& path, const std::string& name);

// The error for a profile asked for by name that `file` does not have (or
// that cannot be looked up because there is no file).
Error unknown_profile(const std::string& name, const ConfigFile* file, const std::filesystem::path& path);

enum class SettingSource { CommandLine, Environment, Profile, Default };
const char* to_string(SettingSource source);

// Looks up environment variables; injectable for tests.
using EnvLookup = std::function<std::optional<std::string>(const char*)>;
// The process environment (unset and empty both count as absent).
std::optional<std::string> process_env(const char* name);

// $XDG_CONFIG_HOME/mews-export/config.toml, else ~/.config/mews-export/config.toml.
std::filesystem::path default_config_path(const EnvLookup& env = process_env);

}  // namespace mews_export
