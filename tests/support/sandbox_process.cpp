#include "support/sandbox_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>

extern char** environ;

namespace mews_export::testing {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> child_environment(const std::map<std::string, std::string>& overrides) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string entry = *e;
    std::string name = entry.substr(0, entry.find('='));
    if (name.rfind("MEWS_", 0) == 0 || overrides.contains(name)) continue;
    env.push_back(entry);
  }
  for (const auto& [name, value] : overrides) env.push_back(name + "=" + value);
  return env;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Waits for `pid` up to `timeout`; SIGKILLs it after that. Returns the waitpid status.
int reap(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (true) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return -1;
    if (std::chrono::steady_clock::now() >= deadline) {
      kill(pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

httplib::Client make_client(const std::string& host, int port) {
  httplib::Client client(host, port);
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(30, 0);
  return client;
}

}  // namespace

// --- SandboxProcess -------------------------------------------------------------

SandboxProcess::SandboxProcess(const nlohmann::json& scenario, const std::vector<std::string>& extra_args) {
  std::string templ = (fs::temp_directory_path() / "mews-sandbox-XXXXXX").string();
  if (!mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed");
  dir_ = templ;
  fs::path ready = dir_ / "ready.json";
  std::vector<std::string> args = {MEWS_SANDBOX_BIN, "--port", "0", "--ready-file", ready.string()};
  if (!scenario.is_null()) {
    fs::path scenario_path = dir_ / "scenario.json";
    std::ofstream(scenario_path) << scenario.dump(2);
    args.push_back("--scenario");
    args.push_back(scenario_path.string());
  }
  args.insert(args.end(), extra_args.begin(), extra_args.end());

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, (dir_ / "stdout.txt").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, (dir_ / "stderr.txt").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  auto env = child_environment({});
  auto argv = c_strings(args);
  auto envp = c_strings(env);
  int rc = posix_spawn(&pid_, args[0].c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + args[0] + ": " + std::strerror(rc));

  // Waits for an event, does not time the sandbox: generous for loaded machines.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!fs::exists(ready)) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("mews-sandbox exited early: " + output());
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      stop();
      throw std::runtime_error("mews-sandbox did not become ready within 30 s: " + output());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto info = nlohmann::json::parse(read_file(ready));
  url_ = info.at("url").get<std::string>();
  client_token_ = info.at("client_token").get<std::string>();
  access_token_ = info.at("access_token").get<std::string>();
  port_ = std::stoi(url_.substr(url_.rfind(':') + 1));
}

SandboxProcess::~SandboxProcess() {
  stop();
  std::error_code ec;
  if (!::testing::Test::HasFailure()) fs::remove_all(dir_, ec);
}

int SandboxProcess::stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = reap(pid_, std::chrono::seconds(5));
  pid_ = -1;
  return status;
}

std::string SandboxProcess::host() const {
  auto start = url_.find("://") + 3;
  return url_.substr(start, url_.rfind(':') - start);
}

nlohmann::json SandboxProcess::stats() const {
  auto client = make_client(host(), port_);
  auto res = client.Get("/_sandbox/stats");
  if (!res || res->status != 200) throw std::runtime_error("GET /_sandbox/stats failed");
  return nlohmann::json::parse(res->body);
}

void SandboxProcess::reset_stats() const {
  auto client = make_client(host(), port_);
  auto res = client.Post("/_sandbox/reset-stats", "", "application/json");
  if (!res || res->status != 200) throw std::runtime_error("POST /_sandbox/reset-stats failed");
}

nlohmann::json SandboxProcess::exports() const {
  auto client = make_client(host(), port_);
  auto res = client.Get("/_sandbox/exports");
  if (!res || res->status != 200) throw std::runtime_error("GET /_sandbox/exports failed");
  return nlohmann::json::parse(res->body);
}

nlohmann::json SandboxProcess::dataset(const std::string& entity, std::size_t token_index, const std::string& from,
                                       const std::string& to) const {
  std::string query = "?entity=" + entity + "&token_index=" + std::to_string(token_index);
  if (!from.empty()) query += "&from=" + from;
  if (!to.empty()) query += "&to=" + to;
  auto client = make_client(host(), port_);
  auto res = client.Get("/_sandbox/dataset" + query);
  if (!res || res->status != 200) throw std::runtime_error("GET /_sandbox/dataset" + query + " failed");
  return nlohmann::json::parse(res->body);
}

std::optional<std::string> SandboxProcess::file_content(const std::string& export_id, std::size_t index) const {
  auto client = make_client(host(), port_);
  auto res = client.Get("/_sandbox/files/" + export_id + "/" + std::to_string(index));
  if (!res) throw std::runtime_error("GET /_sandbox/files failed: " + httplib::to_string(res.error()));
  if (res->status != 200) return std::nullopt;
  return res->body;
}

std::string SandboxProcess::output() const { return read_file(dir_ / "stdout.txt") + read_file(dir_ / "stderr.txt"); }

// --- run_process ------------------------------------------------------------------

ProcessResult run_process(const std::vector<std::string>& argv_in,
                          const std::map<std::string, std::string>& env_overrides,
                          const std::optional<std::string>& stdin_text, int timeout_seconds) {
  ProcessResult result;
  if (argv_in.empty()) throw std::invalid_argument("run_process: empty argv");
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  std::vector<std::string> args = argv_in;
  auto env = child_environment(env_overrides);
  auto argv = c_strings(args);
  auto envp = c_strings(env);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, args[0].c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (rc != 0) {
    close(in_pipe[1]);
    close(out_pipe[0]);
    close(err_pipe[0]);
    throw std::runtime_error("cannot start " + args[0] + ": " + std::strerror(rc));
  }

  std::string input = stdin_text.value_or("");
  std::size_t written = 0;
  int in_fd = in_pipe[1];
  if (input.empty()) {
    close(in_fd);
    in_fd = -1;
  } else {
    fcntl(in_fd, F_SETFL, fcntl(in_fd, F_GETFL) | O_NONBLOCK);
  }
  int out_fd = out_pipe[0], err_fd = err_pipe[0];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  bool killed = false;
  char buf[65536];
  while (out_fd >= 0 || err_fd >= 0) {
    pollfd fds[3];
    nfds_t n = 0;
    if (out_fd >= 0) fds[n++] = {out_fd, POLLIN, 0};
    if (err_fd >= 0) fds[n++] = {err_fd, POLLIN, 0};
    if (in_fd >= 0) fds[n++] = {in_fd, POLLOUT, 0};
    int ready = poll(fds, n, 100);
    if (ready < 0 && errno != EINTR) break;
    if (!killed && std::chrono::steady_clock::now() >= deadline) {
      kill(pid, SIGKILL);
      killed = true;
    }
    for (nfds_t i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == in_fd) {
        ssize_t w = write(in_fd, input.data() + written, input.size() - written);
        if (w > 0) written += static_cast<std::size_t>(w);
        if (w < 0 && errno != EAGAIN && errno != EINTR) written = input.size();
        if (written >= input.size()) {
          close(in_fd);
          in_fd = -1;
        }
        continue;
      }
      ssize_t r = read(fds[i].fd, buf, sizeof buf);
      if (r > 0) {
        (fds[i].fd == out_fd ? result.stdout_text : result.stderr_text).append(buf, static_cast<std::size_t>(r));
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        close(fds[i].fd);
        (fds[i].fd == out_fd ? out_fd : err_fd) = -1;
      }
    }
  }
  if (in_fd >= 0) close(in_fd);
  int status = reap(pid, std::chrono::seconds(killed ? 5 : timeout_seconds));
  result.exit_code = decode_status(status);
  return result;
}

// --- ChildProcess ---------------------------------------------------------------

ChildProcess::ChildProcess() {
  std::string templ = (fs::temp_directory_path() / "mews-child-XXXXXX").string();
  if (!mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed: " + std::string(std::strerror(errno)));
  dir_ = templ;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !status_) {
    kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void ChildProcess::start(const std::vector<std::string>& argv_in,
                         const std::map<std::string, std::string>& env_overrides) {
  if (argv_in.empty()) throw std::invalid_argument("ChildProcess::start: empty argv");
  if (pid_ > 0 && !status_) throw std::logic_error("ChildProcess::start: a child is still running");
  status_.reset();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, (dir_ / "stdout.txt").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, (dir_ / "stderr.txt").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<std::string> args = argv_in;
  auto env = child_environment(env_overrides);
  auto argv = c_strings(args);
  auto envp = c_strings(env);
  int rc = posix_spawn(&pid_, args[0].c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    pid_ = -1;
    throw std::runtime_error("cannot start " + args[0] + ": " + std::strerror(rc));
  }
}

bool ChildProcess::running() {
  if (pid_ <= 0 || status_) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    status_ = status;
    return false;
  }
  return r == 0;
}

void ChildProcess::send(int signal) {
  if (running()) kill(pid_, signal);
}

ProcessResult ChildProcess::wait(int timeout_seconds) {
  ProcessResult result;
  if (pid_ > 0 && !status_) status_ = reap(pid_, std::chrono::seconds(timeout_seconds));
  result.exit_code = status_ ? decode_status(*status_) : -1;
  result.stdout_text = stdout_text();
  result.stderr_text = stderr_text();
  return result;
}

std::string ChildProcess::stdout_text() const { return read_file(dir_ / "stdout.txt"); }
std::string ChildProcess::stderr_text() const { return read_file(dir_ / "stderr.txt"); }

}  // namespace mews_export::testing
