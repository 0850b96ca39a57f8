// BackgroundSync: PartFile's fdatasync on a thread of its own while a download
// goes on. A fake sync function stands in for fdatasync, so the tests see each
// call, can hold one while requests arrive, and can fail one.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "background_sync.hpp"
#include "support/temp_dir.hpp"

namespace mews_export {
namespace {

using testing::TempDir;

// Records each call; answers from `results` in turn (0 once they run out);
// holds the calls while `hold` is set.
class FakeSync {
 public:
  detail::BackgroundSync::SyncFn fn() {
    return [this](int fd) {
      std::unique_lock lock(mutex_);
      fds_.push_back(fd);
      changed_.notify_all();
      changed_.wait(lock, [this] { return !hold_; });
      const int result = next_ < results_.size() ? results_[next_] : 0;
      ++next_;
      return result;
    };
  }
  void answer(std::vector<int> results) {
    std::lock_guard lock(mutex_);
    results_ = std::move(results);
  }
  void hold(bool on) {
    std::lock_guard lock(mutex_);
    hold_ = on;
    changed_.notify_all();
  }
  // Waits until `n` calls have started.
  void wait_for_calls(std::size_t n) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return fds_.size() >= n; });
  }
  std::vector<int> fds() {
    std::lock_guard lock(mutex_);
    return fds_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<int> fds_;
  std::vector<int> results_;
  std::size_t next_ = 0;
  bool hold_ = false;
};

class BackgroundSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fd = ::open((dir.path() / "file.part").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
  }
  void TearDown() override { ::close(fd); }

  TempDir dir;
  int fd = -1;
  FakeSync fake;
};

TEST_F(BackgroundSyncTest, WithoutARequestNothingIsSynced) {
  {
    detail::BackgroundSync sync(fd, fake.fn());
    EXPECT_EQ(sync.stop(), 0);
  }
  EXPECT_TRUE(fake.fds().empty());
}

TEST_F(BackgroundSyncTest, ARequestSyncsADuplicateOfTheDescriptor) {
  detail::BackgroundSync sync(fd, fake.fn());
  sync.request();
  fake.wait_for_calls(1);
  EXPECT_EQ(sync.stop(), 0);
  const auto fds = fake.fds();
  ASSERT_EQ(fds.size(), 1u);
  // Its own descriptor (still open until the object goes), for the same file:
  // the owner may close its own first.
  EXPECT_NE(fds[0], fd);
  struct stat mine {};
  struct stat synced {};
  ASSERT_EQ(::fstat(fd, &mine), 0);
  ASSERT_EQ(::fstat(fds[0], &synced), 0);
  EXPECT_EQ(mine.st_dev, synced.st_dev);
  EXPECT_EQ(mine.st_ino, synced.st_ino);
}

TEST_F(BackgroundSyncTest, RequestsWhileASyncRunsMergeIntoOneMore) {
  detail::BackgroundSync sync(fd, fake.fn());
  fake.hold(true);
  sync.request();
  fake.wait_for_calls(1);
  for (int i = 0; i < 5; ++i) sync.request();
  fake.hold(false);
  fake.wait_for_calls(2);
  EXPECT_EQ(sync.stop(), 0);
  EXPECT_EQ(fake.fds().size(), 2u);
}

TEST_F(BackgroundSyncTest, TheFirstRealErrorIsKeptAndNotSupportedIsIgnored) {
  detail::BackgroundSync sync(fd, fake.fn());
  fake.answer({EINVAL, EIO, ENOSPC});
  for (std::size_t call = 1; call <= 3; ++call) {
    sync.request();
    fake.wait_for_calls(call);
  }
  EXPECT_EQ(sync.stop(), EIO);
  EXPECT_EQ(sync.error(), EIO);
}

TEST_F(BackgroundSyncTest, ReportedErrorsFollowTheSameRules) {
  detail::BackgroundSync sync(fd, fake.fn());
  sync.report(0);
  sync.report(ENOSYS);
  sync.report(ESPIPE);
  EXPECT_EQ(sync.error(), 0);
  sync.report(ENOSPC);
  sync.report(EIO);
  EXPECT_EQ(sync.error(), ENOSPC);
}

TEST_F(BackgroundSyncTest, AfterStopRequestsDoNothing) {
  detail::BackgroundSync sync(fd, fake.fn());
  EXPECT_EQ(sync.stop(), 0);
  sync.request();
  EXPECT_EQ(sync.stop(), 0);
  EXPECT_TRUE(fake.fds().empty());
}

}  // namespace
}  // namespace mews_export
