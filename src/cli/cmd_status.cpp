// `mews-export status ID...`: one getAll (batched above 1000 ids), a table or JSON.
#include <spdlog/spdlog.h>

#include <memory>

#include "app.hpp"
#include "mews_export/untrusted.hpp"

namespace mews_export::cli {
namespace {

struct StatusOptions {
  std::vector<std::string> ids;
  bool show_urls = false;
};

// The exports of `answer` in the order of `ids`; the ids not there, reported.
std::vector<Export> in_order(const std::vector<std::string>& ids, const std::vector<Export>& answer, int& code) {
  std::vector<Export> found;
  for (const auto& id : ids) {
    const auto it =
        std::find_if(answer.begin(), answer.end(), [&](const Export& e) { return same_export_id(e.id, id); });
    if (it == answer.end()) {
      spdlog::error("export {}: not found (unknown id, or an export of another token)", id);
      code = 1;
    } else {
      found.push_back(*it);
    }
  }
  return found;
}

int run_status(const GlobalOptions& global, const StatusOptions& options) {
  if (auto ok = check_export_ids(options.ids); !ok) return report(ok.error());
  auto context = Context::create(global, command_flags(global));
  if (!context) return report(context.error());
  auto answer = (*context)->api().get_exports(options.ids);
  if (!answer) return report(answer.error());
  int code = 0;
  const auto found = in_order(options.ids, *answer, code);
  if (global.json) {
    auto array = nlohmann::json::array();
    for (const auto& e : found) array.push_back(export_to_public_json(e, options.show_urls));
    print_json(array);
  } else if (!found.empty()) {
    print_export_table(found);
  }
  return code;
}

}  // namespace

void setup_status(CLI::App& app, GlobalOptions& global, CommandRunner& runner) {
  auto options = std::make_shared<StatusOptions>();
  auto* command = app.add_subcommand("status", "Show exports by id");
  command->add_option("ids", options->ids, "export ids")->required();
  command->add_flag("--show-urls", options->show_urls,
                    "with --json, keep the signed file URLs whole (they are secrets: valid 10 minutes)");
  command->footer(
      "Examples:\n  mews-export status 3fa85f64-5717-4562-b3fc-2c963f66afa6\n"
      "  mews-export status --json ID1 ID2 | jq '.[].Status'");
  command->callback(
      [&global, &runner, options] { runner = [&global, options] { return run_status(global, *options); }; });
}

}  // namespace mews_export::cli
