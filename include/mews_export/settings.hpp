// Settings, resolved once into typed values: each from the command line, the
// environment, one configuration profile or its named default (in that
// order), remembering where it came from for `mews-export config`. Tokens are
// settings of *where* the token is (a file or an environment variable), never
// its value; read_credentials() reads them when a command needs them.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "mews_export/api_client.hpp"
#include "mews_export/config.hpp"
#include "mews_export/error.hpp"
#include "mews_export/object_store.hpp"
#include "mews_export/poller.hpp"
#include "mews_export/retry.hpp"
#include "mews_export/url.hpp"

namespace mews_export {

inline constexpr const char* kDemoAddress = "https://api.mews-demo.com";
inline constexpr const char* kProductionAddress = "https://api.mews.com";

// Defaults of the settings that have one (the others: poller.hpp, retry.hpp).
inline constexpr const char* kDefaultPlatform = "production";
inline constexpr const char* kDefaultProfile = "default";
inline constexpr int kDefaultParallel = 4;
inline constexpr int kMaxParallel = 64;
inline constexpr std::chrono::seconds kDefaultStallTimeout{60};

// A token is read from this file ...
struct TokenFile {
  std::filesystem::path path;
  friend bool operator==(const TokenFile&, const TokenFile&) = default;
};
// ... or from this environment variable.
struct TokenEnv {
  std::string variable;
  friend bool operator==(const TokenEnv&, const TokenEnv&) = default;
};
using TokenSource = std::variant<TokenFile, TokenEnv>;

// "file PATH" or "env NAME": where a token comes from, as `config` shows it.
std::string describe(const TokenSource& source);

// A setting's value and where it came from.
template <class T>
struct Sourced {
  T value{};
  SettingSource source = SettingSource::Default;
  std::string origin;  // "--platform", "MEWS_PLATFORM", "profile default (/path/config.toml)", ""
};

struct Settings {
  std::filesystem::path config_file;  // may not exist
  bool config_file_exists = false;
  Sourced<std::string> profile;  // its name and where it was chosen
  bool profile_loaded = false;   // the file has it

  Sourced<std::string> platform;  // as given: "production", "demo" or a URL
  Sourced<std::string> client;    // the Client name sent with every request
  std::optional<Sourced<TokenSource>> client_token;
  std::optional<Sourced<TokenSource>> access_token;
  Sourced<std::filesystem::path> state_dir;
  std::optional<Sourced<std::filesystem::path>> ca_bundle;
  Sourced<bool> allow_insecure_http;
  // Command defaults (the command line wins over these).
  std::optional<Sourced<std::filesystem::path>> output_dir;
  Sourced<std::chrono::milliseconds> interval;
  Sourced<std::chrono::milliseconds> timeout;
  Sourced<int> parallel;
  // Object storage (-o s3://...): the endpoint (none: AWS), the region, the
  // access key id, and where the secret key is (the environment or a file).
  std::optional<Sourced<std::string>> s3_endpoint;
  Sourced<std::string> s3_region;
  std::optional<Sourced<std::string>> s3_access_key_id;
  std::optional<Sourced<TokenSource>> s3_secret_access_key;
  // Flags only.
  RetryPolicy retry;
  std::chrono::seconds stall_timeout = kDefaultStallTimeout;
};

// What the command line said; unset: not given.
struct SettingsFlags {
  std::optional<std::string> platform;
  std::optional<std::string> client_token_file;
  std::optional<std::string> access_token_file;
  std::optional<std::string> client;
  std::optional<std::string> profile;
  std::optional<std::string> config;
  std::optional<std::string> state_dir;
  std::optional<std::string> ca_bundle;
  bool allow_insecure_http = false;
  std::optional<std::string> output_dir;
  std::optional<std::string> interval;
  std::optional<std::string> timeout;
  std::optional<int> parallel;
  std::optional<int> retries;  // after the first attempt
  std::optional<std::string> retry_max_time;
  std::optional<std::string> stall_timeout;
  std::optional<std::string> s3_endpoint;
};

// Reads the configuration file (when there is one) and resolves every
// setting: flag > environment > profile > default. Errors: Usage (a broken
// file, a malformed value — naming where it came from — or --config naming a
// file that does not exist) and UnknownProfile (a profile asked for by name
// that the file lacks).
Result<Settings> resolve_settings(const SettingsFlags& flags, const EnvLookup& env = process_env);

// The settings of profile `profile` of the already loaded `file`, for runs
// over several profiles: platform, client and tokens come from the profile
// alone (the MEWS_PLATFORM, MEWS_CLIENT_TOKEN* and MEWS_ACCESS_TOKEN*
// variables would give every property the same token), the rest as in
// resolve_settings(). UnknownProfile when the file lacks it.
Result<Settings> resolve_profile_settings(const SettingsFlags& flags, const ConfigFile& file,
                                          const std::string& profile, const EnvLookup& env = process_env);

// The API address of `settings.platform` (see resolve_platform). Usage error.
Result<std::string> base_url(const Settings& settings);

// Both tokens, read from where the settings say, and the client name. Usage
// errors say how to provide a missing token. `on_warning` hears of a token
// file that others can read.
Result<ApiCredentials> read_credentials(const Settings& settings, const EnvLookup& env = process_env,
                                        const std::function<void(const std::string&)>& on_warning = {});

// How to reach the object store of `-o s3://...`: the settings' endpoint,
// region and key id, the secret key read from AWS_SECRET_ACCESS_KEY or the
// profile's s3_secret_access_key_file, and AWS_SESSION_TOKEN. Usage, saying
// what to set, when the key id or the secret is missing.
Result<S3Store> read_s3_store(const Settings& settings, const EnvLookup& env = process_env,
                              const std::function<void(const std::string&)>& on_warning = {});

// One row of `mews-export config`: a setting as text, secrets shown only as
// where they come from.
struct SettingView {
  std::string name;  // "platform", "client_token", "interval", ...
  std::optional<std::string> value;
  SettingSource source = SettingSource::Default;
  std::string origin;
  bool secret = false;  // a token: `value` says only where it comes from
};
std::vector<SettingView> describe(const Settings& settings);

// "demo", "production" or an http(s) URL -> the base address without a trailing
// slash. Plain http:// is accepted only for loopback hosts (127.0.0.0/8, ::1,
// localhost) unless `allow_insecure_http`. Errors are Usage.
Result<std::string> resolve_platform(const std::string& platform, bool allow_insecure_http);

// A token file larger than this is refused (a token is a few hundred bytes).
inline constexpr std::size_t kMaxTokenFileBytes = 16 * 1024;

// Reads a token from `path` ("~/" expanded; symbolic links followed, as for
// secrets mounted by Kubernetes), trimming surrounding whitespace. Errors
// (Usage) name the path: missing, unreadable, not a regular file, larger than
// kMaxTokenFileBytes, empty, or more than one line.
// Sets `*world_readable` when the file's mode lets group or others read it.
Result<std::string> read_token_file(const std::filesystem::path& path, bool* world_readable = nullptr);

// "~/x" -> "$HOME/x" (HOME from `env`); other paths unchanged.
std::filesystem::path expand_home(const std::string& path, const EnvLookup& env = process_env);

}  // namespace mews_export
