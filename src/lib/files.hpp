// File-system primitives (internal): an owned file descriptor, a directory
// handle whose entries are opened relative to it and never through a symbolic
// link, capped reads of small files, and Io errors that say what to do.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "mews_export/error.hpp"
#include "mews_export/unique_fd.hpp"

namespace mews_export::detail {

// An Io error "<action> '<path>': <strerror(err)>", with a hint for ENOSPC,
// EACCES/EPERM, EROFS and for symbolic links (ELOOP from O_NOFOLLOW).
Error io_error(std::string_view action, const std::filesystem::path& path, int err);

using mews_export::UniqueFd;

// fsync() of `fd`, retried on EINTR; 0 or errno.
int fsync_fd(int fd);
// fdatasync() of `fd`, retried on EINTR; 0 or errno.
int fdatasync_fd(int fd);

// fsync() of directory `dir`, so that a rename or unlink in it is durable.
// Returns Io on failure (file systems that cannot sync directories are fine).
Status fsync_directory(const std::filesystem::path& dir);

// The whole content of the regular file `path` (symbolic links followed), at
// most `max_bytes`. Io errors: missing, unreadable, not a regular file
// (a directory, a FIFO, a device), or larger than `max_bytes`.
Result<std::string> read_regular_file(const std::filesystem::path& path, std::size_t max_bytes);

// An open directory. Its entries are opened, created, renamed and removed
// relative to it (openat & co.), and never through a symbolic link: a link
// where a file is expected is an error naming the path.
class Directory {
 public:
  // Opens the existing directory `path` (a symbolic link to a directory is
  // accepted here: it is the caller's choice of place). Io on failure.
  static Result<Directory> open(const std::filesystem::path& path);
  // Opens (creating it with mode 0777 & ~umask when `create` and missing) the
  // subdirectory `name`; refuses a symbolic link or anything but a directory.
  Result<Directory> child(const std::string& name, bool create) const;

  const std::filesystem::path& path() const { return path_; }
  int fd() const { return fd_.get(); }

  // Opens entry `name` with `flags` (O_NOFOLLOW and O_CLOEXEC added) and
  // `mode`; refuses a symbolic link or anything that is not a regular file.
  Result<UniqueFd> open_file(const std::string& name, int flags, unsigned mode = 0644) const;
  // Size of the regular file `name`; nullopt when there is no such entry.
  // Io when it is a symbolic link or not a regular file.
  Result<std::optional<std::uint64_t>> file_size(const std::string& name) const;
  // Content of the regular file `name`, at most `max_bytes` (Io beyond).
  Result<std::string> read_file(const std::string& name, std::size_t max_bytes) const;
  // renameat(from, to) within this directory (replaces `to`, link or not).
  Status rename(const std::string& from, const std::string& to) const;
  // Removes entry `name` (a file or a link, never what a link points to);
  // absent is fine.
  Status remove(const std::string& name) const;
  // Makes renames and removals in this directory durable.
  Status sync() const;

 private:
  Directory(std::filesystem::path path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}

  std::filesystem::path path_;
  UniqueFd fd_;
};

// Writes all of `data` at `offset`, retrying short writes and EINTR. 0 or errno.
int write_all_at(int fd, std::string_view data, std::uint64_t offset);

// What read_range() reads at once.
inline constexpr std::size_t kReadChunk = 64 * 1024;

// Reads `fd` from byte `from` up to byte `to` in chunks of at most 64 KiB,
// passing each to `fn`, whose error stops the read. Io errors name `path`.
Status read_range(int fd, std::uint64_t from, std::uint64_t to, const std::filesystem::path& path,
                  const std::function<Status(std::string_view)>& fn);
// The same through the caller's buffer (a loop that reads again and again
// keeps one instead of allocating kReadChunk bytes each time).
Status read_range(int fd, std::uint64_t from, std::uint64_t to, const std::filesystem::path& path,
                  std::span<char> buffer, const std::function<Status(std::string_view)>& fn);

}  // namespace mews_export::detail
