#include "fetch_ahead.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "files.hpp"
#include "mews_export/cancel.hpp"

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

namespace {

std::unexpected<Error> fail_temp_write(int err) {
  return fail(ErrorKind::Io, std::string("cannot write what is fetched ahead to the temporary directory: ") +
                                 std::strerror(err) + " (set TMPDIR, or use --parallel 1 --split 1)");
}

}  // namespace

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
  if (const int err = write_all_at(fd_.get(), chunk, size_); err != 0) return fail_temp_write(err);
  size_ += chunk.size();
  return {};
}

Status TempOutput::restart() {
  if (::ftruncate(fd_.get(), 0) != 0) {
    return fail(ErrorKind::Io, std::string("cannot truncate a temporary file: ") + std::strerror(errno));
  }
  size_ = 0;
  return {};
}

// ---------------------------------------------------------------- RangeSpool

RangeSpool::RangeSpool(UniqueFd fd, std::vector<ByteRange> ranges)
    : fd_(std::move(fd)),
      base_(ranges.empty() ? 0 : ranges.front().start),
      ranges_(std::move(ranges)),
      finished_(ranges_.size(), false),
      errors_(ranges_.size()) {}

ByteRange RangeSpool::range(std::size_t k) const {
  std::lock_guard lock(mutex_);
  return ranges_[k];
}

Status RangeSpool::write(std::size_t k, std::string_view chunk) {
  std::uint64_t at = 0;
  {
    std::lock_guard lock(mutex_);
    if (stop_) return fail(ErrorKind::Interrupted, "the stream stopped");
    at = ranges_[k].start + ranges_[k].done - base_;
  }
  // Only this range's fetcher writes here: the pwrite needs no lock.
  if (const int err = write_all_at(fd_.get(), chunk, at); err != 0) return fail_temp_write(err);
  {
    std::lock_guard lock(mutex_);
    ranges_[k].done += chunk.size();
  }
  changed_.notify_all();
  return {};
}

void RangeSpool::finish(std::size_t k, std::optional<Error> error) {
  {
    std::lock_guard lock(mutex_);
    finished_[k] = true;
    errors_[k] = std::move(error);
  }
  changed_.notify_all();
}

Result<std::uint64_t> RangeSpool::wait_beyond(std::size_t k, std::uint64_t from) {
  std::unique_lock lock(mutex_);
  for (;;) {
    const ByteRange& r = ranges_[k];
    if (r.done > from) return r.done;
    if (errors_[k]) return std::unexpected(*errors_[k]);
    if (finished_[k]) {  // "complete" with bytes missing: never expected, but never a hang
      if (r.complete()) return r.done;
      return fail(ErrorKind::Io, "a range of the file ended early");
    }
    if (cancel_requested()) return std::unexpected(interrupted_keeping_files());
    // A cancel does not notify: look again now and then.
    changed_.wait_for(lock, std::chrono::milliseconds{200});
  }
}

void RangeSpool::stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
}

}  // namespace mews_export::detail
