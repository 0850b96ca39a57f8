// The global options (one struct, accepted before or after any command) and
// the type every subcommand's body has.
#pragma once

#include <functional>
#include <string>

#include "mews_export/settings.hpp"

namespace mews_export::cli {

// Options accepted before or after any command.
struct GlobalOptions {
  SettingsFlags settings;  // what the command line says of the settings (settings.hpp)
  int verbose = 0;
  bool quiet = false;
  std::string log_format = "text";
  std::string progress = "auto";
  bool json = false;
};

// A command's body: returns the process exit code.
using CommandRunner = std::function<int()>;

}  // namespace mews_export::cli
