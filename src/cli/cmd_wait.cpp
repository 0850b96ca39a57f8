// `mews-export wait ID...`: one getAll per tick until every export is terminal.
#include <spdlog/spdlog.h>

#include <memory>

#include "app.hpp"

namespace mews_export::cli {
namespace {

struct WaitCommandOptions {
  std::vector<std::string> ids;
  std::optional<std::string> interval;
  std::optional<std::string> timeout;
};

// 0 when every export succeeded, else 4 with a message per failure.
int check_all_succeeded(const std::vector<Export>& exports) {
  int code = 0;
  for (const auto& e : exports) {
    if (e.status == ExportStatus::Success) continue;
    spdlog::error("export {} ended {}{}", e.id, status_text(e),
                  e.status == ExportStatus::Expired ? ": its files are gone; start a new export"
                                                    : ": start a new export (mews-export run ...)");
    code = 4;
  }
  return code;
}

int run_wait(const GlobalOptions& global, const WaitCommandOptions& options) {
  if (auto ok = check_export_ids(options.ids); !ok) return report(ok.error());
  auto context = Context::create(global, command_flags(global, options.interval, options.timeout));
  if (!context) return report(context.error());
  WaitOptions wait = wait_options((*context)->settings());
  wait.on_poll = (*context)->services().on_poll;
  auto result = wait_for_exports((*context)->api(), (*context)->services().clock, options.ids, wait);
  (*context)->progress().stop();
  if (!result) {
    const int code = report(result.error());
    if (result.error().kind == ErrorKind::WaitTimeout) {
      std::string ids;
      for (const auto& id : options.ids) ids += " " + id;
      spdlog::error("continue with: mews-export wait{} (then mews-export download <id> -o DIR)", ids);
    }
    return code;
  }
  if (global.json) {
    auto array = nlohmann::json::array();
    for (const auto& e : *result) array.push_back(export_to_public_json(e));
    print_json(array);
  } else {
    print_export_table(*result);
  }
  return check_all_succeeded(*result);
}

}  // namespace

void setup_wait(CLI::App& app, GlobalOptions& global, CommandRunner& runner) {
  auto options = std::make_shared<WaitCommandOptions>();
  auto* command = app.add_subcommand("wait", "Poll exports until each is finished");
  command->add_option("ids", options->ids, "export ids")->required();
  add_wait_options(*command, options->interval, options->timeout);
  command->footer("Example:\n  mews-export wait --interval 1m --timeout 2h $(mews-export add --entity Bill)");
  command->callback(
      [&global, &runner, options] { runner = [&global, options] { return run_wait(global, *options); }; });
}

}  // namespace mews_export::cli
