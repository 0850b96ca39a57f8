#include "mews_export/metrics.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <map>
#include <sstream>

#include "atomic_file.hpp"
#include "files.hpp"

namespace mews_export {
namespace {

constexpr std::size_t kMaxMetricsFileBytes = 16 << 20;

struct Metric {
  const char* name;
  const char* help;
};

constexpr std::array<Metric, 7> kMetrics{{
    {"mews_export_last_run_timestamp_seconds", "When the job last ran (Unix time)."},
    {"mews_export_last_success_timestamp_seconds", "When the job last succeeded (Unix time)."},
    {"mews_export_last_exit_code", "The exit code of the job's last run (0: success)."},
    {"mews_export_bytes", "Bytes the job's last run downloaded."},
    {"mews_export_records", "Records (JSON lines) the job's last run downloaded."},
    {"mews_export_files", "Files the job's last run downloaded."},
    {"mews_export_duration_seconds", "How long the job's last run took."},
}};

// A label value as the text format wants it: \\, \" and \n escaped.
std::string label(const std::string& value) {
  std::string out;
  for (const char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string number(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.17g", value);
  return buffer;
}

std::optional<double> value_of(const JobMetrics& j, std::size_t metric) {
  switch (metric) {
    case 0: return j.last_run;
    case 1: return j.last_success;
    case 2: return j.exit_code;
    case 3: return static_cast<double>(j.bytes);
    case 4: return static_cast<double>(j.records);
    case 5: return static_cast<double>(j.files);
    default: return j.duration_seconds;
  }
}

void set_value(JobMetrics& j, std::size_t metric, double v) {
  switch (metric) {
    case 0: j.last_run = v; break;
    case 1: j.last_success = v; break;
    case 2: j.exit_code = static_cast<int>(v); break;
    case 3: j.bytes = static_cast<std::uint64_t>(v); break;
    case 4: j.records = static_cast<std::uint64_t>(v); break;
    case 5: j.files = static_cast<std::uint64_t>(v); break;
    default: j.duration_seconds = v; break;
  }
}

// `profile="a",entity="b"` -> {a, b}; nullopt when it is not ours.
std::optional<std::pair<std::string, std::string>> labels_of(std::string_view text) {
  std::map<std::string, std::string> found;
  while (!text.empty()) {
    const auto eq = text.find("=\"");
    if (eq == std::string_view::npos) return std::nullopt;
    std::string key(text.substr(0, eq));
    std::string value;
    std::size_t i = eq + 2;
    for (; i < text.size() && text[i] != '"'; ++i) {
      char c = text[i];
      if (c == '\\' && i + 1 < text.size()) {
        c = text[++i];
        if (c == 'n') c = '\n';
      }
      value += c;
    }
    found[key] = value;
    text.remove_prefix(std::min(text.size(), i + 1));
    if (!text.empty() && text.front() == ',') text.remove_prefix(1);
  }
  if (!found.contains("profile") || !found.contains("entity")) return std::nullopt;
  return std::pair{found["profile"], found["entity"]};
}

}  // namespace

std::string metrics_text(const std::vector<JobMetrics>& jobs) {
  std::string out;
  for (std::size_t m = 0; m < kMetrics.size(); ++m) {
    out += std::string("# HELP ") + kMetrics[m].name + " " + kMetrics[m].help + "\n";
    out += std::string("# TYPE ") + kMetrics[m].name + " gauge\n";
    for (const auto& j : jobs) {
      const auto v = value_of(j, m);
      if (!v) continue;
      out += std::string(kMetrics[m].name) + "{profile=\"" + label(j.profile) + "\",entity=\"" + label(j.entity) +
             "\"} " + number(*v) + "\n";
    }
  }
  return out;
}

std::vector<JobMetrics> parse_metrics(const std::string& text) {
  std::map<std::pair<std::string, std::string>, JobMetrics> jobs;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line.front() == '#') continue;
    const auto open = line.find('{');
    const auto close = line.rfind('}');
    if (open == std::string::npos || close == std::string::npos || close < open) continue;
    const auto metric = std::find_if(kMetrics.begin(), kMetrics.end(),
                                     [&](const Metric& m) { return line.compare(0, open, m.name) == 0; });
    const auto labels = labels_of(std::string_view(line).substr(open + 1, close - open - 1));
    if (metric == kMetrics.end() || !labels) continue;
    double v = 0;
    const auto value = std::string_view(line).substr(close + 1);
    const auto start = value.find_first_not_of(' ');
    if (start == std::string_view::npos) continue;
    if (std::from_chars(value.data() + start, value.data() + value.size(), v).ec != std::errc{}) continue;
    auto& job = jobs[*labels];
    job.profile = labels->first;
    job.entity = labels->second;
    set_value(job, static_cast<std::size_t>(metric - kMetrics.begin()), v);
  }
  std::vector<JobMetrics> out;
  for (auto& [key, job] : jobs) out.push_back(std::move(job));
  return out;
}

Status update_metrics_file(const std::filesystem::path& path, const std::vector<JobMetrics>& now) {
  std::vector<JobMetrics> merged;
  if (auto text = detail::read_regular_file(path, kMaxMetricsFileBytes)) merged = parse_metrics(*text);
  for (const auto& job : now) {
    const auto same = [&](const JobMetrics& j) { return j.profile == job.profile && j.entity == job.entity; };
    const auto it = std::find_if(merged.begin(), merged.end(), same);
    JobMetrics updated = job;
    if (!updated.last_success && it != merged.end()) updated.last_success = it->last_success;
    if (it == merged.end()) {
      merged.push_back(std::move(updated));
    } else {
      *it = std::move(updated);
    }
  }
  std::sort(merged.begin(), merged.end(), [](const JobMetrics& a, const JobMetrics& b) {
    return std::tie(a.profile, a.entity) < std::tie(b.profile, b.entity);
  });
  // 0644 whatever the umask: node_exporter runs as another user, and the file
  // holds counts and profile names, no personal data or secrets.
  return detail::write_file_atomically(path, metrics_text(merged), 0644);
}

}  // namespace mews_export
