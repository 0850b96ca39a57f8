#include "progress.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "app.hpp"
#include "mews_export/time.hpp"
#include "mews_export/untrusted.hpp"

namespace mews_export::cli {
namespace {

using namespace std::chrono;

constexpr auto kRedrawEvery = milliseconds{200};
constexpr std::size_t kMaxFileLines = 8;
std::size_t g_drawn_lines = 0;  // guarded by terminal_mutex()

std::string seconds_text(steady_clock::duration d) {
  return format_duration(ceil<seconds>(std::max(d, steady_clock::duration::zero())));
}

std::string percent(std::uint64_t part, std::uint64_t whole) {
  if (whole == 0) return "100%";
  return std::to_string(part * 100 / whole) + "%";
}

// Writes `lines` in place of the lines drawn before (caller holds terminal_mutex()).
void draw(const std::vector<std::string>& lines) {
  std::string out;
  for (std::size_t i = 0; i < g_drawn_lines; ++i) out += "\x1b[1A";  // up
  out += '\r';
  for (const auto& line : lines) out += "\x1b[2K" + line + "\n";
  for (std::size_t i = lines.size(); i < g_drawn_lines; ++i) out += "\x1b[2K\n";
  const std::size_t extra = g_drawn_lines > lines.size() ? g_drawn_lines - lines.size() : 0;
  for (std::size_t i = 0; i < extra; ++i) out += "\x1b[1A";
  g_drawn_lines = lines.size();
  std::fwrite(out.data(), 1, out.size(), stderr);
  std::fflush(stderr);
}

}  // namespace

std::mutex& terminal_mutex() {
  static std::mutex mutex;
  return mutex;
}

void clear_progress_lines() {
  if (g_drawn_lines == 0) return;
  std::string out;
  for (std::size_t i = 0; i < g_drawn_lines; ++i) out += "\x1b[1A\x1b[2K";
  out += '\r';
  g_drawn_lines = 0;
  std::fwrite(out.data(), 1, out.size(), stderr);
}

bool progress_enabled(const std::string& mode) {
  if (mode == "always") return true;
  if (mode == "never") return false;
  const char* term = std::getenv("TERM");
  return ::isatty(STDERR_FILENO) == 1 && (term == nullptr || std::string_view(term) != "dumb");
}

ProgressDisplay::ProgressDisplay(bool enabled) : enabled_(enabled) {
  if (enabled_) thread_ = std::jthread([this](std::stop_token stop) { loop(stop); });
}

ProgressDisplay::~ProgressDisplay() { stop(); }

void ProgressDisplay::stop() {
  if (!enabled_ || !thread_.joinable()) return;
  thread_.request_stop();
  thread_.join();
  // The final state stays on the terminal as a summary; later output goes below it.
  const auto lines = render();
  std::lock_guard terminal(terminal_mutex());
  draw(lines);
  g_drawn_lines = 0;
}

void ProgressDisplay::waiting(const std::vector<Export>& exports, milliseconds interval) {
  if (!enabled_) return;
  std::lock_guard lock(mutex_);
  statuses_.clear();
  for (const auto& e : exports) {
    statuses_.emplace_back(escape_for_terminal(e.id),
                           e.status_name.empty() ? std::string("(no status)") : escape_for_terminal(e.status_name));
  }
  next_check_ = steady_clock::now() + interval;
}

void ProgressDisplay::start_download(const Export& exp) {
  if (!enabled_) return;
  std::lock_guard lock(mutex_);
  downloading_ = true;
  files_.assign(exp.files.size(), FileState{});
  for (std::size_t i = 0; i < exp.files.size(); ++i) files_[i].total = exp.files[i].size_in_bytes;
  download_started_ = rate_at_ = steady_clock::now();
  rate_bytes_ = 0;
}

void ProgressDisplay::file_progress(const DownloadProgress& progress) {
  if (!enabled_) return;
  std::lock_guard lock(mutex_);
  if (progress.file_index >= files_.size()) files_.resize(progress.file_index + 1);
  files_[progress.file_index].bytes = progress.file_bytes;
  files_[progress.file_index].total = progress.file_total;
}

std::vector<std::string> ProgressDisplay::render() {
  std::lock_guard lock(mutex_);
  const auto now = steady_clock::now();
  std::vector<std::string> lines;
  if (!downloading_) {
    for (const auto& [id, status] : statuses_) {
      lines.push_back("export " + id + "  " + status + "  elapsed " + seconds_text(now - started_) +
                      "  next check in " + seconds_text(next_check_ - now));
    }
    return lines;
  }
  std::uint64_t bytes = 0, total = 0;
  std::size_t done = 0;
  for (std::size_t i = 0; i < files_.size(); ++i) {
    const auto& f = files_[i];
    bytes += f.bytes;
    total += f.total;
    if (f.bytes >= f.total) {
      ++done;
    } else if (f.bytes > 0 && lines.size() < kMaxFileLines) {
      lines.push_back(part_file_name(i) + "  " + human_size(f.bytes) + " / " + human_size(f.total) + "  " +
                      percent(f.bytes, f.total));
    }
  }
  // Rate over the last second or so, smoothed.
  const double window = duration<double>(now - rate_at_).count();
  if (window >= 1.0) {
    const double instant = static_cast<double>(bytes - std::min(bytes, rate_bytes_)) / window;
    rate_ = rate_ == 0 ? instant : 0.7 * rate_ + 0.3 * instant;
    rate_bytes_ = bytes;
    rate_at_ = now;
  }
  std::string line = "total  " + std::to_string(done) + "/" + std::to_string(files_.size()) + " files  " +
                     human_size(bytes) + " / " + human_size(total) + "  " + percent(bytes, total);
  if (rate_ > 0) {
    line += "  " + human_size(static_cast<std::uint64_t>(rate_)) + "/s";
    line += "  ETA " + format_duration(duration_cast<milliseconds>(seconds{
                           static_cast<long long>(static_cast<double>(total - std::min(total, bytes)) / rate_)}));
  }
  lines.push_back(std::move(line));
  return lines;
}

void ProgressDisplay::loop(std::stop_token stop) {
  while (!stop.stop_requested()) {
    auto lines = render();
    {
      std::lock_guard terminal(terminal_mutex());
      draw(lines);
    }
    std::this_thread::sleep_for(kRedrawEvery);
  }
}

}  // namespace mews_export::cli
