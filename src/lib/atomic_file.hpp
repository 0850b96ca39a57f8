// Crash-safe file writing (internal): AtomicFile writes a temporary file beside
// the final name and renames it into place on commit(); PartFile is the
// resumable ".part" file of a download, kept on failure on purpose.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "mews_export/error.hpp"

namespace mews_export::detail {

// An Io error "<action> '<path>': <strerror(err)>", with a hint for ENOSPC,
// EACCES/EPERM and EROFS.
Error io_error(std::string_view action, const std::filesystem::path& path, int err);

// fsync() of directory `dir`, so that a rename or unlink in it is durable.
// Returns Io on failure.
Status fsync_directory(const std::filesystem::path& dir);

// Reads the file `path` from byte `from` to its end in chunks of at most 64 KiB,
// passing each to `fn`. Returns Io on failure.
Status read_file_chunks(const std::filesystem::path& path, std::uint64_t from,
                        const std::function<void(std::string_view)>& fn);

// A temporary file ".<name>.tmp-<pid>-<n>" beside `path`. commit() = flush +
// fsync + rename over `path` + fsync of the directory; the destructor removes
// the temporary file unless it was committed.
class AtomicFile {
 public:
  // Creates the temporary file (the directory must exist). Io on failure.
  static Result<AtomicFile> create(const std::filesystem::path& path);

  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&& other) noexcept;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  // Appends `data`. Io on failure (the temporary file is removed by the destructor).
  Status write(std::string_view data);
  // Makes the content visible under path(), durably. Io on failure.
  Status commit();

  const std::filesystem::path& path() const { return path_; }
  const std::filesystem::path& temp_path() const { return temp_; }

 private:
  AtomicFile(std::filesystem::path path, std::filesystem::path temp, int fd);
  void close_and_remove() noexcept;

  std::filesystem::path path_;
  std::filesystem::path temp_;
  int fd_ = -1;
  bool committed_ = false;
};

// Replaces `path` with `content` atomically (AtomicFile). Io on failure, in
// which case `path` is unchanged.
Status write_file_atomically(const std::filesystem::path& path, std::string_view content);

// The resumable download file "<final>.part". Bytes are appended at a known
// offset (size()); finish() fsyncs and renames it to the final name. The
// destructor closes it and keeps it, so a retry or a later run can resume.
class PartFile {
 public:
  // Opens (creating when missing) `final_path` + ".part", keeping its content.
  // Io on failure.
  static Result<PartFile> open(const std::filesystem::path& final_path);

  PartFile(PartFile&& other) noexcept;
  PartFile& operator=(PartFile&& other) noexcept;
  PartFile(const PartFile&) = delete;
  PartFile& operator=(const PartFile&) = delete;
  ~PartFile();

  // Bytes in the file; the next append() writes there.
  std::uint64_t size() const { return size_; }
  const std::filesystem::path& final_path() const { return final_; }
  const std::filesystem::path& part_path() const { return part_; }

  // Writes `data` at size(). Io on failure; what was written before is kept.
  Status append(std::string_view data);
  // Cuts the file to `size` bytes (0 to start again). Io on failure.
  Status truncate(std::uint64_t size);
  // Reads bytes [from, size()) in chunks, passing each to `fn`. Io on failure.
  Status read(std::uint64_t from, const std::function<void(std::string_view)>& fn) const;
  // fsync + close + rename to final_path() + fsync of the directory. Io on failure.
  Status finish();
  // Closes and deletes the ".part" file (for data that must not be kept).
  void discard() noexcept;

 private:
  PartFile(std::filesystem::path final_path, std::filesystem::path part, int fd, std::uint64_t size);

  std::filesystem::path final_;
  std::filesystem::path part_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

// An anonymous scratch file (already unlinked) in `dir`, holding the body of a
// resumed request until its status says where the bytes belong. Disk, not
// memory, so that a resumed multi-gigabyte transfer stays in constant memory.
class SpillFile {
 public:
  // Io on failure.
  static Result<SpillFile> create(const std::filesystem::path& dir);

  SpillFile(SpillFile&& other) noexcept;
  SpillFile& operator=(SpillFile&& other) noexcept;
  SpillFile(const SpillFile&) = delete;
  SpillFile& operator=(const SpillFile&) = delete;
  ~SpillFile();

  std::uint64_t size() const { return size_; }
  Status append(std::string_view data);
  // Reads bytes [from, size()) in chunks, passing each to `fn`; stops (and
  // returns the callback's error) when `fn` fails.
  Status read(std::uint64_t from, const std::function<Status(std::string_view)>& fn) const;

 private:
  SpillFile(std::filesystem::path dir, int fd) : dir_(std::move(dir)), fd_(fd) {}

  std::filesystem::path dir_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

}  // namespace mews_export::detail
