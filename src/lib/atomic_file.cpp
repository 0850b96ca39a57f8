#include "atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <utility>

namespace mews_export::detail {
namespace {

std::atomic<unsigned> g_temp_counter{0};

std::filesystem::path parent_or_dot(const std::filesystem::path& path) {
  auto parent = path.parent_path();
  return parent.empty() ? std::filesystem::path(".") : parent;
}

// A second descriptor of `dir`, for objects that outlive the Directory.
Result<UniqueFd> dup_dir(const Directory& dir) {
  UniqueFd fd(::fcntl(dir.fd(), F_DUPFD_CLOEXEC, 0));
  if (!fd.valid()) return std::unexpected(io_error("cannot open directory", dir.path(), errno));
  return fd;
}

Status sync_dir_fd(int fd, const std::filesystem::path& path) {
  const int err = fsync_fd(fd);
  if (err != 0 && err != EINVAL && err != ENOTSUP) return std::unexpected(io_error("cannot sync directory", path, err));
  return {};
}

}  // namespace

// ---------------------------------------------------------------- AtomicFile

AtomicFile::AtomicFile(std::filesystem::path path, std::string name, std::string temp_name, UniqueFd dir, UniqueFd file)
    : path_(std::move(path)),
      name_(std::move(name)),
      temp_name_(std::move(temp_name)),
      dir_(std::move(dir)),
      file_(std::move(file)) {}

AtomicFile& AtomicFile::operator=(AtomicFile&& other) noexcept {
  if (this != &other) {
    remove_temp();
    path_ = std::move(other.path_);
    name_ = std::move(other.name_);
    temp_name_ = std::move(other.temp_name_);
    dir_ = std::move(other.dir_);
    file_ = std::move(other.file_);
    committed_ = std::exchange(other.committed_, true);
  }
  return *this;
}

AtomicFile::~AtomicFile() { remove_temp(); }

void AtomicFile::remove_temp() noexcept {
  file_.reset();
  if (!committed_ && dir_.valid() && !temp_name_.empty()) ::unlinkat(dir_.get(), temp_name_.c_str(), 0);
  committed_ = true;  // nothing left to remove
}

Result<AtomicFile> AtomicFile::create(const Directory& dir, const std::string& name) {
  auto dir_fd = dup_dir(dir);
  if (!dir_fd) return std::unexpected(dir_fd.error());
  for (int tries = 0;; ++tries) {
    const auto temp = "." + name + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(g_temp_counter++);
    UniqueFd fd(::openat(dir.fd(), temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (fd.valid()) return AtomicFile(dir.path() / name, name, temp, std::move(*dir_fd), std::move(fd));
    if (errno != EEXIST || tries > 100) return std::unexpected(io_error("cannot create", dir.path() / temp, errno));
  }
}

Result<AtomicFile> AtomicFile::create(const std::filesystem::path& path) {
  auto dir = Directory::open(parent_or_dot(path));
  if (!dir) return std::unexpected(dir.error());
  return create(*dir, path.filename().string());
}

Status AtomicFile::write(std::string_view data) {
  if (!file_.valid()) return std::unexpected(io_error("cannot write", temp_path(), EBADF));
  // The kernel file offset advances with write().
  while (!data.empty()) {
    const ssize_t n = ::write(file_.get(), data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(io_error("cannot write", temp_path(), errno));
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

Status AtomicFile::set_mode(mode_t mode) {
  if (::fchmod(file_.get(), mode) != 0) return std::unexpected(io_error("cannot chmod", temp_path(), errno));
  return {};
}

Status AtomicFile::commit() {
  if (!file_.valid()) return std::unexpected(io_error("cannot commit", temp_path(), EBADF));
  if (const int err = fsync_fd(file_.get()); err != 0)
    return std::unexpected(io_error("cannot sync", temp_path(), err));
  if (const int err = file_.reset(); err != 0) return std::unexpected(io_error("cannot close", temp_path(), err));
  if (::renameat(dir_.get(), temp_name_.c_str(), dir_.get(), name_.c_str()) != 0) {
    return std::unexpected(io_error("cannot rename to", path_, errno));
  }
  committed_ = true;
  return sync_dir_fd(dir_.get(), parent_or_dot(path_));
}

Status write_file_atomically(const Directory& dir, const std::string& name, std::string_view content) {
  auto file = AtomicFile::create(dir, name);
  if (!file) return std::unexpected(file.error());
  if (auto st = file->write(content); !st) return st;
  return file->commit();
}

Status write_file_atomically(const std::filesystem::path& path, std::string_view content) {
  auto file = AtomicFile::create(path);
  if (!file) return std::unexpected(file.error());
  if (auto st = file->write(content); !st) return st;
  return file->commit();
}

Status write_file_atomically(const std::filesystem::path& path, std::string_view content, mode_t mode) {
  auto file = AtomicFile::create(path);
  if (!file) return std::unexpected(file.error());
  if (auto st = file->set_mode(mode); !st) return st;
  if (auto st = file->write(content); !st) return st;
  return file->commit();
}

// ------------------------------------------------------------------ PartFile

PartFile::PartFile(std::filesystem::path dir_path, std::string final_name, UniqueFd dir, UniqueFd file,
                   std::uint64_t size)
    : dir_path_(std::move(dir_path)),
      final_name_(std::move(final_name)),
      dir_(std::move(dir)),
      file_(std::move(file)),
      size_(size),
      sync_(std::make_unique<BackgroundSync>(file_.get())) {}

Result<PartFile> PartFile::open(const Directory& dir, const std::string& final_name) {
  auto file = dir.open_file(final_name + ".part", O_RDWR | O_CREAT);
  if (!file) return std::unexpected(file.error());
  struct stat st {};
  if (::fstat(file->get(), &st) != 0) {
    return std::unexpected(io_error("cannot read", dir.path() / (final_name + ".part"), errno));
  }
  auto dir_fd = dup_dir(dir);
  if (!dir_fd) return std::unexpected(dir_fd.error());
  return PartFile(dir.path(), final_name, std::move(*dir_fd), std::move(*file), static_cast<std::uint64_t>(st.st_size));
}

Result<PartFile> PartFile::open(const std::filesystem::path& final_path) {
  auto dir = Directory::open(parent_or_dot(final_path));
  if (!dir) return std::unexpected(dir.error());
  return open(*dir, final_path.filename().string());
}

Status PartFile::append(std::string_view data) {
  if (!file_.valid()) return std::unexpected(io_error("cannot write", part_path(), EBADF));
  // On a partial failure (ENOSPC mid-chunk) the bytes that did land stay on
  // disk but size_ only counts whole chunks; truncate() before resuming fixes that.
  if (const int err = write_all_at(file_.get(), data, size_); err != 0) {
    return std::unexpected(io_error("cannot write", part_path(), err));
  }
  const std::uint64_t before = size_;
  size_ += data.size();
  if (const int err = write_behind(before, size_); err != 0) {
    return std::unexpected(io_error("cannot write", part_path(), err));
  }
  return {};
}

// For each kWriteBehind window that a write of bytes [from, to) completes:
// start its writeback and wait for the previous window's, so dirty pages never
// pile up; then have the device persist what was written back (an fdatasync
// on sync_'s thread), so that finish()'s fsync is short too. Returns the first
// writeback error seen so far, else 0 (file systems without sync_file_range
// answer "not supported", which is ignored: finish() fsyncs anyway). Ranges
// written at once each complete their own windows in turn.
int PartFile::write_behind(std::uint64_t from, std::uint64_t to) {
  const auto window_bytes = static_cast<off64_t>(kWriteBehind);
  const std::uint64_t first = from / kWriteBehind;
  const std::uint64_t end = to / kWriteBehind;
  for (std::uint64_t window = first; window < end; ++window) {
    const auto start = static_cast<off64_t>(window * kWriteBehind);
    ::sync_file_range(file_.get(), start, window_bytes, SYNC_FILE_RANGE_WRITE);
    if (window > 0 &&
        ::sync_file_range(file_.get(), start - window_bytes, window_bytes,
                          SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER) != 0) {
      sync_->report(errno);  // the kernel tells a writeback error only once: keep it for finish()
    }
  }
  if (first == end) return 0;
  sync_->request();
  return sync_->error();
}

Status PartFile::write_at(std::uint64_t offset, std::string_view data) {
  if (!file_.valid()) return std::unexpected(io_error("cannot write", part_path(), EBADF));
  if (const int err = write_all_at(file_.get(), data, offset); err != 0) {
    return std::unexpected(io_error("cannot write", part_path(), err));
  }
  if (const int err = write_behind(offset, offset + data.size()); err != 0) {
    return std::unexpected(io_error("cannot write", part_path(), err));
  }
  return {};
}

bool PartFile::has_holes() const {
  if (!file_.valid() || size_ == 0) return false;
  const off_t hole = ::lseek(file_.get(), 0, SEEK_HOLE);
  return hole >= 0 && static_cast<std::uint64_t>(hole) < size_;
}

void PartFile::reserve(std::uint64_t size) {
  reserved_ = size;
  allocate_reserve();
}

void PartFile::allocate_reserve() noexcept {
  if (!file_.valid() || reserved_ <= size_) return;
  struct statvfs fs {};
  if (::fstatvfs(file_.get(), &fs) != 0) return;
  const std::uint64_t free_bytes = std::uint64_t{fs.f_bavail} * fs.f_frsize;
  const std::uint64_t wanted = reserved_ - size_;
  if (wanted > free_bytes / 2) {
    reserved_ = 0;
    return;
  }
  if (::fallocate(file_.get(), FALLOC_FL_KEEP_SIZE, static_cast<off_t>(size_), static_cast<off_t>(wanted)) != 0) {
    // ENOSPC may leave part of it allocated: finish() or a truncate gives it back.
    if (errno != ENOSPC) reserved_ = 0;
  }
}

Status PartFile::truncate(std::uint64_t size) {
  if (!file_.valid()) return std::unexpected(io_error("cannot truncate", part_path(), EBADF));
  while (::ftruncate(file_.get(), static_cast<off_t>(size)) != 0) {
    if (errno != EINTR) return std::unexpected(io_error("cannot truncate", part_path(), errno));
  }
  size_ = size;
  allocate_reserve();  // the truncate gave back the blocks reserved beyond `size`
  return {};
}

Status PartFile::read(std::uint64_t from, const std::function<void(std::string_view)>& fn) const {
  if (!file_.valid()) return std::unexpected(io_error("cannot read", part_path(), EBADF));
  return read_range(file_.get(), from, size_, part_path(), [&](std::string_view chunk) -> Status {
    fn(chunk);
    return {};
  });
}

Status PartFile::finish() {
  if (!file_.valid()) return std::unexpected(io_error("cannot finish", part_path(), EBADF));
  // Drop any bytes of a failed partial write beyond what we counted, and the
  // blocks reserved beyond it. (Not otherwise: a truncate waits for the
  // writeback of the last page.)
  struct stat st {};
  if (::fstat(file_.get(), &st) != 0) return std::unexpected(io_error("cannot read", part_path(), errno));
  if (static_cast<std::uint64_t>(st.st_size) != size_ || reserved_ > size_) {
    reserved_ = 0;
    if (auto cut = truncate(size_); !cut) return cut;
  }
  // A writeback error the background sync or a window's wait took from the
  // kernel would not reach the fsync below.
  if (const int behind = sync_->stop(); behind != 0)
    return std::unexpected(io_error("cannot sync", part_path(), behind));
  if (const int err = fsync_fd(file_.get()); err != 0)
    return std::unexpected(io_error("cannot sync", part_path(), err));
  if (const int err = file_.reset(); err != 0) return std::unexpected(io_error("cannot close", part_path(), err));
  const auto part_name = final_name_ + ".part";
  if (::renameat(dir_.get(), part_name.c_str(), dir_.get(), final_name_.c_str()) != 0) {
    return std::unexpected(io_error("cannot rename to", final_path(), errno));
  }
  return sync_dir_fd(dir_.get(), dir_path_);
}

void PartFile::discard() noexcept {
  sync_.reset();
  file_.reset();
  if (dir_.valid()) ::unlinkat(dir_.get(), (final_name_ + ".part").c_str(), 0);
  size_ = 0;
}

}  // namespace mews_export::detail
