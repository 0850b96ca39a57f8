// Checks shared by the integration tests: file and text helpers, the secret
// check every output goes through, and the comparison of a downloaded export
// directory with the sandbox's own bytes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "support/sandbox_process.hpp"

namespace mews_export::testing {

std::string read_file(const std::filesystem::path& path);
std::vector<std::string> lines_of(const std::string& text);
// Records in a JSON Lines text: newlines, plus a last line without its '\n'.
std::uint64_t records_in(const std::string& text);

// Fails the test when `text` holds a token of `sandbox` or a URL signature.
void expect_no_secrets(const SandboxProcess& sandbox, const std::string& text);

// DIR/<id>/ against the server: manifest keys, part names in order, bytes,
// sizes, SHA-256 and line counts, and no other file (no .part left over).
void expect_export_matches_server(const SandboxProcess& sandbox, const std::filesystem::path& dir,
                                  const std::string& id);

}  // namespace mews_export::testing
