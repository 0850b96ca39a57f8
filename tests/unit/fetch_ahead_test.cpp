// The fetch-ahead window: who takes which file, how far ahead, and stopping.
#include "fetch_ahead.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <thread>

namespace mews_export::detail {
namespace {

TEST(FetchWindow, FetchersStayWithinTheWindowAndNeverTakeTheWritersFile) {
  FetchWindow window(5, 2);
  EXPECT_TRUE(window.claim_for_writer(0));  // nobody claimed file 0: the writer streams it
  EXPECT_EQ(window.claim_ahead(), 1u);
  EXPECT_EQ(window.claim_ahead(), 2u);  // two ahead of file 0
  std::optional<std::size_t> third;
  std::thread fetcher([&] { third = window.claim_ahead(); });  // file 3 waits for the window
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(third.has_value());
  window.emitted(0);
  fetcher.join();
  EXPECT_EQ(third, 3u);
  EXPECT_FALSE(window.claim_for_writer(1));  // a fetcher has it: the writer waits for it
  window.finish(1, std::nullopt);
  EXPECT_FALSE(window.wait_fetched(1).has_value());
}

TEST(FetchWindow, TheWriterTakesAFileNoFetcherReachedAndErrorsReachIt) {
  FetchWindow window(3, 1);
  EXPECT_TRUE(window.claim_for_writer(0));
  EXPECT_EQ(window.claim_ahead(), 1u);
  window.finish(1, Error{.kind = ErrorKind::Http, .message = "HTTP 400"});
  window.emitted(0);
  const auto error = window.wait_fetched(1);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->kind, ErrorKind::Http);
}

TEST(FetchWindow, AFetcherThatStartedFirstGoesOnOnceTheWriterTakesItsFile) {
  FetchWindow window(3, 1);
  std::optional<std::size_t> got;
  std::thread fetcher([&] { got = window.claim_ahead(); });  // nothing to take yet: file 0 is the writer's
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(window.claim_for_writer(0));
  fetcher.join();  // hangs if taking file 0 does not wake the fetcher
  EXPECT_EQ(got, 1u);
}

TEST(FetchWindow, StopReleasesWaitingFetchers) {
  FetchWindow window(10, 1);
  EXPECT_TRUE(window.claim_for_writer(0));
  EXPECT_EQ(window.claim_ahead(), 1u);
  std::optional<std::size_t> got = 99;
  std::thread fetcher([&] { got = window.claim_ahead(); });
  window.stop();
  fetcher.join();
  EXPECT_FALSE(got.has_value());
  EXPECT_TRUE(window.stopped());
}

TEST(FetchWindow, NoFileLeftEndsTheFetchers) {
  FetchWindow window(1, 3);
  EXPECT_TRUE(window.claim_for_writer(0));
  EXPECT_FALSE(window.claim_ahead().has_value());
}

TEST(TempFile, IsUnlinkedPrivateAndRestartable) {
  auto fd = open_unlinked_temp(std::filesystem::temp_directory_path());
  ASSERT_TRUE(fd) << fd.error().message;
  struct stat st {};
  ASSERT_EQ(::fstat(fd->get(), &st), 0);
  EXPECT_EQ(st.st_nlink, 0u);  // no name: gone with the descriptor
  EXPECT_EQ(st.st_mode & 0077, 0u);
  FetchWindow window(1, 0);
  TempOutput out(std::move(*fd), window);
  ASSERT_TRUE(out.write("abc"));
  ASSERT_TRUE(out.restart());
  ASSERT_TRUE(out.write("xy"));
  const auto taken = out.take();
  ASSERT_EQ(::fstat(taken.get(), &st), 0);
  EXPECT_EQ(st.st_size, 2);
  window.stop();
  TempOutput stopped(UniqueFd(::dup(taken.get())), window);
  EXPECT_FALSE(stopped.write("z"));  // a stopped stream abandons its fetchers' files
}

}  // namespace
}  // namespace mews_export::detail
