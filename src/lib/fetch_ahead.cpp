#include "fetch_ahead.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace mews_export::detail {

// --------------------------------------------------------------- FetchWindow

FetchWindow::FetchWindow(std::size_t count, std::size_t ahead)
    : count_(count), ahead_(ahead), done_(count, false), errors_(count) {}

std::optional<std::size_t> FetchWindow::claim_ahead() {
  std::unique_lock lock(mutex_);
  // Never the writer's own file (next_ > emitting_), never beyond the window.
  changed_.wait(lock,
                [this] { return stop_ || next_ >= count_ || (next_ > emitting_ && next_ <= emitting_ + ahead_); });
  if (stop_ || next_ >= count_) return std::nullopt;
  return next_++;
}

void FetchWindow::finish(std::size_t index, std::optional<Error> error) {
  {
    std::lock_guard lock(mutex_);
    done_[index] = true;
    errors_[index] = std::move(error);
  }
  changed_.notify_all();
}

bool FetchWindow::claim_for_writer(std::size_t index) {
  {
    std::lock_guard lock(mutex_);
    if (next_ != index) return false;
    ++next_;
  }
  changed_.notify_all();  // fetchers waiting for the writer to take its file may go on
  return true;
}

std::optional<Error> FetchWindow::wait_fetched(std::size_t index) {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return done_[index]; });
  return errors_[index];
}

void FetchWindow::emitted(std::size_t index) {
  {
    std::lock_guard lock(mutex_);
    emitting_ = index + 1;
  }
  changed_.notify_all();
}

void FetchWindow::stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
}

bool FetchWindow::stopped() const {
  std::lock_guard lock(mutex_);
  return stop_;
}

// ---------------------------------------------------------------- temp files

Result<UniqueFd> open_unlinked_temp(const std::filesystem::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (fd.valid()) return fd;
  // No O_TMPFILE on this file system: create, then unlink at once.
  std::string name = (dir / ".mews-export-ahead-XXXXXX").string();
  fd = UniqueFd(::mkostemp(name.data(), O_CLOEXEC));
  if (!fd.valid()) {
    return fail(ErrorKind::Io, "cannot create a temporary file in " + dir.string() + " for fetching ahead: " +
                                   std::strerror(errno) + " (set TMPDIR, or use --parallel 1)");
  }
  ::unlink(name.c_str());
  return fd;
}

Status TempOutput::write(std::string_view chunk) {
  if (window_.stopped()) return fail(ErrorKind::Interrupted, "the stream stopped");
  while (!chunk.empty()) {
    const ssize_t n = ::pwrite(fd_.get(), chunk.data(), chunk.size(), static_cast<off_t>(size_));
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(ErrorKind::Io, std::string("cannot write a file fetched ahead to the temporary directory: ") +
                                     std::strerror(errno) + " (set TMPDIR, or use --parallel 1)");
    }
    chunk.remove_prefix(static_cast<std::size_t>(n));
    size_ += static_cast<std::uint64_t>(n);
  }
  return {};
}

Status TempOutput::restart() {
  if (::ftruncate(fd_.get(), 0) != 0) {
    return fail(ErrorKind::Io, std::string("cannot truncate a temporary file: ") + std::strerror(errno));
  }
  size_ = 0;
  return {};
}

}  // namespace mews_export::detail
