// Progress on a terminal: while waiting, each export's status, the elapsed
// time and the countdown to the next check; while downloading, one line per
// active file and a total with bytes, rate and ETA — redrawn in place on
// stderr. Shown only when stderr is a terminal (--progress auto), or always /
// never; log lines are printed above it without garbling it.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mews_export/downloader.hpp"
#include "mews_export/model.hpp"

namespace mews_export::cli {

// Whether to draw: `mode` is auto|always|never; auto = stderr is a terminal
// (and TERM is not "dumb").
bool progress_enabled(const std::string& mode);

// Erases the drawn progress lines, if any; the log sink calls it before each
// line it writes (with the lock held by the caller through lock_terminal()).
void clear_progress_lines();
std::mutex& terminal_mutex();

class ProgressDisplay {
 public:
  explicit ProgressDisplay(bool enabled);
  ~ProgressDisplay();  // stop()
  // Stops redrawing and leaves the final state as a summary, so that results
  // printed on stdout (maybe the same terminal) come below it. Idempotent.
  void stop();
  ProgressDisplay(const ProgressDisplay&) = delete;
  ProgressDisplay& operator=(const ProgressDisplay&) = delete;

  // After each poll: the exports' state and when the next check is due.
  void waiting(const std::vector<Export>& exports, std::chrono::milliseconds interval);
  // Before a download: the export's files.
  void start_download(const Export& exp);
  // From the downloader (any thread).
  void file_progress(const DownloadProgress& progress);
  bool enabled() const { return enabled_; }

 private:
  struct FileState {
    std::uint64_t bytes = 0;
    std::uint64_t total = 0;
  };
  void loop(std::stop_token stop);
  std::vector<std::string> render();

  bool enabled_;
  std::mutex mutex_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  // Waiting.
  std::vector<std::pair<std::string, std::string>> statuses_;  // id, status
  std::chrono::steady_clock::time_point next_check_{};
  // Downloading.
  bool downloading_ = false;
  std::vector<FileState> files_;
  std::chrono::steady_clock::time_point download_started_{};
  std::uint64_t rate_bytes_ = 0;  // for the rate window
  std::chrono::steady_clock::time_point rate_at_{};
  double rate_ = 0;
  std::jthread thread_;
};

}  // namespace mews_export::cli
