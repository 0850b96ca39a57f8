// `mews-export config`: the effective settings and where each came from,
// tokens shown only as where they come from. No token read, no request.
#include <memory>

#include "app.hpp"

namespace mews_export::cli {
namespace {

std::optional<std::string> shown(const SettingView& s) {
  if (!s.value || !s.secret) return s.value;
  return "<redacted> (" + *s.value + ")";  // where it comes from, never the value
}

std::string source_text(SettingSource source, const std::string& origin) {
  return std::string(to_string(source)) + (origin.empty() ? "" : " " + origin);
}

void print_config_json(const Settings& settings) {
  nlohmann::json doc = {{"ConfigFile", settings.config_file.string()},
                        {"ConfigFileExists", settings.config_file_exists},
                        {"Profile",
                         {{"Value", settings.profile.value},
                          {"Source", to_string(settings.profile.source)},
                          {"Origin", settings.profile.origin},
                          {"Loaded", settings.profile_loaded}}},
                        {"Settings", nlohmann::json::object()}};
  for (const auto& s : describe(settings)) {
    const auto value = shown(s);
    doc["Settings"][s.name] = {{"Value", value ? nlohmann::json(*value) : nlohmann::json(nullptr)},
                               {"Source", to_string(s.source)},
                               {"Origin", s.origin}};
  }
  print_json(doc);
}

void print_config_table(const Settings& settings, bool config_flag) {
  std::vector<std::vector<std::string>> rows{{"SETTING", "VALUE", "SOURCE"}};
  rows.push_back({"config_file", settings.config_file.string() + (settings.config_file_exists ? "" : " (absent)"),
                  config_flag ? "flag --config" : "default"});
  rows.push_back({"profile", settings.profile.value + (settings.profile_loaded ? "" : " (not in a file)"),
                  source_text(settings.profile.source, settings.profile.origin)});
  for (const auto& s : describe(settings))
    rows.push_back({s.name, shown(s).value_or("-"), source_text(s.source, s.origin)});
  print_table(std::move(rows));
}

int run_config(const GlobalOptions& global) {
  auto settings = resolve_settings(command_flags(global));
  if (!settings) return report(settings.error());
  if (global.json) {
    print_config_json(*settings);
  } else {
    print_config_table(*settings, global.settings.config.has_value());
  }
  return 0;
}

}  // namespace

void setup_config(CLI::App& app, GlobalOptions& global, CommandRunner& runner) {
  auto* command =
      app.add_subcommand("config", "Show the effective settings and where each came from (secrets redacted)");
  command->footer("Examples:\n  mews-export config\n  mews-export --profile hotel-b config --json");
  command->callback([&global, &runner] { runner = [&global] { return run_config(global); }; });
}

}  // namespace mews_export::cli
