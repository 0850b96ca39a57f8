// The sandbox HTTP server: exports/add and exports/getAll like the Connector
// API, signed file URLs with Range support, fault injection, and the
// unauthenticated /_sandbox/ introspection endpoints for tests.
#pragma once

#include <memory>
#include <string>

#include "scenario.hpp"

namespace mews_sandbox {

class Server {
 public:
  explicit Server(Scenario scenario);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens on `host`:`port` (0 = ephemeral). Returns the port, or -1.
  int bind(const std::string& host, int port);
  // Accepts connections until stop(); returns false when the server failed.
  bool run();
  // Stops run() and the background indexers; safe from any thread.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mews_sandbox
