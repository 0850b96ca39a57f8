// The global options (one struct, accepted before or after any command) and
// the type every subcommand's body has.
#pragma once

#include <functional>
#include <optional>
#include <string>

namespace mews_export::cli {

// Options accepted before or after any command.
struct GlobalOptions {
  std::optional<std::string> platform;
  std::optional<std::string> client_token_file;
  std::optional<std::string> access_token_file;
  std::optional<std::string> client;
  std::optional<std::string> profile;
  std::optional<std::string> config;
  std::optional<std::string> state_dir;
  std::optional<std::string> ca_bundle;
  int verbose = 0;
  bool quiet = false;
  std::string log_format = "text";
  std::string progress = "auto";
  bool json = false;
  bool allow_insecure_http = false;
  std::optional<int> retries;                 // retries after the first attempt
  std::optional<std::string> retry_max_time;  // total time budget for retries
  std::optional<std::string> stall_timeout;   // abandon a transfer receiving nothing this long
};

// A command's body: returns the process exit code.
using CommandRunner = std::function<int()>;

}  // namespace mews_export::cli
