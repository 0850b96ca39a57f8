// Everything the CLI prints: results on stdout (checked), errors, retries and
// notices on stderr (through spdlog), in one place.
#include "output.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iomanip>
#include <sstream>

#include "app.hpp"
#include "logging.hpp"
#include "mews_export/time.hpp"
#include "mews_export/untrusted.hpp"

namespace mews_export::cli {
namespace {

constexpr int kExitBrokenPipe = 141;  // as a filter killed by SIGPIPE would

int g_stdout_errno = 0;  // the first failed write's errno

void remember(int err) {
  if (g_stdout_errno == 0) g_stdout_errno = err != 0 ? err : EIO;
}

}  // namespace

void print_stdout(std::string_view text) {
  if (text.empty() || g_stdout_errno != 0) return;
  errno = 0;
  if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size()) remember(errno);
}

int finish_stdout(int code) {
  errno = 0;
  if (std::fflush(stdout) != 0 || std::ferror(stdout) != 0) remember(errno);
  errno = 0;
  if (std::fclose(stdout) != 0) remember(errno);
  if (g_stdout_errno == 0 || code != 0) return code;  // a failure was already reported
  if (g_stdout_errno == EPIPE) return kExitBrokenPipe;
  spdlog::error("cannot write to standard output: {}", std::strerror(g_stdout_errno));
  return 1;
}

int report(const Error& error) {
  if (error.kind == ErrorKind::OutputClosed) return exit_code(error);  // `| head`: not worth a word
  nlohmann::json fields = {{"error", to_string(error.kind)}, {"exit_code", exit_code(error)}};
  if (error.http_status != 0) fields["http_status"] = error.http_status;
  if (!error.request_id.empty()) fields["request_id"] = error.request_id;
  if (!error.export_id.empty()) fields["export_id"] = error.export_id;
  LogFields scope(fields);
  spdlog::error("{}", describe(error));
  return exit_code(error);
}

void log_retry(const RetryNotice& retry) {
  spdlog::warn("{}: {}; retrying in {} (attempt {} of {})", retry.what, describe(retry.error),
               format_duration(retry.delay), retry.attempt, retry.max_attempts);
}

void log_notice(const Notice& notice) {
  LogFields scope(notice.export_id.empty() ? nlohmann::json::object()
                                           : nlohmann::json{{"export_id", notice.export_id}});
  if (notice.level == Notice::Level::Warning) {
    spdlog::warn("{}", notice.message);
  } else {
    spdlog::info("{}", notice.message);
  }
}

void print_json(const nlohmann::json& value) { print_stdout(to_display_json(value) + "\n"); }

std::string human_size(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024.0 && unit < 4) {
    value /= 1024.0;
    ++unit;
  }
  std::ostringstream out;
  if (unit == 0) {
    out << bytes << " B";
  } else {
    out << std::fixed << std::setprecision(1) << value << ' ' << kUnits[unit];
  }
  return out.str();
}

void print_table(std::vector<std::vector<std::string>> rows) {
  if (rows.empty()) return;
  for (auto& row : rows) {
    for (auto& cell : row) cell = escape_for_terminal(cell);  // cells may hold what a server sent
  }
  std::vector<std::size_t> widths(rows.front().size(), 0);
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      out += row[i];
      if (i + 1 < row.size()) out += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out += '\n';
  }
  print_stdout(out);
}

void print_export_table(const std::vector<Export>& exports) {
  std::vector<std::vector<std::string>> rows{{"ID", "ENTITY", "STATUS", "FILES", "SIZE", "EXPIRES"}};
  for (const auto& e : exports) {
    rows.push_back({e.id, e.entity_type_name.empty() ? "-" : e.entity_type_name,
                    e.status_name.empty() ? "-" : e.status_name, std::to_string(e.files.size()),
                    e.files.empty() ? "-" : human_size(e.total_size()), e.expires_utc.value_or("-")});
  }
  print_table(std::move(rows));
}

void print_download(const DownloadResult& result, bool json) {
  if (result.already_complete) {
    spdlog::info("export {} is already downloaded and verified in {}", result.manifest.export_id,
                 result.directory.string());
  }
  if (result.directory.empty()) return;  // a stream: the data was the output
  if (json) {
    auto doc = to_json(result.manifest);
    doc["Directory"] = result.directory.string();
    print_json(doc);
  } else {
    print_stdout(result.directory.string() + "\n");
  }
}

}  // namespace mews_export::cli
