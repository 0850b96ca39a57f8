// AtomicFile and PartFile: crash-safe writes relative to a directory, the
// resumable .part, and Io errors that say what to do.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "atomic_file.hpp"
#include "support/temp_dir.hpp"

namespace mews_export {
namespace {

namespace fs = std::filesystem;
using testing::slurp;
using testing::TempDir;
using testing::write_text;

class AtomicFileTest : public ::testing::Test {
 protected:
  TempDir dir;
};

TEST_F(AtomicFileTest, CommitReplacesTheTargetAndLeavesNoTemporary) {
  const auto target = dir.path() / "manifest.json";
  write_text(target, "old");
  auto file = detail::AtomicFile::create(target);
  ASSERT_TRUE(file);
  ASSERT_TRUE(file->write("new "));
  ASSERT_TRUE(file->write("content"));
  EXPECT_EQ(slurp(target), "old");  // not visible before commit
  ASSERT_TRUE(file->commit());
  EXPECT_EQ(slurp(target), "new content");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator{}), 1);
}

TEST_F(AtomicFileTest, UncommittedTemporaryIsRemoved) {
  const auto target = dir.path() / "journal.json";
  fs::path temp;
  {
    auto file = detail::AtomicFile::create(target);
    ASSERT_TRUE(file);
    ASSERT_TRUE(file->write("half"));
    temp = file->temp_path();
    EXPECT_TRUE(fs::exists(temp));
  }
  EXPECT_FALSE(fs::exists(temp));
  EXPECT_FALSE(fs::exists(target));
}

TEST_F(AtomicFileTest, WriteFileAtomically) {
  const auto target = dir.path() / "a.json";
  ASSERT_TRUE(detail::write_file_atomically(target, "{}\n"));
  ASSERT_TRUE(detail::write_file_atomically(target, "{\"x\":1}\n"));
  EXPECT_EQ(slurp(target), "{\"x\":1}\n");
}

TEST_F(AtomicFileTest, MissingDirectoryIsIoNamingThePath) {
  auto st = detail::write_file_atomically(dir.path() / "missing" / "a.json", "x");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().kind, ErrorKind::Io);
  EXPECT_NE(st.error().message.find("missing"), std::string::npos) << st.error().message;
  EXPECT_NE(st.error().message.find("No such file or directory"), std::string::npos) << st.error().message;
}

TEST_F(AtomicFileTest, UnwritableDirectoryIsIoWithAPermissionHint) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions";
  const auto locked = dir.path() / "locked";
  fs::create_directory(locked);
  fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec);
  auto st = detail::write_file_atomically(locked / "a.json", "x");
  fs::permissions(locked, fs::perms::owner_all);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().kind, ErrorKind::Io);
  EXPECT_NE(st.error().message.find(locked.string()), std::string::npos) << st.error().message;
  EXPECT_NE(st.error().message.find("permission"), std::string::npos) << st.error().message;
}

TEST_F(AtomicFileTest, PartFileAppendsResumesAndFinishes) {
  const auto final_path = dir.path() / "part-001.jsonl";
  {
    auto part = detail::PartFile::open(final_path);
    ASSERT_TRUE(part);
    EXPECT_EQ(part->size(), 0u);
    ASSERT_TRUE(part->append("hello "));
  }  // kept on destruction
  EXPECT_EQ(slurp(dir.path() / "part-001.jsonl.part"), "hello ");
  auto part = detail::PartFile::open(final_path);
  ASSERT_TRUE(part);
  EXPECT_EQ(part->size(), 6u);
  std::string read_back;
  ASSERT_TRUE(part->read(0, [&](std::string_view chunk) { read_back += chunk; }));
  EXPECT_EQ(read_back, "hello ");
  ASSERT_TRUE(part->append("world"));
  ASSERT_TRUE(part->truncate(5));
  ASSERT_TRUE(part->append("!"));
  ASSERT_TRUE(part->finish());
  EXPECT_EQ(slurp(final_path), "hello!");
  EXPECT_FALSE(fs::exists(dir.path() / "part-001.jsonl.part"));
}

// Several write-behind windows: each completed window is written back and
// synced in the background while appends go on; finish() waits for that
// sync and keeps every byte, in order.
TEST_F(AtomicFileTest, PartFileOfSeveralWriteBehindWindowsFinishesWhole) {
  const auto final_path = dir.path() / "big.jsonl";
  std::string chunk(std::size_t{1} << 20, 'x');
  const std::uint64_t chunks = 3 * detail::kWriteBehind / chunk.size() + 1;
  {
    auto part = detail::PartFile::open(final_path);
    ASSERT_TRUE(part);
    for (std::uint64_t i = 0; i < chunks; ++i) {
      chunk.front() = static_cast<char>('a' + i % 26);
      ASSERT_TRUE(part->append(chunk));
    }
    ASSERT_TRUE(part->finish());
  }
  ASSERT_EQ(fs::file_size(final_path), chunks * chunk.size());
  EXPECT_FALSE(fs::exists(dir.path() / "big.jsonl.part"));
  const std::string content = slurp(final_path);
  for (std::uint64_t i = 0; i < chunks; ++i) {
    ASSERT_EQ(content[i * chunk.size()], static_cast<char>('a' + i % 26)) << "chunk " << i;
  }
}

std::uint64_t allocated_bytes(const fs::path& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return static_cast<std::uint64_t>(st.st_blocks) * 512;
}

