// The configuration file: every profile read and checked once; what is
// refused says where and what to change.
#include <gtest/gtest.h>

#include "mews_export/config.hpp"
#include "support/temp_dir.hpp"

using namespace mews_export;
using namespace mews_export::testing;

namespace {

std::filesystem::path config(const TempDir& dir, const std::string& toml) {
  const auto path = dir.path() / "config.toml";
  write_text(path, toml);
  return path;
}

}  // namespace

TEST(Config, ReadsEveryProfileWithValuesAsText) {
  TempDir dir;
  auto file = load_config(config(dir, R"([profiles.default]
platform = "demo"
parallel = 2
allow_insecure_http = true
[profiles.hotel-b]
access_token_env = "HOTEL_B"
)"));
  ASSERT_TRUE(file) << file.error().message;
  EXPECT_EQ(file->profile_names(), "default, hotel-b");
  EXPECT_EQ(file->find("default")->values.at("parallel"), "2");
  EXPECT_EQ(file->find("default")->values.at("allow_insecure_http"), "true");
  EXPECT_EQ(file->find("hotel-b")->values.at("access_token_env"), "HOTEL_B");
  EXPECT_EQ(file->find("nope"), nullptr);
}

TEST(Config, AMissingProfileIsItsOwnErrorListingTheOthers) {
  TempDir dir;
  const auto path = config(dir, "[profiles.hotel-a]\nplatform = \"demo\"\n");
  auto profile = load_profile(path, "hotel-b");
  ASSERT_FALSE(profile);
  EXPECT_EQ(profile.error().kind, ErrorKind::UnknownProfile);
  EXPECT_EQ(exit_code(profile.error()), 2);
  EXPECT_NE(profile.error().message.find("hotel-a"), std::string::npos);
}

TEST(Config, RefusesWhatCannotBeRight) {
  TempDir dir;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[profiles.default]\nplatfrom = \"demo\"\n", "platfrom"},
      {"[profiles.default]\naccess_token = \"hunter2-token\"\n", "access_token_file"},
      {"[profiles.default]\nplatform = \n", "line 2"},
      {"platform = \"demo\"\n", "top-level"},
      {"[profiles.default]\nparallel = [1, 2]\n", "must be a string"},
      {"[profiles]\ndefault = 3\n", "must be a table"},
  };
  for (const auto& [toml, expected] : cases) {
    auto file = load_config(config(dir, toml));
    ASSERT_FALSE(file) << toml;
    EXPECT_EQ(file.error().kind, ErrorKind::Usage);
    EXPECT_NE(file.error().message.find(expected), std::string::npos) << file.error().message;
    EXPECT_EQ(file.error().message.find("hunter2"), std::string::npos);
  }
  EXPECT_FALSE(load_config("/dev/zero"));
  EXPECT_FALSE(load_config(dir.path()));
}
