#include "support/sandbox_cli.hpp"

#include "support/export_checks.hpp"

namespace mews_export::testing {

SandboxCli::SandboxCli(const nlohmann::json& scenario, const std::string& prefix) : sandbox_(scenario), dir_(prefix) {}

std::map<std::string, std::string> SandboxCli::cli_env(std::map<std::string, std::string> overrides) const {
  overrides.try_emplace("MEWS_PLATFORM", sandbox_.url());
  overrides.try_emplace("MEWS_CLIENT_TOKEN", sandbox_.client_token());
  overrides.try_emplace("MEWS_ACCESS_TOKEN", sandbox_.access_token());
  overrides.try_emplace("MEWS_EXPORT_STATE_DIR", (dir_ / "state").string());
  overrides.try_emplace("XDG_CONFIG_HOME", (dir_ / "config").string());
  return overrides;
}

ProcessResult SandboxCli::cli(std::vector<std::string> args, std::map<std::string, std::string> env,
                              bool may_show_urls) const {
  args.insert(args.begin(), MEWS_EXPORT_BIN);
  auto result = run_process(args, cli_env(std::move(env)));
  expect_no_secrets(result.stderr_text);
  if (!may_show_urls) expect_no_secrets(result.stdout_text);
  return result;
}

void SandboxCli::expect_no_secrets(const std::string& text) const {
  mews_export::testing::expect_no_secrets(sandbox_, text);
}

std::uint64_t SandboxCli::adds() const {
  std::uint64_t n = 0;
  const auto stats = sandbox_.stats();
  for (const auto& [entity, count] : stats["adds_created"].items()) n += count.get<std::uint64_t>();
  return n;
}

std::uint64_t SandboxCli::api_requests() const { return sandbox_.stats()["api_requests_total"].get<std::uint64_t>(); }

}  // namespace mews_export::testing