bool can_fallocate(const fs::path& dir) {
  const auto probe = dir / "fallocate-probe";
  const int fd = ::open(probe.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  const bool ok = fd >= 0 && ::fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 4096) == 0;
  if (fd >= 0) ::close(fd);
  fs::remove(probe);
  return ok;
}

// reserve() allocates the expected size up front without changing the size a
// resume reads; a truncate keeps it, and finish() gives back what the file
// did not use.
TEST_F(AtomicFileTest, PartFileReservesBlocksWithoutGrowingAndFinishGivesBackTheRest) {
  const auto final_path = dir.path() / "reserved.jsonl";
  const auto part_path = dir.path() / "reserved.jsonl.part";
  constexpr std::uint64_t kExpected = std::uint64_t{8} << 20;
  {
    auto part = detail::PartFile::open(final_path);
    ASSERT_TRUE(part);
    if (!can_fallocate(dir.path())) GTEST_SKIP() << "this file system cannot fallocate";
    part->reserve(kExpected);
    EXPECT_GE(allocated_bytes(part_path), kExpected);
    EXPECT_EQ(fs::file_size(part_path), 0u);
    ASSERT_TRUE(part->append("hello"));
  }
  auto part = detail::PartFile::open(final_path);
  ASSERT_TRUE(part);
  EXPECT_EQ(part->size(), 5u);  // what a resume starts from: the bytes written, not the reservation
  part->reserve(kExpected);
  ASSERT_TRUE(part->truncate(0));
  EXPECT_GE(allocated_bytes(part_path), kExpected);
  const std::string mib(std::size_t{1} << 20, 'x');
  ASSERT_TRUE(part->append(mib));
  ASSERT_TRUE(part->finish());
  EXPECT_EQ(slurp(final_path), mib);
  EXPECT_LT(allocated_bytes(final_path), 2 * mib.size());
}

// A size the server claims is only reserved while it leaves half the free
// space: a lie must not fill the disk before a byte arrives.
TEST_F(AtomicFileTest, PartFileDoesNotReserveMoreThanHalfTheFreeSpace) {
  const auto final_path = dir.path() / "huge.jsonl";
  auto part = detail::PartFile::open(final_path);
  ASSERT_TRUE(part);
  struct statvfs vfs {};
  ASSERT_EQ(::statvfs(dir.path().c_str(), &vfs), 0);
  const std::uint64_t free_bytes = std::uint64_t{vfs.f_bavail} * vfs.f_frsize;
  part->reserve(free_bytes / 2 + (std::uint64_t{64} << 20));
  EXPECT_EQ(allocated_bytes(dir.path() / "huge.jsonl.part"), 0u);
  ASSERT_TRUE(part->append("{}\n"));
  ASSERT_TRUE(part->finish());
  EXPECT_EQ(slurp(final_path), "{}\n");
}

TEST_F(AtomicFileTest, PartFileDiscardDeletesIt) {
  const auto final_path = dir.path() / "part-002.jsonl";
  auto part = detail::PartFile::open(final_path);
  ASSERT_TRUE(part);
  ASSERT_TRUE(part->append("junk"));
  part->discard();
  EXPECT_FALSE(fs::exists(dir.path() / "part-002.jsonl.part"));
  EXPECT_FALSE(fs::exists(final_path));
}

TEST_F(AtomicFileTest, IoErrorExplainsFullDiskAndReadOnlyFileSystems) {
  EXPECT_NE(detail::io_error("cannot write", "/x/y", ENOSPC).message.find("/x/y"), std::string::npos);
  EXPECT_NE(detail::io_error("cannot write", "/x/y", ENOSPC).message.find("disk space"), std::string::npos);
  EXPECT_NE(detail::io_error("cannot write", "/x/y", EROFS).message.find("read-only"), std::string::npos);
  EXPECT_EQ(detail::io_error("cannot write", "/x/y", EACCES).kind, ErrorKind::Io);
}

TEST_F(AtomicFileTest, PartFilesAndTemporariesNeverGoThroughASymbolicLink) {
  write_text(dir.path() / "victim", "precious");
  fs::create_symlink(dir.path() / "victim", dir.path() / "part-001.jsonl.part");
  auto part = detail::PartFile::open(dir.path() / "part-001.jsonl");
  ASSERT_FALSE(part);
  EXPECT_NE(part.error().message.find("symbolic link"), std::string::npos) << part.error().message;
  // Committing over a link replaces the link, never what it points to.
  fs::create_symlink(dir.path() / "victim", dir.path() / "manifest.json");
  ASSERT_TRUE(detail::write_file_atomically(dir.path() / "manifest.json", "{}\n"));
  EXPECT_EQ(slurp(dir.path() / "victim"), "precious");
  EXPECT_FALSE(fs::is_symlink(dir.path() / "manifest.json"));
}

TEST_F(AtomicFileTest, DirectoryEntriesThatAreNotRegularFilesAreRefused) {
  auto directory = detail::Directory::open(dir.path());
  ASSERT_TRUE(directory);
  fs::create_directory(dir.path() / "sub");
  ASSERT_EQ(::mkfifo((dir.path() / "fifo").c_str(), 0600), 0);
  EXPECT_FALSE(directory->file_size("sub"));
  EXPECT_FALSE(directory->read_file("fifo", 100));  // refused, not blocked on
  EXPECT_EQ(*directory->file_size("absent"), std::nullopt);
  write_text(dir.path() / "big", std::string(200, 'x'));
  EXPECT_FALSE(directory->read_file("big", 100));
  EXPECT_EQ(*directory->read_file("big", 200), std::string(200, 'x'));
}
}  // namespace
}  // namespace mews_export
