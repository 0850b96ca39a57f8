#include "atomic_file.hpp"

#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

namespace mews_export::detail {
namespace {

constexpr std::size_t kReadChunk = 64 * 1024;

std::atomic<unsigned> g_temp_counter{0};

// Writes all of `data` at `offset`, retrying short writes and EINTR. 0 or errno.
int write_all_at(int fd, std::string_view data, std::uint64_t offset) {
  while (!data.empty()) {
    const ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;
    data.remove_prefix(static_cast<std::size_t>(n));
    offset += static_cast<std::uint64_t>(n);
  }
  return 0;
}

// Reads [from, to) of `fd` in chunks, calling `fn`; errno or 0 (or a callback error).
template <class Fn>
Status read_range(int fd, std::uint64_t from, std::uint64_t to, const std::filesystem::path& path, Fn&& fn) {
  std::vector<char> buffer(kReadChunk);
  while (from < to) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(kReadChunk, to - from));
    const ssize_t n = ::pread(fd, buffer.data(), want, static_cast<off_t>(from));
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(io_error("cannot read", path, errno));
    }
    if (n == 0) return std::unexpected(io_error("cannot read", path, EIO));  // shrank under us
    from += static_cast<std::uint64_t>(n);
    if (auto st = fn(std::string_view(buffer.data(), static_cast<std::size_t>(n))); !st) return st;
  }
  return {};
}

int fsync_fd(int fd) {
  while (::fsync(fd) != 0) {
    if (errno != EINTR) return errno;
  }
  return 0;
}

std::filesystem::path parent_or_dot(const std::filesystem::path& path) {
  auto parent = path.parent_path();
  return parent.empty() ? std::filesystem::path(".") : parent;
}

}  // namespace

Error io_error(std::string_view action, const std::filesystem::path& path, int err) {
  std::string message = std::string(action) + " '" + path.string() + "': " + std::generic_category().message(err);
  switch (err) {
    case ENOSPC:
    case EDQUOT: message += " (free some disk space, then run again: partial downloads are resumed)"; break;
    case EACCES:
    case EPERM: message += " (check the permissions of the directory, or choose another with -o)"; break;
    case EROFS: message += " (the file system is read-only; choose another directory with -o)"; break;
    default: break;
  }
  return Error{.kind = ErrorKind::Io, .message = std::move(message)};
}

Status fsync_directory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return std::unexpected(io_error("cannot open directory", dir, errno));
  const int err = fsync_fd(fd);
  ::close(fd);
  // Some file systems do not support fsync on directories; that is not data loss.
  if (err != 0 && err != EINVAL && err != ENOTSUP) {
    return std::unexpected(io_error("cannot sync directory", dir, err));
  }
  return {};
}

Status read_file_chunks(const std::filesystem::path& path, std::uint64_t from,
                        const std::function<void(std::string_view)>& fn) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::unexpected(io_error("cannot open", path, errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return std::unexpected(io_error("cannot read", path, err));
  }
  auto result =
      read_range(fd, from, static_cast<std::uint64_t>(st.st_size), path, [&](std::string_view chunk) -> Status {
        fn(chunk);
        return {};
      });
  ::close(fd);
  return result;
}

// ---------------------------------------------------------------- AtomicFile

AtomicFile::AtomicFile(std::filesystem::path path, std::filesystem::path temp, int fd)
    : path_(std::move(path)), temp_(std::move(temp)), fd_(fd) {}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : path_(std::move(other.path_)),
      temp_(std::move(other.temp_)),
      fd_(std::exchange(other.fd_, -1)),
      committed_(std::exchange(other.committed_, true)) {}

AtomicFile& AtomicFile::operator=(AtomicFile&& other) noexcept {
  if (this != &other) {
    close_and_remove();
    path_ = std::move(other.path_);
    temp_ = std::move(other.temp_);
    fd_ = std::exchange(other.fd_, -1);
    committed_ = std::exchange(other.committed_, true);
  }
  return *this;
}

AtomicFile::~AtomicFile() { close_and_remove(); }

void AtomicFile::close_and_remove() noexcept {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (!committed_ && !temp_.empty()) {
    ::unlink(temp_.c_str());
    committed_ = true;  // nothing left to remove
  }
}

Result<AtomicFile> AtomicFile::create(const std::filesystem::path& path) {
  const auto dir = parent_or_dot(path);
  for (int tries = 0;; ++tries) {
    const auto temp = dir / ("." + path.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-" +
                             std::to_string(g_temp_counter.fetch_add(1)));
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) return AtomicFile(path, temp, fd);
    if (errno != EEXIST || tries > 100) return std::unexpected(io_error("cannot create", temp, errno));
  }
}

