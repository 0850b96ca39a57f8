// The sandbox's request counters, served by GET /_sandbox/stats so that tests
// can check what a client did (docs/sandbox.md lists every field).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mews_sandbox {

struct StatsData {
  std::map<std::string, std::uint64_t> api_requests;  // by action: "add", "getAll"
  std::map<std::string, std::uint64_t> adds_created;  // by entity type
  std::uint64_t getall_calls = 0;
  std::uint64_t file_gets = 0;
  std::uint64_t range_gets = 0;
  std::vector<std::string> ranges;
  std::uint64_t heads = 0;
  std::uint64_t forbidden = 0;
  std::uint64_t not_found = 0;
  std::uint64_t rate_limited = 0;
  std::uint64_t unauthorized = 0;
  std::uint64_t bad_requests = 0;
  std::uint64_t redirected_gets = 0;                      // GET/HEAD of /redirected/files/...
  std::uint64_t gzip_responses = 0;                       // file bodies sent with Content-Encoding: gzip
  std::uint64_t chunked_responses = 0;                    // file bodies sent with Transfer-Encoding: chunked
  std::map<std::string, std::uint64_t> faults_triggered;  // by action name
  std::uint64_t other_requests = 0;                       // requests that matched no route
  std::uint64_t requests_total = 0;                       // every request outside /_sandbox/
};

// Thread-safe counters; every component updates them through update().
class Stats {
 public:
  // Runs `change(data)` under the lock.
  template <class F>
  void update(F&& change) {
    std::lock_guard lock(mu_);
    change(data_);
  }
  // The counters as the /_sandbox/stats JSON object.
  nlohmann::json to_json() const;
  // Zeroes every counter.
  void reset();

 private:
  mutable std::mutex mu_;
  StatsData data_;
};

}  // namespace mews_sandbox
