#include "support/export_checks.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "mews_export/downloader.hpp"
#include "sha256.hpp"

namespace mews_export::testing {

using nlohmann::json;

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::uint64_t records_in(const std::string& text) {
  const auto n = static_cast<std::uint64_t>(std::count(text.begin(), text.end(), '\n'));
  return n + (!text.empty() && text.back() != '\n' ? 1 : 0);
}

void expect_no_secrets(const SandboxProcess& sandbox, const std::string& text) {
  EXPECT_EQ(text.find(sandbox.client_token()), std::string::npos) << "client token leaked:\n" << text;
  EXPECT_EQ(text.find(sandbox.access_token()), std::string::npos) << "access token leaked:\n" << text;
  EXPECT_EQ(text.find("signature="), std::string::npos) << "URL signature leaked:\n" << text;
}

void expect_export_matches_server(const SandboxProcess& sandbox, const std::filesystem::path& dir,
                                  const std::string& id) {
  ASSERT_TRUE(std::filesystem::exists(dir / kManifestName)) << dir;
  const auto manifest = json::parse(read_file(dir / kManifestName));
  EXPECT_EQ(manifest["ExportId"], id);
  for (const char* key : {"EntityType", "Scope", "Filters", "ExpiresUtc", "CompletedUtc", "Files"}) {
    EXPECT_TRUE(manifest.contains(key)) << key;
  }
  std::set<std::string> expected_names{kManifestName};
  for (std::size_t i = 0; i < manifest["Files"].size(); ++i) {
    const auto& entry = manifest["Files"][i];
    const std::string name = entry["Name"];
    expected_names.insert(name);
    EXPECT_EQ(name, part_file_name(i));
    const auto served = sandbox.file_content(id, i);
    ASSERT_TRUE(served);
    const auto local = read_file(dir / name);
    EXPECT_TRUE(local == *served) << name << " differs from the server's bytes (" << local.size() << " vs "
                                  << served->size() << " bytes)";
    EXPECT_EQ(entry["SizeInBytes"].get<std::uint64_t>(), served->size());
    EXPECT_EQ(entry["Sha256"], detail::sha256_hex(*served));
    EXPECT_EQ(entry["Lines"].get<std::uint64_t>(), records_in(*served));
  }
  std::set<std::string> names;
  for (const auto& item : std::filesystem::directory_iterator(dir)) names.insert(item.path().filename().string());
  EXPECT_EQ(names, expected_names) << "leftover or missing files in " << dir;
}

}  // namespace mews_export::testing
