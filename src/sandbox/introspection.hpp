// The unauthenticated /_sandbox/ endpoints for tests: request counters,
// the exports with their files, and a file's content without signature or
// faults.
#pragma once

#include <httplib.h>

#include "export_store.hpp"
#include "stats.hpp"
#include "stopper.hpp"

namespace mews_sandbox {

class Introspection {
 public:
  Introspection(ExportStore& store, Stats& stats, Stopper& stopper);

  // Registers every /_sandbox/ endpoint on `http`.
  void route(httplib::Server& http);

 private:
  void exports(httplib::Response& res);
  void file(const httplib::Request& req, httplib::Response& res);

  ExportStore& store_;
  Stats& stats_;
  Stopper& stopper_;
};

}  // namespace mews_sandbox
