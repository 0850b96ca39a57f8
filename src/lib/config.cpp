#include "mews_export/config.hpp"

#include "files.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <sstream>

namespace mews_export {
namespace {

constexpr std::array<std::string_view, 17> kKeys{"platform",
                                                 "client",
                                                 "client_token_file",
                                                 "access_token_file",
                                                 "client_token_env",
                                                 "access_token_env",
                                                 "output_dir",
                                                 "interval",
                                                 "timeout",
                                                 "parallel",
                                                 "state_dir",
                                                 "ca_bundle",
                                                 "allow_insecure_http",
                                                 "s3_endpoint",
                                                 "s3_region",
                                                 "s3_access_key_id",
                                                 "s3_secret_access_key_file"};

std::unexpected<Error> usage(std::string message) { return fail(ErrorKind::Usage, std::move(message)); }

}  // namespace

std::span<const std::string_view> known_config_keys() { return kKeys; }

std::optional<std::string> process_env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

std::filesystem::path default_config_path(const EnvLookup& env) {
  if (const auto xdg = env("XDG_CONFIG_HOME"); xdg && xdg->starts_with('/')) {
    return std::filesystem::path(*xdg) / "mews-export" / "config.toml";
  }
  if (const auto home = env("HOME")) return std::filesystem::path(*home) / ".config" / "mews-export" / "config.toml";
  return "config.toml";
}

namespace {

Result<toml::table> parse_toml(const std::filesystem::path& path) {
  auto text = detail::read_regular_file(path, kMaxConfigFileBytes);
  if (!text) return usage("configuration file " + path.string() + ": " + text.error().message);
  try {
    return toml::parse(*text, path.string());
  } catch (const toml::parse_error& error) {
    std::ostringstream message;
    message << "configuration file " << path.string() << " is not valid TOML: " << error.description() << " (line "
            << error.source().begin.line << ", column " << error.source().begin.column << ")";
    return usage(message.str());
  }
}

std::string key_list() {
  std::string list;
  for (const auto k : kKeys) list += (list.empty() ? "" : ", ") + std::string(k);
  return list;
}

// One key = value of a profile, checked and as text.
Result<std::string> profile_value(const std::string& in, const std::string& key, const toml::node& value) {
  if (key == "client_token" || key == "access_token") {
    return usage(in + ": token values never go in the configuration file; use " + key + "_file (a path) or " + key +
                 "_env (the name of an environment variable)");
  }
  if (std::find(kKeys.begin(), kKeys.end(), key) == kKeys.end())
    return usage(in + " is unknown; the keys are: " + key_list());
  if (const auto* s = value.as_string()) return s->get();
  if (const auto* i = value.as_integer()) return std::to_string(i->get());
  if (const auto* b = value.as_boolean()) return std::string(b->get() ? "true" : "false");
  return usage(in + " must be a string, an integer or a boolean");
}

Result<ConfigProfile> read_profile(const std::filesystem::path& path, const std::string& name,
                                   const toml::table& table) {
  ConfigProfile profile{.name = name, .file = path, .values = {}};
  for (const auto& [key_node, value] : table) {
    const std::string key(key_node.str());
    auto text = profile_value("configuration file " + path.string() + ", profile '" + name + "', key '" + key + "'",
                              key, value);
    if (!text) return std::unexpected(text.error());
    profile.values[key] = std::move(*text);
  }
  return profile;
}

}  // namespace

const ConfigProfile* ConfigFile::find(const std::string& name) const {
  const auto it = profiles.find(name);
  return it == profiles.end() ? nullptr : &it->second;
}

std::string ConfigFile::profile_names() const {
  std::string names;
  for (const auto& [name, profile] : profiles) names += (names.empty() ? "" : ", ") + name;
  return names;
}

Result<ConfigFile> load_config(const std::filesystem::path& path) {
  auto root = parse_toml(path);
  if (!root) return std::unexpected(root.error());
  const auto where = "configuration file " + path.string();
  for (const auto& [key, value] : *root) {
    if (key.str() != "profiles") {
      return usage(where + ": unknown top-level key '" + std::string(key.str()) + "'; profiles go in [profiles.NAME]");
    }
  }
  ConfigFile file{.path = path, .profiles = {}};
  const auto* profiles = (*root)["profiles"].as_table();
  if (profiles == nullptr) return file;
  for (const auto& [name, node] : *profiles) {
    const auto* table = node.as_table();
    if (table == nullptr) return usage(where + ": profiles." + std::string(name.str()) + " must be a table");
    auto profile = read_profile(path, std::string(name.str()), *table);
    if (!profile) return std::unexpected(profile.error());
    file.profiles.emplace(profile->name, std::move(*profile));
  }
  return file;
}

Error unknown_profile(const std::string& name, const ConfigFile* file, const std::filesystem::path& path) {
  std::string message;
  if (file == nullptr) {
    message = "profile '" + name + "' was asked for, but there is no configuration file " + path.string() +
              " (or pass --config PATH)";
  } else if (file->profiles.empty()) {
    message =
        "configuration file " + path.string() + " has no profile '" + name + "'; add a [profiles." + name + "] table";
  } else {
    message = "configuration file " + path.string() + " has no profile '" + name +
              "'; the profiles there are: " + file->profile_names();
  }
  return Error{.kind = ErrorKind::UnknownProfile, .message = std::move(message)};
}

Result<ConfigProfile> load_profile(const std::filesystem::path& path, const std::string& name) {
  auto file = load_config(path);
  if (!file) return std::unexpected(file.error());
  const auto* profile = file->find(name);
  if (profile == nullptr) return std::unexpected(unknown_profile(name, &*file, path));
  return *profile;
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

}  // namespace mews_export
