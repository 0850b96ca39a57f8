// `mews-export add`: validate locally, then exports/add; prints the new id.
#include <memory>

#include "app.hpp"

namespace mews_export::cli {
namespace {

int run_add(const GlobalOptions& global, const AddArguments& args) {
  // Invalid input is refused before anything else (no token needed to say so).
  SystemClock clock;
  if (auto request = build_add_request(args, utc_now(clock)); !request) {
    return report(request.error());
  }
  auto context = Context::create(global, command_flags(global));
  if (!context) return report(context.error());
  auto created = add_job(args, (*context)->services());
  if (!created) return report(created.error());
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
