// Settings resolved once into typed values, through an injected environment:
// precedence, defaults from the named constants, sources for `config`, and
// errors that say where a bad value came from.
#include <gtest/gtest.h>

#include <map>

#include "mews_export/settings.hpp"
#include "support/temp_dir.hpp"

using namespace mews_export;
using namespace mews_export::testing;
using namespace std::chrono;

namespace {

struct Env {
  std::map<std::string, std::string> vars;
  EnvLookup lookup() const {
    return [this](const char* name) -> std::optional<std::string> {
      const auto it = vars.find(name);
      if (it == vars.end() || it->second.empty()) return std::nullopt;
      return it->second;
    };
  }
};

class SettingsTest : public ::testing::Test {
 protected:
  SettingsTest() { env.vars = {{"HOME", dir.path().string()}, {"XDG_CONFIG_HOME", (dir.path() / "cfg").string()}}; }

  void write_config(const std::string& toml) {
    std::filesystem::create_directories(dir.path() / "cfg" / "mews-export");
    write_text(dir.path() / "cfg" / "mews-export" / "config.toml", toml);
  }
  Result<Settings> resolve(const SettingsFlags& flags = {}) { return resolve_settings(flags, env.lookup()); }

  TempDir dir;
  Env env;
};

}  // namespace

TEST_F(SettingsTest, DefaultsComeFromTheNamedConstants) {
  auto s = resolve();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->platform.value, kDefaultPlatform);
  EXPECT_EQ(s->platform.source, SettingSource::Default);
  EXPECT_EQ(s->interval.value, kDefaultPollInterval);
  EXPECT_EQ(s->timeout.value, kDefaultWaitTimeout);
  EXPECT_EQ(s->parallel.value, kDefaultParallel);
  EXPECT_EQ(s->stall_timeout, kDefaultStallTimeout);
  EXPECT_FALSE(s->allow_insecure_http.value);
  EXPECT_EQ(s->state_dir.value, dir.path() / ".local" / "state" / "mews-export");
  EXPECT_FALSE(s->client_token);
  EXPECT_FALSE(s->profile_loaded);
  EXPECT_EQ(*base_url(*s), kProductionAddress);
}

TEST_F(SettingsTest, FlagBeatsEnvironmentBeatsProfile) {
  write_config(
      "[profiles.default]\nplatform = \"demo\"\ninterval = \"1m\"\nparallel = 2\n"
      "access_token_file = \"~/access\"\nstate_dir = \"~/state\"\n");
  auto profile = resolve();
  ASSERT_TRUE(profile) << profile.error().message;
  EXPECT_EQ(profile->platform.value, "demo");
  EXPECT_EQ(profile->platform.source, SettingSource::Profile);
  EXPECT_NE(profile->platform.origin.find("config.toml"), std::string::npos);
  EXPECT_EQ(profile->interval.value, minutes{1});
  EXPECT_EQ(profile->parallel.value, 2);
  EXPECT_EQ(profile->state_dir.value, dir.path() / "state");
  EXPECT_EQ(profile->access_token->value, TokenSource{TokenFile{dir.path() / "access"}});

  env.vars["MEWS_PLATFORM"] = "production";
  env.vars["MEWS_ACCESS_TOKEN"] = "value";
  auto from_env = resolve();
  EXPECT_EQ(from_env->platform.value, "production");
  EXPECT_EQ(from_env->platform.source, SettingSource::Environment);
  EXPECT_EQ(from_env->access_token->value, TokenSource{TokenEnv{"MEWS_ACCESS_TOKEN"}});

  SettingsFlags flags;
  flags.platform = "https://api.example";
  flags.interval = "30s";
  flags.parallel = 8;
  flags.access_token_file = "/run/secret";
  auto from_flags = resolve(flags);
  EXPECT_EQ(from_flags->platform.value, "https://api.example");
  EXPECT_EQ(from_flags->platform.origin, "--platform");
  EXPECT_EQ(from_flags->interval.value, seconds{30});
  EXPECT_EQ(from_flags->parallel.value, 8);
  EXPECT_EQ(from_flags->access_token->value, TokenSource{TokenFile{"/run/secret"}});
}

