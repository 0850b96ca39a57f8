#include "background_sync.hpp"

#include <fcntl.h>

#include <cerrno>
#include <utility>

namespace mews_export::detail {
namespace {

// Answers that mean "this file cannot be synced" rather than "data was lost":
// finish()'s fsync decides about those.
bool is_unsupported(int err) {
  return err == EINVAL || err == ENOSYS || err == EROFS || err == ENOTSUP || err == ESPIPE;
}

}  // namespace

BackgroundSync::BackgroundSync(int fd, SyncFn sync)
    : fd_(::fcntl(fd, F_DUPFD_CLOEXEC, 0)), sync_(sync ? std::move(sync) : SyncFn(fdatasync_fd)) {}

BackgroundSync::~BackgroundSync() { stop(); }

int BackgroundSync::stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
  return error();
}

void BackgroundSync::request() {
  std::lock_guard lock(mutex_);
  if (!fd_.valid() || stop_) return;
  pending_ = true;
  if (!thread_.joinable()) {
    thread_ = std::thread([this] { loop(); });
  }
  changed_.notify_all();
}

void BackgroundSync::report(int err) {
  std::lock_guard lock(mutex_);
  if (err != 0 && !is_unsupported(err) && error_ == 0) error_ = err;
}

int BackgroundSync::error() {
  std::lock_guard lock(mutex_);
  return error_;
}

void BackgroundSync::loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [this] { return stop_ || pending_; });
    if (stop_) return;
    pending_ = false;
    lock.unlock();
    report(sync_(fd_.get()));
    lock.lock();
  }
}

}  // namespace mews_export::detail
