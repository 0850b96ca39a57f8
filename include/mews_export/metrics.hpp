// The Prometheus textfile of `run` and `sync` (--metrics-file): per job
// (profile, entity) the last run, the last success, the exit code, bytes,
// records, files and duration. Written atomically (temp + rename), as the
// node_exporter textfile collector expects; series of jobs this run did not
// touch, and the last success of a job that failed now, are kept.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "mews_export/error.hpp"
#include "mews_export/time.hpp"

namespace mews_export {

struct JobMetrics {
  std::string profile;  // "default" when none was named
  std::string entity;
  double last_run = 0;                 // Unix seconds
  std::optional<double> last_success;  // Unix seconds; none until a run succeeds
  int exit_code = 0;
  std::uint64_t bytes = 0;
  std::uint64_t records = 0;
  std::uint64_t files = 0;
  double duration_seconds = 0;
};

// The text of the file for `jobs` (HELP and TYPE lines, one series per job and metric).
std::string metrics_text(const std::vector<JobMetrics>& jobs);
// The jobs of a file metrics_text() wrote (other lines ignored).
std::vector<JobMetrics> parse_metrics(const std::string& text);

// Merges `now` into the file at `path` (read when it exists) and writes it
// atomically: jobs of `now` replace theirs, keeping their earlier last success
// when they failed; other jobs stay as they were. Io on failure.
Status update_metrics_file(const std::filesystem::path& path, const std::vector<JobMetrics>& now);

}  // namespace mews_export