TEST_F(SettingsTest, MalformedValuesSayWhereTheyCameFrom) {
  write_config("[profiles.default]\ninterval = \"5x\"\n");
  auto bad_interval = resolve();
  ASSERT_FALSE(bad_interval);
  EXPECT_EQ(bad_interval.error().kind, ErrorKind::Usage);
  EXPECT_NE(bad_interval.error().message.find("interval = '5x' in profile default"), std::string::npos)
      << bad_interval.error().message;

  write_config("[profiles.default]\nparallel = \"4abc\"\n");
  EXPECT_NE(resolve().error().message.find("4abc"), std::string::npos);
  write_config("[profiles.default]\nparallel = 65\n");
  EXPECT_FALSE(resolve());
  write_config("[profiles.default]\nallow_insecure_http = \"yes\"\n");
  EXPECT_FALSE(resolve());

  write_config("");
  SettingsFlags empty;
  empty.interval = "";
  EXPECT_NE(resolve(empty).error().message.find("--interval"), std::string::npos);
  SettingsFlags stall;
  stall.stall_timeout = "0s";
  EXPECT_FALSE(resolve(stall));
}

TEST_F(SettingsTest, AProfileAskedForByNameMustExist) {
  env.vars["MEWS_PROFILE"] = "hotel-b";
  auto no_file = resolve();
  ASSERT_FALSE(no_file);
  EXPECT_EQ(no_file.error().kind, ErrorKind::UnknownProfile);
  write_config("[profiles.hotel-a]\nplatform = \"demo\"\n");
  auto missing = resolve();
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::UnknownProfile);
  EXPECT_NE(missing.error().message.find("hotel-a"), std::string::npos);
  env.vars.erase("MEWS_PROFILE");
  EXPECT_TRUE(resolve());  // the default profile may be absent
}

TEST_F(SettingsTest, ProfileSettingsForManyPropertiesIgnoreTheEnvironmentsTokens) {
  write_config(
      "[profiles.hotel-a]\nplatform = \"demo\"\naccess_token_env = \"HOTEL_A\"\n"
      "client_token_file = \"~/client\"\n");
  env.vars["MEWS_ACCESS_TOKEN"] = "would-be-everyones";
  env.vars["MEWS_PLATFORM"] = "production";
  auto file = load_config(dir.path() / "cfg" / "mews-export" / "config.toml");
  ASSERT_TRUE(file);
  auto s = resolve_profile_settings({}, *file, "hotel-a", env.lookup());
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->platform.value, "demo");
  EXPECT_EQ(s->access_token->value, TokenSource{TokenEnv{"HOTEL_A"}});
  EXPECT_EQ(s->profile.value, "hotel-a");
  EXPECT_EQ(resolve_profile_settings({}, *file, "hotel-z", env.lookup()).error().kind, ErrorKind::UnknownProfile);
}

TEST_F(SettingsTest, CredentialsAreReadFromWhereTheSettingsSay) {
  write_text(dir.path() / "client", "  client-secret\n");
  env.vars["MEWS_CLIENT_TOKEN_FILE"] = (dir.path() / "client").string();
  env.vars["MEWS_ACCESS_TOKEN"] = "access-secret";
  auto s = resolve();
  ASSERT_TRUE(s);
  std::vector<std::string> warnings;
  auto credentials = read_credentials(*s, env.lookup(), [&](const std::string& w) { warnings.push_back(w); });
  ASSERT_TRUE(credentials) << credentials.error().message;
  EXPECT_EQ(credentials->client_token, "client-secret");
  EXPECT_EQ(credentials->access_token, "access-secret");
  EXPECT_EQ(warnings.size(), 1u);  // the file is readable by others (umask 022)

  env.vars.erase("MEWS_ACCESS_TOKEN");
  auto missing = read_credentials(*resolve(), env.lookup());
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("MEWS_ACCESS_TOKEN"), std::string::npos);
}

TEST_F(SettingsTest, ConfigRowsShowWhereTokensComeFromNeverTheirValues) {
  env.vars["MEWS_ACCESS_TOKEN"] = "access-secret";
  const auto rows = describe(*resolve());
  std::vector<std::string> names;
  for (const auto& r : rows) {
    names.push_back(r.name);
    if (r.value) {
      EXPECT_EQ(r.value->find("access-secret"), std::string::npos) << r.name;
    }
  }
  EXPECT_EQ(names,
            (std::vector<std::string>{"platform", "client", "client_token", "access_token", "state_dir", "ca_bundle",
                                      "allow_insecure_http", "output_dir", "interval", "timeout", "parallel",
                                      "s3_endpoint", "s3_region", "s3_access_key_id", "s3_secret_access_key"}));
  EXPECT_EQ(rows[3].value, "env MEWS_ACCESS_TOKEN");
  EXPECT_TRUE(rows[3].secret);
  EXPECT_EQ(rows[8].value, "5m");
}
