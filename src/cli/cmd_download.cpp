// `mews-export download ID (-o DIR | --stdout)`: fresh URLs from getAll, then
// the files (download_job), then the directory on stdout.
#include <memory>

#include "app.hpp"

namespace mews_export::cli {
namespace {

struct DownloadCommandOptions {
  std::string id;
  OutputOptions output;
};

int run_download(const GlobalOptions& global, const DownloadCommandOptions& options) {
  if (auto ok = check_export_ids({options.id}); !ok) return report(ok.error());
  auto context = Context::create(global, command_flags(global, std::nullopt, std::nullopt, &options.output));
  if (!context) return report(context.error());
  auto spec = download_spec((*context)->settings(), options.output);
  if (!spec) return report(spec.error());
  auto result = download_job(options.id, *spec, (*context)->services());
  (*context)->progress().stop();
  if (!result) return report(result.error());
  print_download(*result, global.json);
  return 0;
}

}  // namespace

void setup_download(CLI::App& app, GlobalOptions& global, CommandRunner& runner) {
  auto options = std::make_shared<DownloadCommandOptions>();
  auto* command = app.add_subcommand("download", "Download the files of a successful export");
  command->add_option("id", options->id, "export id")->required();
  add_output_options(*command, options->output);
  command->add_flag("--force", options->output.force, "download again even when a verified copy exists");
  command->footer("Examples:\n  mews-export download ID -o ./exports\n  mews-export download ID --stdout | jq -c .Id");
  command->callback(
      [&global, &runner, options] { runner = [&global, options] { return run_download(global, *options); }; });
}

}  // namespace mews_export::cli
