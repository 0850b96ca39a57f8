// `mews-export add`: validate locally, then exports/add; prints the new id.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>

#include "app.hpp"

namespace mews_export::cli {
namespace {

int run_add(const GlobalOptions& global, const AddArguments& args) {
  auto request = build_add_request(args, std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
  if (!request) return report(request.error());
  auto context = Context::create(global);
  if (!context) return report(context.error());
  auto created = (*context)->api().add_export(*request);
  if (!created) return report(created.error());
  journal_created(**context, args, *request, *created, "");
  if (global.json) {
    print_json(export_to_public_json(*created));
  } else {
    print_stdout(created->id + "\n");
  }
  return 0;
}

}  // namespace

void setup_add(CLI::App& app, GlobalOptions& global, CommandRunner& runner) {
  auto args = std::make_shared<AddArguments>();
  auto* command = app.add_subcommand("add", "Start an export and print its id");
  add_export_options(*command, *args);
  command->footer(
      "Examples:\n"
      "  mews-export add --entity OrderItem\n"
      "  mews-export add --entity Reservation --updated-from 2026-01-01 --updated-to 2026-02-01\n"
      "  mews-export add --entity LedgerEntry --posting-from 2026-10-01 --posting-to 2026-10-31");
  command->callback([&global, &runner, args] { runner = [&global, args] { return run_add(global, *args); }; });
}

}  // namespace mews_export::cli
