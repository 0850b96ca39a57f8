// The Connector API endpoints exports/add and exports/getAll: fault check,
// body and token checks, rate limit, validation, then the export store.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "export_json.hpp"
#include "export_store.hpp"
#include "faults.hpp"
#include "rate_limiter.hpp"
#include "scenario.hpp"
#include "signer.hpp"
#include "stats.hpp"

namespace mews_sandbox {

class ApiHandlers {
 public:
  // `default_host`: the address to put in file URLs when a request has no Host
  // (a reference: the server knows it only once bound).
  ApiHandlers(const Scenario& scenario, ExportStore& store, FaultBook& faults, Stats& stats, const UrlSigner& signer,
              const std::string& default_host);

  // Registers POST /api/connector/v1/exports/add and .../getAll on `http`.
  void route(httplib::Server& http);

 private:
  enum class Action { Add, GetAll };

  void handle(Action action, const httplib::Request& req, httplib::Response& res);
  std::optional<std::size_t> authenticate(const nlohmann::json& body, httplib::Response& res);
  bool admit(std::size_t token_index, httplib::Response& res);
  void handle_add(const nlohmann::json& body, std::size_t token_index, const httplib::Request& req,
                  httplib::Response& res, const std::optional<Fault>& fault);
  void handle_get_all(const nlohmann::json& body, std::size_t token_index, const httplib::Request& req,
                      httplib::Response& res, const std::optional<Fault>& fault);
  ExportJsonOptions json_options(const httplib::Request& req) const;
  void bad_request(httplib::Response& res, const std::string& message);

  const Scenario& sc_;
  ExportStore& store_;
  FaultBook& faults_;
  Stats& stats_;
  const UrlSigner& signer_;
  const std::string& default_host_;
  RateLimiter limiter_;
};

}  // namespace mews_sandbox
