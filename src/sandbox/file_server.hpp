// The signed file URLs: GET/HEAD /files/<id>/<index> (and the never-faulted
// /redirected/files/ twin a redirect fault points to) with signature and
// expiry checks, file faults, single byte ranges, ETag / Last-Modified and
// If-Range.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <httplib.h>

#include "export_store.hpp"
#include "faults.hpp"
#include "signer.hpp"
#include "stats.hpp"
#include "stopper.hpp"

namespace mews_sandbox {

class FileServer {
 public:
  // `default_host`: the address for redirect URLs when a request has no Host
  // (a reference: the server knows it only once bound).
  FileServer(ExportStore& store, FaultBook& faults, Stats& stats, const UrlSigner& signer, Stopper& stopper,
             const std::string& default_host);

  // Registers GET (and so HEAD) /files/... and /redirected/files/... on `http`.
  void route(httplib::Server& http);

 private:
  void handle(const httplib::Request& req, httplib::Response& res, bool redirected);
  void count_request(const httplib::Request& req, const std::string& range, bool redirected);
  bool check_signature(const httplib::Request& req, const std::string& path, httplib::Response& res);
  void apply_mutation(FileRef& file);
  std::optional<Fault> fault_for(const FileRef& file, bool redirected);
  void redirect(const httplib::Request& req, httplib::Response& res, const Fault& fault, const FileRef& file,
                const std::string& export_id);
  void serve_range(const httplib::Request& req, httplib::Response& res, const FileRef& file, const std::string& range,
                   const std::optional<Fault>& fault);
  void serve(httplib::Response& res, const FileRef& file, std::uint64_t start, std::uint64_t length,
             const BodyShape& shape);

  ExportStore& store_;
  FaultBook& faults_;
  Stats& stats_;
  const UrlSigner& signer_;
  Stopper& stopper_;
  const std::string& default_host_;
};

}  // namespace mews_sandbox
