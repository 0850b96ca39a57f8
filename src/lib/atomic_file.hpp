// Crash-safe file writing (internal): AtomicFile writes a temporary file beside
// the final name and renames it into place on commit(); PartFile is the
// resumable ".part" file of a download, kept on failure on purpose. Both work
// relative to a Directory and never through a symbolic link.
#pragma once

#include <sys/types.h>
#include <cstdint>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "background_sync.hpp"
#include "files.hpp"
#include "mews_export/error.hpp"

namespace mews_export::detail {

// A temporary file ".<name>.tmp-<pid>-<n>" beside `path`. commit() = flush +
// fsync + rename over `path` + fsync of the directory; the destructor removes
// the temporary file unless it was committed.
class AtomicFile {
 public:
  // Creates the temporary file for `name` in `dir`. Io on failure.
  static Result<AtomicFile> create(const Directory& dir, const std::string& name);
  // The same for `path` (its directory must exist).
  static Result<AtomicFile> create(const std::filesystem::path& path);

  AtomicFile(AtomicFile&& other) noexcept = default;
  AtomicFile& operator=(AtomicFile&& other) noexcept;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  // Appends `data`. Io on failure (the temporary file is removed by the destructor).
  Status write(std::string_view data);
  // Sets the file's permission bits (fchmod), whatever the umask. Io on failure.
  Status set_mode(mode_t mode);
  // Makes the content visible under path(), durably. Io on failure.
  Status commit();

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path temp_path() const { return path_.parent_path() / temp_name_; }

 private:
  AtomicFile(std::filesystem::path path, std::string name, std::string temp_name, UniqueFd dir, UniqueFd file);
  void remove_temp() noexcept;

  std::filesystem::path path_;
  std::string name_;
  std::string temp_name_;
  UniqueFd dir_;
  UniqueFd file_;
  bool committed_ = false;
};

// Replaces `name` in `dir` (or `path`) with `content` atomically (AtomicFile).
// Io on failure, in which case the file is unchanged.
Status write_file_atomically(const Directory& dir, const std::string& name, std::string_view content);
Status write_file_atomically(const std::filesystem::path& path, std::string_view content);
// The same, with the permission bits `mode` whatever the umask (for files
// another user must read, such as a metrics textfile).
Status write_file_atomically(const std::filesystem::path& path, std::string_view content, mode_t mode);

// PartFile starts writeback of each window of this many bytes once written.
inline constexpr std::uint64_t kWriteBehind = std::uint64_t{32} << 20;

// The resumable download file "<final>.part". Bytes are appended at a known
// offset (size()); finish() fsyncs and renames it to the final name. The
// destructor closes it and keeps it, so a retry or a later run can resume.
class PartFile {
 public:
  // Opens (creating when missing) `final_name` + ".part" in `dir`, keeping its
  // content. Io on failure, also when it is a symbolic link or not a regular file.
  static Result<PartFile> open(const Directory& dir, const std::string& final_name);
  // The same for `final_path` (its directory must exist).
  static Result<PartFile> open(const std::filesystem::path& final_path);

  PartFile(PartFile&& other) noexcept = default;
  PartFile& operator=(PartFile&& other) noexcept = default;
  PartFile(const PartFile&) = delete;
  PartFile& operator=(const PartFile&) = delete;
  ~PartFile() = default;

  // Bytes in the file; the next append() writes there.
  std::uint64_t size() const { return size_; }
  std::filesystem::path final_path() const { return dir_path_ / final_name_; }
  std::filesystem::path part_path() const { return dir_path_ / (final_name_ + ".part"); }

  // Writes `data` at size(). Io on failure; what was written before is kept.
  // Every kWriteBehind bytes it starts writing the window back to disk, waits
  // for the one before, and asks for an fdatasync in the background, so that
  // finish()'s fsync finds little to do. A failed writeback is reported by
  // the next append() or write_at() that completes a window, and by finish().
  Status append(std::string_view data);
  // Writes `data` at `offset` (ranges fetched at once). size() is unchanged:
  // set_size() says when the whole file is there. Io on failure.
  Status write_at(std::uint64_t offset, std::string_view data);
  // The file's length as finish() will keep it (after write_at()s).
  void set_size(std::uint64_t size) { size_ = size; }
  // The descriptor, for reading back what write_at() wrote.
  int fd() const { return file_.get(); }
  // True when the file system reports a hole before size() (bytes never
  // written: ranges of an interrupted split download). False when unsure.
  bool has_holes() const;
  // Reserves disk blocks for the file to reach `size` bytes (fallocate,
  // keeping size()), so that writing it allocates nothing: the file system
  // places it in one go, and a write never waits for the allocator behind a
  // writeback that holds the file's block map. Best effort: skipped when
  // `size` would take more than half the free space (a server's claimed size
  // must not fill the disk) or the file system cannot; truncate() keeps it,
  // finish() gives back what the file did not use.
  void reserve(std::uint64_t size);
  // Cuts the file to `size` bytes (0 to start again). Io on failure.
  Status truncate(std::uint64_t size);
  // Reads bytes [from, size()) in chunks, passing each to `fn`. Io on failure.
  Status read(std::uint64_t from, const std::function<void(std::string_view)>& fn) const;
  // fsync + close + rename to final_path() + fsync of the directory. Io on failure.
  Status finish();
  // Closes and deletes the ".part" file (for data that must not be kept).
  void discard() noexcept;

 private:
  PartFile(std::filesystem::path dir_path, std::string final_name, UniqueFd dir, UniqueFd file, std::uint64_t size);
  int write_behind(std::uint64_t from, std::uint64_t to);
  void allocate_reserve() noexcept;

  std::filesystem::path dir_path_;
  std::string final_name_;
  UniqueFd dir_;
  UniqueFd file_;
  std::uint64_t size_ = 0;
  std::uint64_t reserved_ = 0;            // the size reserve() asked for (0: none, or given up)
  std::unique_ptr<BackgroundSync> sync_;  // of file_ (its own duplicate)
};

}  // namespace mews_export::detail
