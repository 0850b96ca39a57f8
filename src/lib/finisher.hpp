// Finishing work taken off a download worker's path (internal): a file that is
// completely received still has to be made durable and renamed (fsync, which
// waits for the disk), and meanwhile its worker can already fetch the next
// file.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "mews_export/error.hpp"

namespace mews_export::detail {

// Runs jobs on up to `threads` threads of its own, started when needed. A job
// that fails (or throws) is handed to `on_error`. submit() waits while
// `threads` jobs are already queued, so what waits stays bounded whatever the
// number of files; the destructor waits for every job.
class Finisher {
 public:
  Finisher(std::size_t threads, std::function<void(Error)> on_error);
  Finisher(const Finisher&) = delete;
  Finisher& operator=(const Finisher&) = delete;
  ~Finisher();

  void submit(std::function<Status()> job);
  // Waits until every job submitted so far has run.
  void drain();

 private:
  void loop();
  void run(const std::function<Status()>& job);

  const std::size_t most_;
  const std::function<void(Error)> on_error_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::function<Status()>> queue_;
  std::size_t idle_ = 0;     // threads waiting for a job
  std::size_t running_ = 0;  // jobs being run
  bool stop_ = false;
  std::vector<std::jthread> threads_;
};

}  // namespace mews_export::detail
