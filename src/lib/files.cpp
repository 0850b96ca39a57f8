#include "files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <vector>

namespace mews_export::detail {
namespace {

std::string hint(int err) {
  switch (err) {
    case ENOSPC:
    case EDQUOT: return " (free some disk space, then run again: partial downloads are resumed)";
    case EACCES:
    case EPERM: return " (check the permissions of the directory, or choose another with -o)";
    case EROFS: return " (the file system is read-only; choose another directory with -o)";
    case ELOOP:
      return " (it is a symbolic link: mews-export never follows links inside its output and state "
             "directories; remove it)";
    case EISDIR:
    case ENOTDIR: return " (remove or rename it)";
    default: return "";
  }
}

// A file type error for `path` when `st` is not a regular file; 0 when it is.
int not_regular_errno(const struct stat& st) {
  if (S_ISREG(st.st_mode)) return 0;
  if (S_ISLNK(st.st_mode)) return ELOOP;
  if (S_ISDIR(st.st_mode)) return EISDIR;
  return EINVAL;  // FIFO, socket, device
}

Error not_regular(const std::filesystem::path& path, int err) {
  if (err == EINVAL) {
    return Error{.kind = ErrorKind::Io,
                 .message = "'" + path.string() + "' is not a regular file (a FIFO, socket or device); remove it"};
  }
  return io_error("refusing", path, err);
}

Result<std::string> read_all(int fd, const std::filesystem::path& path, std::size_t max_bytes) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return std::unexpected(io_error("cannot read", path, errno));
  if (const int err = not_regular_errno(st); err != 0) return std::unexpected(not_regular(path, err));
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    return fail(ErrorKind::Io,
                "'" + path.string() + "' is larger than " + std::to_string(max_bytes) + " bytes; refusing to read it");
  }
  std::string out;
  auto st_read = read_range(fd, 0, static_cast<std::uint64_t>(st.st_size), path, [&](std::string_view chunk) {
    out.append(chunk);
    return Status{};
  });
  if (!st_read) return std::unexpected(st_read.error());
  return out;
}

}  // namespace

Error io_error(std::string_view action, const std::filesystem::path& path, int err) {
  std::string message = std::string(action) + " '" + path.string() + "': " + std::generic_category().message(err);
  return Error{.kind = ErrorKind::Io, .message = message + hint(err)};
}

int fsync_fd(int fd) {
  while (::fsync(fd) != 0) {
    if (errno != EINTR) return errno;
  }
  return 0;
}

int fdatasync_fd(int fd) {
  while (::fdatasync(fd) != 0) {
    if (errno != EINTR) return errno;
  }
  return 0;
}

Status fsync_directory(const std::filesystem::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return std::unexpected(io_error("cannot open directory", dir, errno));
  const int err = fsync_fd(fd.get());
  // Some file systems do not support fsync on directories; that is not data loss.
  if (err != 0 && err != EINVAL && err != ENOTSUP) return std::unexpected(io_error("cannot sync directory", dir, err));
  return {};
}

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

Status read_range(int fd, std::uint64_t from, std::uint64_t to, const std::filesystem::path& path,
                  const std::function<Status(std::string_view)>& fn) {
  std::vector<char> buffer(kReadChunk);
  return read_range(fd, from, to, path, buffer, fn);
}

Status read_range(int fd, std::uint64_t from, std::uint64_t to, const std::filesystem::path& path,
                  std::span<char> buffer, const std::function<Status(std::string_view)>& fn) {
  while (from < to) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), to - from));
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

Result<std::string> read_regular_file(const std::filesystem::path& path, std::size_t max_bytes) {
  // O_NONBLOCK: opening a FIFO must not hang; it is refused once fstat sees it.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) return std::unexpected(io_error("cannot open", path, errno));
  return read_all(fd.get(), path, max_bytes);
}

Result<Directory> Directory::open(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return std::unexpected(io_error("cannot open directory", path, errno));
  return Directory(path, std::move(fd));
}

Result<Directory> Directory::child(const std::string& name, bool create) const {
  const auto path = path_ / name;
  if (create && ::mkdirat(fd(), name.c_str(), 0777) != 0 && errno != EEXIST) {
    return std::unexpected(io_error("cannot create directory", path, errno));
  }
  UniqueFd child_fd(::openat(fd(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!child_fd.valid()) return std::unexpected(io_error("cannot open directory", path, errno));
  return Directory(path, std::move(child_fd));
}

Result<UniqueFd> Directory::open_file(const std::string& name, int flags, unsigned mode) const {
  const auto path = path_ / name;
  UniqueFd file(::openat(fd(), name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, mode));
  if (!file.valid()) return std::unexpected(io_error("cannot open", path, errno));
  struct stat st {};
  if (::fstat(file.get(), &st) != 0) return std::unexpected(io_error("cannot read", path, errno));
  if (const int err = not_regular_errno(st); err != 0) return std::unexpected(not_regular(path, err));
  // Regular files ignore O_NONBLOCK; clear it anyway so nothing surprises a caller.
  ::fcntl(file.get(), F_SETFL, ::fcntl(file.get(), F_GETFL) & ~O_NONBLOCK);
  return file;
}

Result<std::optional<std::uint64_t>> Directory::file_size(const std::string& name) const {
  struct stat st {};
  if (::fstatat(fd(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return std::optional<std::uint64_t>{};
    return std::unexpected(io_error("cannot read", path_ / name, errno));
  }
  if (const int err = not_regular_errno(st); err != 0) return std::unexpected(not_regular(path_ / name, err));
  return std::optional(static_cast<std::uint64_t>(st.st_size));
}

Result<std::string> Directory::read_file(const std::string& name, std::size_t max_bytes) const {
  auto file = open_file(name, O_RDONLY);
  if (!file) return std::unexpected(file.error());
  return read_all(file->get(), path_ / name, max_bytes);
}

Status Directory::rename(const std::string& from, const std::string& to) const {
  if (::renameat(fd(), from.c_str(), fd(), to.c_str()) != 0) {
    return std::unexpected(io_error("cannot rename to", path_ / to, errno));
  }
  return {};
}

Status Directory::remove(const std::string& name) const {
  if (::unlinkat(fd(), name.c_str(), 0) != 0 && errno != ENOENT) {
    return std::unexpected(io_error("cannot remove", path_ / name, errno));
  }
  return {};
}

Status Directory::sync() const {
  const int err = fsync_fd(fd());
  if (err != 0 && err != EINVAL && err != ENOTSUP)
    return std::unexpected(io_error("cannot sync directory", path_, err));
  return {};
}

}  // namespace mews_export::detail

namespace mews_export {

int UniqueFd::reset() noexcept {
  if (fd_ < 0) return 0;
  const int rc = ::close(std::exchange(fd_, -1));
  return rc == 0 || errno == EINTR ? 0 : errno;
}

}  // namespace mews_export
