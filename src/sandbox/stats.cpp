#include "stats.hpp"

namespace mews_sandbox {

nlohmann::json Stats::to_json() const {
  std::lock_guard lock(mu_);
  const StatsData& d = data_;
  std::uint64_t total = 0;
  for (const auto& [action, n] : d.api_requests) total += n;
  return nlohmann::json{{"api_requests", d.api_requests},
                        {"api_requests_total", total},
                        {"adds_created", d.adds_created},
                        {"getall_calls", d.getall_calls},
                        {"file_gets", d.file_gets},
                        {"range_gets", d.range_gets},
                        {"ranges", d.ranges},
                        {"heads", d.heads},
                        {"forbidden", d.forbidden},
                        {"not_found", d.not_found},
                        {"rate_limited", d.rate_limited},
                        {"unauthorized", d.unauthorized},
                        {"bad_requests", d.bad_requests},
                        {"redirected_gets", d.redirected_gets},
                        {"gzip_responses", d.gzip_responses},
                        {"chunked_responses", d.chunked_responses},
                        {"faults_triggered", d.faults_triggered},
                        {"other_requests", d.other_requests},
                        {"requests_total", d.requests_total}};
}

void Stats::reset() {
  std::lock_guard lock(mu_);
  data_ = StatsData{};
}

}  // namespace mews_sandbox
