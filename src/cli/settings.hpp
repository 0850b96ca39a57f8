// The CLI's effective settings: each global setting resolved with its source
// (flag > environment > config profile > default), as `config` shows them
// and Context uses them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <filesystem>

#include "mews_export/config.hpp"
#include "mews_export/error.hpp"
#include "options.hpp"

namespace mews_export::cli {

struct NamedSetting {
  std::string name;  // "platform", "client_token", "interval", ...
  Setting setting;
  bool secret = false;  // shown redacted by `config`
};

struct EffectiveSettings {
  std::filesystem::path config_file;  // may not exist
  bool config_file_exists = false;
  Setting profile;  // the profile name and where it was chosen
  std::optional<ConfigProfile> loaded_profile;
  std::vector<NamedSetting> settings;

  // The setting `name` (as listed in `settings`); an absent one has no value.
  const Setting& get(const std::string& name) const;
};

// Resolves every setting; errors are Usage (unknown profile or key, bad TOML,
// an explicit --config that does not exist). Token settings hold, as value,
// a description of where the token comes from ("file ~/x", "env MEWS_ACCESS_TOKEN").
Result<EffectiveSettings> resolve_settings(const GlobalOptions& options, const EnvLookup& env = process_env);

// The value of token `which` ("client" or "access"), read from where the settings say.
// Errors (Usage) say how to provide it.
Result<std::string> read_token(const EffectiveSettings& settings, const std::string& which,
                               const EnvLookup& env = process_env);

}  // namespace mews_export::cli
