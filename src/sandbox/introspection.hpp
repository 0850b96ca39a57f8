// The unauthenticated /_sandbox/ endpoints for tests: request counters,
// the exports with their files, a file's content without signature or
// faults, and the dataset mode's records.
#pragma once

#include <httplib.h>

#include "dataset.hpp"
#include "export_store.hpp"
#include "scenario.hpp"
#include "stats.hpp"
#include "stopper.hpp"

namespace mews_sandbox {

class Introspection {
 public:
  // `dataset`: the record population in dataset mode, else null.
  Introspection(const Scenario& scenario, const Dataset* dataset, ExportStore& store, Stats& stats, Stopper& stopper);

  // Registers every /_sandbox/ endpoint on `http`.
  void route(httplib::Server& http);

 private:
  void exports(httplib::Response& res);
  void file(const httplib::Request& req, httplib::Response& res);
  void dataset(const httplib::Request& req, httplib::Response& res);

  const Scenario& sc_;
  const Dataset* dataset_;
  ExportStore& store_;
  Stats& stats_;
  Stopper& stopper_;
};

}  // namespace mews_sandbox
