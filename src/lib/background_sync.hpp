// Makes a file's written data durable while more is being written (internal).
// PartFile asks for it after each write-behind window: the fdatasync runs on a
// thread of its own, so the device persists the file as it comes and the
// final fsync finds little left to do, instead of the whole file at once.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "files.hpp"

namespace mews_export::detail {

class BackgroundSync {
 public:
  // How a descriptor is synced: returns 0 or an errno. ::fdatasync by default;
  // tests pass a fake.
  using SyncFn = std::function<int(int fd)>;

  // Syncs a duplicate of `fd` (so the caller may close its own at any time).
  // Without a descriptor (dup failed) requests do nothing.
  explicit BackgroundSync(int fd, SyncFn sync = {});
  BackgroundSync(const BackgroundSync&) = delete;
  BackgroundSync& operator=(const BackgroundSync&) = delete;
  // stop().
  ~BackgroundSync();

  // Asks for a sync and returns at once. The thread starts on the first
  // request; requests made while a sync runs merge into one more.
  void request();
  // Keeps `err`, an errno the owner's own writeback wait returned, when it
  // is the first (0 and "not supported" answers are ignored).
  void report(int err);
  // The first errno of a failed sync or report() (0: none). The kernel
  // reports a writeback error once per open file, to whichever sync or wait
  // sees it first, so the owner must pass this one on itself.
  int error();
  // Waits for a sync that is running, drops one only asked for, ends the
  // thread, and returns error(). Later requests do nothing.
  int stop();

 private:
  void loop();

  UniqueFd fd_;
  SyncFn sync_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool pending_ = false;
  bool stop_ = false;
  int error_ = 0;
  std::thread thread_;  // last: started after the members it reads
};

}  // namespace mews_export::detail
