// `mews-export list`: the exports this machine started (the journal), newest
// first, refreshed with one getAll unless --offline.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <map>
#include <memory>

#include "app.hpp"
#include "mews_export/redact.hpp"
#include "mews_export/time.hpp"

namespace mews_export::cli {
namespace {

constexpr std::size_t kDefaultListLength = 20;

struct ListOptions {
  bool all = false;
  bool offline = false;
};

int run_list(const GlobalOptions& global, const ListOptions& options) {
  const auto state_dir = state_dir_of(global);
  if (!state_dir) return report(state_dir.error());
  auto journal = Journal::open(*state_dir);
  if (!journal) return report(journal.error());
  auto entries = journal->entries();
  if (!options.all && entries.size() > kDefaultListLength) entries.resize(kDefaultListLength);

  std::map<std::string, Export> fresh;
  if (!options.offline && !entries.empty()) {
    auto made = Context::create(global);
    if (!made) return report(made.error());
    Context& context = **made;
    const auto& credentials = context.api().options().credentials;
    const auto fingerprint = token_fingerprint(credentials.client_token + '\n' + credentials.access_token);
    std::vector<std::string> ids;
    for (const auto& e : entries) {
      // Only exports of this platform and token can be asked about.
      if (e.key.platform == context.base_url() && e.key.token_fingerprint == fingerprint) ids.push_back(e.id);
    }
    if (!ids.empty()) {
      auto answer = context.api().get_exports(ids);
      if (!answer) return report(answer.error());
      for (auto& exp : *answer) fresh.emplace(exp.id, std::move(exp));
    }
    for (auto& e : entries) {
      const auto it = fresh.find(e.id);
      if (it != fresh.end() && it->second.status_name != e.status) {
        e.status = it->second.status_name;
        e.updated_utc = format_utc(std::chrono::floor<std::chrono::seconds>(context.clock().now()));
        (void)journal->record(e);
      }
    }
  }

  if (global.json) {
    auto array = nlohmann::json::array();
    for (const auto& e : entries) {
      auto item = to_json(e);
      const auto it = fresh.find(e.id);
      item["Export"] = it == fresh.end() ? nlohmann::json(nullptr) : export_to_public_json(it->second);
      array.push_back(std::move(item));
    }
    print_json(array);
    return 0;
  }
  std::vector<std::vector<std::string>> rows{{"ID", "ENTITY", "STATUS", "CREATED", "DOWNLOADED", "OUTPUT"}};
  for (const auto& e : entries) {
    rows.push_back({e.id, e.key.entity_type, e.status.empty() ? "-" : e.status, e.created_utc,
                    e.downloaded ? "yes" : "no", e.output.empty() ? "-" : e.output});
  }
  print_table(rows);
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