Status AtomicFile::write(std::string_view data) {
  if (fd_ < 0) return std::unexpected(io_error("cannot write", temp_, EBADF));
  // O_APPEND-like: the kernel file offset advances with write().
  while (!data.empty()) {
    const ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(io_error("cannot write", temp_, errno));
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

Status AtomicFile::commit() {
  if (fd_ < 0) return std::unexpected(io_error("cannot commit", temp_, EBADF));
  if (const int err = fsync_fd(fd_); err != 0) return std::unexpected(io_error("cannot sync", temp_, err));
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0 && errno != EINTR) return std::unexpected(io_error("cannot close", temp_, errno));
  if (::rename(temp_.c_str(), path_.c_str()) != 0) {
    return std::unexpected(io_error("cannot rename to", path_, errno));
  }
  committed_ = true;
  return fsync_directory(parent_or_dot(path_));
}

Status write_file_atomically(const std::filesystem::path& path, std::string_view content) {
  auto file = AtomicFile::create(path);
  if (!file) return std::unexpected(file.error());
  if (auto st = file->write(content); !st) return st;
  return file->commit();
}

// ------------------------------------------------------------------ PartFile

PartFile::PartFile(std::filesystem::path final_path, std::filesystem::path part, int fd, std::uint64_t size)
    : final_(std::move(final_path)), part_(std::move(part)), fd_(fd), size_(size) {}

PartFile::PartFile(PartFile&& other) noexcept
    : final_(std::move(other.final_)),
      part_(std::move(other.part_)),
      fd_(std::exchange(other.fd_, -1)),
      size_(other.size_) {}

PartFile& PartFile::operator=(PartFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    final_ = std::move(other.final_);
    part_ = std::move(other.part_);
    fd_ = std::exchange(other.fd_, -1);
    size_ = other.size_;
  }
  return *this;
}

PartFile::~PartFile() {
  if (fd_ >= 0) ::close(fd_);
}

Result<PartFile> PartFile::open(const std::filesystem::path& final_path) {
  auto part = final_path;
  part += ".part";
  const int fd = ::open(part.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return std::unexpected(io_error("cannot open", part, errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return std::unexpected(io_error("cannot read", part, err));
  }
  return PartFile(final_path, part, fd, static_cast<std::uint64_t>(st.st_size));
}

Status PartFile::append(std::string_view data) {
  if (fd_ < 0) return std::unexpected(io_error("cannot write", part_, EBADF));
  // On a partial failure (ENOSPC mid-chunk) the bytes that did land stay on
  // disk but size_ only counts whole chunks; truncate() before resuming fixes that.
  if (const int err = write_all_at(fd_, data, size_); err != 0) {
    return std::unexpected(io_error("cannot write", part_, err));
  }
  size_ += data.size();
  return {};
}

Status PartFile::truncate(std::uint64_t size) {
  if (fd_ < 0) return std::unexpected(io_error("cannot truncate", part_, EBADF));
  while (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
    if (errno != EINTR) return std::unexpected(io_error("cannot truncate", part_, errno));
  }
  size_ = size;
  return {};
}

Status PartFile::read(std::uint64_t from, const std::function<void(std::string_view)>& fn) const {
  if (fd_ < 0) return std::unexpected(io_error("cannot read", part_, EBADF));
  return read_range(fd_, from, size_, part_, [&](std::string_view chunk) -> Status {
    fn(chunk);
    return {};
  });
}

Status PartFile::finish() {
  if (fd_ < 0) return std::unexpected(io_error("cannot finish", part_, EBADF));
  // Drop any bytes of a failed partial write beyond what we counted.
  if (auto st = truncate(size_); !st) return st;
  if (const int err = fsync_fd(fd_); err != 0) return std::unexpected(io_error("cannot sync", part_, err));
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0 && errno != EINTR) return std::unexpected(io_error("cannot close", part_, errno));
  if (::rename(part_.c_str(), final_.c_str()) != 0) {
    return std::unexpected(io_error("cannot rename to", final_, errno));
  }
  return fsync_directory(parent_or_dot(final_));
}

void PartFile::discard() noexcept {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  ::unlink(part_.c_str());
  size_ = 0;
}

// ----------------------------------------------------------------- SpillFile

SpillFile::SpillFile(SpillFile&& other) noexcept
    : dir_(std::move(other.dir_)), fd_(std::exchange(other.fd_, -1)), size_(other.size_) {}

SpillFile& SpillFile::operator=(SpillFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    dir_ = std::move(other.dir_);
    fd_ = std::exchange(other.fd_, -1);
    size_ = other.size_;
  }
  return *this;
}

SpillFile::~SpillFile() {
  if (fd_ >= 0) ::close(fd_);
}

Result<SpillFile> SpillFile::create(const std::filesystem::path& dir) {
#ifdef O_TMPFILE
  const int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return SpillFile(dir, fd);
#endif
  // Fallback when the file system has no O_TMPFILE: create, then unlink at once.
  std::string name = (dir / ".mews-export-spill-XXXXXX").string();
  const int tmp = ::mkostemp(name.data(), O_CLOEXEC);
  if (tmp < 0) return std::unexpected(io_error("cannot create a scratch file in", dir, errno));
  ::unlink(name.c_str());
  return SpillFile(dir, tmp);
}

Status SpillFile::append(std::string_view data) {
  if (const int err = write_all_at(fd_, data, size_); err != 0) {
    return std::unexpected(io_error("cannot write a scratch file in", dir_, err));
  }
  size_ += data.size();
  return {};
}

Status SpillFile::read(std::uint64_t from, const std::function<Status(std::string_view)>& fn) const {
  return read_range(fd_, from, size_, dir_, fn);
}

}  // namespace mews_export::detail
