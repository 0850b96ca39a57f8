// The integration tests' common ground: a mews-sandbox, a private temporary
// directory, the environment that points mews-export at both, and runs of
// the real binary whose every output is checked for secrets.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/sandbox_process.hpp"

namespace mews_export::testing {

class SandboxCli {
 public:
  explicit SandboxCli(const nlohmann::json& scenario = nullptr, const std::string& prefix = "mews-it");

  // The sandbox's platform and tokens, this test's state and config dirs
  // (never the user's own), plus `overrides` (which win).
  std::map<std::string, std::string> cli_env(std::map<std::string, std::string> overrides = {}) const;

  // Runs mews-export `args` with cli_env(`env`), checking stderr (and stdout
  // unless `may_show_urls`) for tokens and URL signatures.
  ProcessResult cli(std::vector<std::string> args, std::map<std::string, std::string> env = {},
                    bool may_show_urls = false) const;

  void expect_no_secrets(const std::string& text) const;

  // Exports the sandbox created (every entity type), and API requests it answered.
  std::uint64_t adds() const;
  std::uint64_t api_requests() const;

  const SandboxProcess& sandbox() const { return sandbox_; }
  const TempDir& dir() const { return dir_; }

 protected:
  SandboxProcess sandbox_;
  TempDir dir_;
};

}  // namespace mews_export::testing
