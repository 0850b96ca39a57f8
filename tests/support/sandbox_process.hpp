// Test helpers for integration tests: a RAII mews-sandbox child process on an
// ephemeral loopback port (TempDir: support/temp_dir.hpp), and run_process() to
// run a binary (e.g. the real mews-export) with captured output.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

#include <nlohmann/json.hpp>

#include "support/temp_dir.hpp"

namespace mews_export::testing {

// Starts MEWS_SANDBOX_BIN with `--port 0 --ready-file <tmp>` (plus
// `--scenario <tmp>` when `scenario` is not null, and `extra_args`), waits up to
// 10 s for the ready file; throws std::runtime_error when it does not come up.
// The destructor sends SIGTERM and reaps the child (SIGKILL after 5 s).
class SandboxProcess {
 public:
  explicit SandboxProcess(const nlohmann::json& scenario = nullptr, const std::vector<std::string>& extra_args = {});
  ~SandboxProcess();
  SandboxProcess(const SandboxProcess&) = delete;
  SandboxProcess& operator=(const SandboxProcess&) = delete;

  const std::string& url() const { return url_; }  // "http://127.0.0.1:PORT"
  std::string host() const;                        // "127.0.0.1"
  int port() const { return port_; }
  const std::string& client_token() const { return client_token_; }
  const std::string& access_token() const { return access_token_; }
  pid_t pid() const { return pid_; }

  // GET /_sandbox/stats, parsed (see docs/sandbox.md).
  nlohmann::json stats() const;
  // POST /_sandbox/reset-stats.
  void reset_stats() const;
  // GET /_sandbox/exports: an array of {Id, EntityType, Status, TokenIndex, ...}.
  nlohmann::json exports() const;
  // GET /_sandbox/dataset (scenario "dataset" only): [{"Id", "UpdatedUtc"}, ...]
  // of the records of `entity` and access token `token_index` whose time lies
  // in [`from`, `to`] ("YYYY-MM-DDThh:mm:ssZ"; "" = from the first / up to now).
  nlohmann::json dataset(const std::string& entity, std::size_t token_index = 0, const std::string& from = "",
                         const std::string& to = "") const;
  // GET /_sandbox/files/<id>/<index>: the file's bytes as served (nullopt on 404).
  std::optional<std::string> file_content(const std::string& export_id, std::size_t index) const;
  // The sandbox's stdout/stderr so far (captured into files under the temp dir).
  std::string output() const;

  // Sends SIGTERM and waits; returns the exit status (as from waitpid), or -1.
  int stop();

 private:
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  std::string url_;
  int port_ = 0;
  std::string client_token_;
  std::string access_token_;
};

struct ProcessResult {
  int exit_code = -1;  // exit status, or 128 + signal when killed by a signal
  std::string stdout_text;
  std::string stderr_text;
};

// Runs `argv` (argv[0] is a path) with posix_spawn, feeding `stdin_text` (or an
// empty stdin) and collecting stdout and stderr. The child's environment is
// ours without any MEWS_* variable, plus `env_overrides` (an empty value still
// sets the variable). Fails the process after `timeout_seconds` with SIGKILL.
ProcessResult run_process(const std::vector<std::string>& argv,
                          const std::map<std::string, std::string>& env_overrides = {},
                          const std::optional<std::string>& stdin_text = std::nullopt, int timeout_seconds = 120);

// A child process running in the background (for signal tests): the same
// environment rules as run_process(), stdin from /dev/null, stdout and stderr
// captured into files under a private temp dir. The destructor SIGKILLs and
// reaps a child that is still running.
class ChildProcess {
 public:
  ChildProcess();
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Starts `argv` (argv[0] is a path); throws std::runtime_error when it cannot.
  void start(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env_overrides = {});
  pid_t pid() const { return pid_; }
  // True while the child has not exited (reaps it when it has).
  bool running();
  // kill(pid, signal) while the child runs.
  void send(int signal);
  // Waits for the exit (SIGKILL after `timeout_seconds`); the exit code as in
  // ProcessResult and everything the child wrote. Repeatable.
  ProcessResult wait(int timeout_seconds = 120);
  // What the child has written so far.
  std::string stdout_text() const;
  std::string stderr_text() const;

 private:
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  std::optional<int> status_;  // the waitpid status once reaped
};

}  // namespace mews_export::testing
