// mews-sandbox: a local stand-in for the Mews Connector API "Data export"
// endpoints, for trying mews-export without credentials and for tests.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <variant>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "scenario.hpp"
#include "server.hpp"

namespace {

constexpr int kExitCannotListen = 1;
constexpr int kExitUsage = 2;
constexpr auto kShutdownGrace = std::chrono::milliseconds(1000);

// CLI11 would wrap "-1" around to the largest unsigned value.
const CLI::Validator kUnsigned(
    [](std::string& value) { return value.find('-') == std::string::npos ? "" : "must not be negative"; }, "");

struct Options {
  std::string host = "127.0.0.1";
  int port = 8787;
  std::string scenario_path;
  std::string ready_file;
  std::optional<std::uint64_t> seed;
};

// The options of the command line, or the exit code when there is nothing to
// run (0 after --help, 2 on a usage error).
std::variant<Options, int> parse_options(int argc, char** argv) {
  Options o;
  std::uint64_t seed = 0;
  CLI::App app{"mews-sandbox: a local stand-in for the Mews Connector API Data export endpoints", "mews-sandbox"};
  app.add_option("--host", o.host, "address to listen on")->capture_default_str();
  app.add_option("--port", o.port, "port; 0 = ephemeral")->capture_default_str()->check(CLI::Range(0, 65535));
  app.add_option("--scenario", o.scenario_path, "JSON scenario (tokens, progression, faults...; see docs/sandbox.md)");
  app.add_option("--ready-file", o.ready_file,
                 "write {\"url\",\"client_token\",\"access_token\",\"pid\"} once listening");
  auto* seed_option =
      app.add_option("--seed", seed, "seed of the synthetic data (default 42, or the scenario's)")->check(kUnsigned);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : kExitUsage;
  }
  if (seed_option->count() > 0) o.seed = seed;
  return o;
}

bool write_ready_file(const std::string& path, const nlohmann::json& content) {
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return false;
    out << content.dump() << "\n";
    out.flush();
    if (!out) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

// "http://HOST:PORT" as clients should address it (a wildcard host as loopback).
std::string url_of(const std::string& host, int port) {
  std::string shown = host == "0.0.0.0" || host == "::" ? "127.0.0.1" : host;
  if (shown.find(':') != std::string::npos) shown = "[" + shown + "]";
  return "http://" + shown + ":" + std::to_string(port);
}

void print_banner(const std::string& url, const std::string& client_token, const std::string& access_token) {
  std::cout << "mews-sandbox listening on " << url << "\n"
            << "Try it with:\n"
            << "  export MEWS_PLATFORM=" << url << "\n"
            << "  export MEWS_CLIENT_TOKEN=" << client_token << "\n"
            << "  export MEWS_ACCESS_TOKEN=" << access_token << "\n"
            << "  mews-export run --entity OrderItem -o ./exports --interval 1s\n"
            << "Press Ctrl-C to stop." << std::endl;
}

// SIGINT and SIGTERM, blocked in every thread, for sigwait() in main.
sigset_t block_stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return signals;
}

// Serves until SIGINT/SIGTERM; the exit code (0, or 1 when the server failed).
int serve_until_signal(mews_sandbox::Server& server, sigset_t signals, const std::string& ready_file) {
  std::atomic<bool> ok{true};
  std::atomic<bool> finished{false};
  std::thread listener([&] {
    ok = server.run();
    finished = true;
  });
  int sig = 0;
  sigwait(&signals, &sig);
  server.stop();
  if (!ready_file.empty()) std::remove(ready_file.c_str());
  // Workers may sit in a keep-alive read of an idle client connection for
  // seconds: give in-flight requests a moment, then exit without them.
  for (auto waited = std::chrono::milliseconds(0); waited < kShutdownGrace && !finished;
       waited += std::chrono::milliseconds(50))
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (!finished) {
    std::fflush(nullptr);
    std::_Exit(ok ? 0 : kExitCannotListen);
  }
  listener.join();
  return ok ? 0 : kExitCannotListen;
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = parse_options(argc, argv);
  if (const int* code = std::get_if<int>(&parsed)) return *code;
  const Options& o = std::get<Options>(parsed);
  mews_sandbox::Scenario scenario;
  try {
    if (!o.scenario_path.empty()) scenario = mews_sandbox::load_scenario_file(o.scenario_path);
  } catch (const std::exception& e) {
    std::cerr << "mews-sandbox: " << e.what() << "\n";
    return kExitUsage;
  }
  if (o.seed) scenario.seed = *o.seed;
  const std::string client_token = scenario.client_tokens.empty() ? "" : scenario.client_tokens.front();
  const std::string access_token = scenario.access_tokens.front();

  const sigset_t signals = block_stop_signals();
  mews_sandbox::Server server(std::move(scenario));
  const int bound = server.bind(o.host, o.port);
  if (bound <= 0) {
    std::cerr << "mews-sandbox: cannot listen on " << o.host << ":" << o.port << "\n";
    return kExitCannotListen;
  }
  const std::string url = url_of(o.host, bound);
  print_banner(url, client_token, access_token);
  nlohmann::json ready{{"url", url},
                       {"client_token", client_token},
                       {"access_token", access_token},
                       {"pid", static_cast<long>(getpid())}};
  if (!o.ready_file.empty() && !write_ready_file(o.ready_file, ready)) {
    std::cerr << "mews-sandbox: cannot write " << o.ready_file << "\n";
    return kExitCannotListen;
  }
  return serve_until_signal(server, signals, o.ready_file);
}
