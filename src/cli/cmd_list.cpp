// `mews-export list`: the exports this machine started (the journal), newest
// first, refreshed with one getAll unless --offline.
#include <memory>

#include "app.hpp"
#include "mews_export/journal.hpp"

namespace mews_export::cli {
namespace {

constexpr std::size_t kDefaultListLength = 20;

struct ListOptions {
  bool all = false;
  bool offline = false;
};

void print_listed(const std::vector<ListedExport>& listed, bool json) {
  if (json) {
    auto array = nlohmann::json::array();
    for (const auto& l : listed) {
      auto item = to_json(l.entry);
      item["Export"] = l.fresh ? export_to_public_json(*l.fresh) : nlohmann::json(nullptr);
      array.push_back(std::move(item));
    }
    return print_json(array);
  }
  std::vector<std::vector<std::string>> rows{{"ID", "ENTITY", "STATUS", "CREATED", "DOWNLOADED", "OUTPUT"}};
  for (const auto& l : listed) {
    const auto& e = l.entry;
    rows.push_back({e.id, e.key.entity_type, e.status == ExportStatus::Unknown ? "-" : std::string(to_string(e.status)),
                    e.created_utc, e.downloaded ? "yes" : "no", e.output.empty() ? "-" : e.output});
  }
  print_table(std::move(rows));
}

int run_list(const GlobalOptions& global, const ListOptions& options) {
  auto settings = resolve_settings(command_flags(global));
  if (!settings) return report(settings.error());
  auto listed = list_journal(settings->state_dir.value, options.all ? 0 : kDefaultListLength);
  if (!listed) return report(listed.error());
  if (!options.offline && !listed->empty()) {
    auto context = Context::create(global, command_flags(global));
    if (!context) return report(context.error());
    if (auto ok = refresh_listed(*listed, (*context)->services()); !ok) return report(ok.error());
  }
  print_listed(*listed, global.json);
  return 0;
}

}  // namespace

void setup_list(CLI::App& app, GlobalOptions& global, CommandRunner& runner) {
  auto options = std::make_shared<ListOptions>();
  auto* command = app.add_subcommand("list", "List the exports this machine started (the local journal)");
  command->add_flag("--all", options->all, "every export in the journal, not only the 20 most recent");
  command->add_flag("--offline", options->offline, "show the journal as it is, without asking the API");
  command->footer("Examples:\n  mews-export list\n  mews-export list --all --offline --json | jq -r '.[].Id'");
  command->callback(
      [&global, &runner, options] { runner = [&global, options] { return run_list(global, *options); }; });
}

}  // namespace mews_export::cli
