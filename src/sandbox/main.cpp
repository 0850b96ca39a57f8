// mews-sandbox: a local stand-in for the Mews Connector API "Data export"
// endpoints, for trying mews-export without credentials and for tests.
#include <signal.h>

#include <unistd.h>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "scenario.hpp"
#include "server.hpp"

namespace {

void usage(std::ostream& out) {
  out << "usage: mews-sandbox [--host HOST] [--port N] [--scenario FILE.json] [--ready-file PATH] [--seed N]\n"
         "  --host HOST        address to listen on (default 127.0.0.1)\n"
         "  --port N           port; 0 = ephemeral (default 8787)\n"
         "  --scenario FILE    JSON scenario (tokens, progression, faults...; see docs/sandbox.md)\n"
         "  --ready-file PATH  write {\"url\",\"client_token\",\"access_token\",\"pid\"} once listening\n"
         "  --seed N           seed of the synthetic data (default 42, or the scenario's)\n";
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

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = 8787;
  std::string scenario_path, ready_file;
  std::optional<std::uint64_t> seed;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "mews-sandbox: " << arg << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    try {
      if (arg == "--host")
        host = value();
      else if (arg == "--port")
        port = std::stoi(value());
      else if (arg == "--scenario")
        scenario_path = value();
      else if (arg == "--ready-file")
        ready_file = value();
      else if (arg == "--seed")
        seed = std::stoull(value());
      else if (arg == "-h" || arg == "--help") {
        usage(std::cout);
        return 0;
      } else {
        std::cerr << "mews-sandbox: unknown argument " << arg << "\n";
        usage(std::cerr);
        return 2;
      }
    } catch (const std::exception&) {
      std::cerr << "mews-sandbox: invalid value for " << arg << "\n";
      return 2;
    }
  }
  if (port < 0 || port > 65535) {
    std::cerr << "mews-sandbox: invalid port\n";
    return 2;
  }

  mews_sandbox::Scenario scenario;
  try {
    if (!scenario_path.empty()) scenario = mews_sandbox::load_scenario_file(scenario_path);
  } catch (const std::exception& e) {
    std::cerr << "mews-sandbox: " << e.what() << "\n";
    return 2;
  }
  if (seed) scenario.seed = *seed;
  std::string client_token = scenario.client_tokens.empty() ? "" : scenario.client_tokens.front();
  std::string access_token = scenario.access_tokens.front();

  // Signals are handled by sigwait in this thread; every other thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  mews_sandbox::Server server(std::move(scenario));
  int bound = server.bind(host, port);
  if (bound <= 0) {
    std::cerr << "mews-sandbox: cannot listen on " << host << ":" << port << "\n";
    return 1;
  }
  std::string shown_host = host == "0.0.0.0" || host == "::" ? "127.0.0.1" : host;
  if (shown_host.find(':') != std::string::npos) shown_host = "[" + shown_host + "]";
  std::string url = "http://" + shown_host + ":" + std::to_string(bound);

  std::cout << "mews-sandbox listening on " << url << "\n"
            << "Try it with:\n"
            << "  export MEWS_PLATFORM=" << url << "\n"
            << "  export MEWS_CLIENT_TOKEN=" << client_token << "\n"
            << "  export MEWS_ACCESS_TOKEN=" << access_token << "\n"
            << "  mews-export run --entity OrderItem -o ./exports --interval 1s\n"
            << "Press Ctrl-C to stop." << std::endl;

  if (!ready_file.empty()) {
    nlohmann::json ready{{"url", url},
                         {"client_token", client_token},
                         {"access_token", access_token},
                         {"pid", static_cast<long>(getpid())}};
    if (!write_ready_file(ready_file, ready)) {
      std::cerr << "mews-sandbox: cannot write " << ready_file << "\n";
      return 1;
    }
  }

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
  for (int i = 0; i < 20 && !finished; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (!finished) {
    std::fflush(nullptr);
    std::_Exit(ok ? 0 : 1);
  }
  listener.join();
  return ok ? 0 : 1;
}
