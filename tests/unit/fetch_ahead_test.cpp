// The fetch-ahead window: who takes which file, how far ahead, and stopping;
// the spool of a big file's ranges.
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

// A spool for bytes [100, 110) and [110, 120) of a file.
RangeSpool two_range_spool() {
  auto fd = open_unlinked_temp(std::filesystem::temp_directory_path());
  EXPECT_TRUE(fd);
  return RangeSpool(std::move(*fd),
                    {ByteRange{.start = 100, .end = 110, .done = 0}, ByteRange{.start = 110, .end = 120, .done = 0}});
}

std::string spooled(const RangeSpool& spool, std::uint64_t from, std::uint64_t to) {
  std::string out(to - from, '?');
  EXPECT_EQ(::pread(spool.fd(), out.data(), out.size(), static_cast<off_t>(spool.offset_in_spool(from))),
            static_cast<ssize_t>(out.size()));
  return out;
}

TEST(RangeSpool, EachRangeLandsAtItsOffsetWhateverTheOrderOfWrites) {
  RangeSpool spool = two_range_spool();
  ASSERT_TRUE(spool.write(1, "KLMNO"));  // the second range first
  ASSERT_TRUE(spool.write(0, "abcd"));
  ASSERT_TRUE(spool.write(1, "PQRST"));
  ASSERT_TRUE(spool.write(0, "efghij"));
  EXPECT_EQ(spool.range(0).done, 10u);
  EXPECT_EQ(spool.range(1).done, 10u);
  EXPECT_EQ(spooled(spool, 100, 120), "abcdefghijKLMNOPQRST");
}

TEST(RangeSpool, TheWriterWaitsForMoreBytesOfItsRangeOnly) {
  RangeSpool spool = two_range_spool();
  ASSERT_TRUE(spool.write(1, "KLMNOPQRST"));  // complete, but not the range the writer needs
  std::thread fetcher([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
    (void)spool.write(0, "abc");
  });
  auto held = spool.wait_beyond(0, 0);
  fetcher.join();
  ASSERT_TRUE(held) << held.error().message;
  EXPECT_EQ(*held, 3u);
  EXPECT_EQ(spooled(spool, 100, 103), "abc");
  auto all = spool.wait_beyond(1, 4);  // already there: no wait
  ASSERT_TRUE(all);
  EXPECT_EQ(*all, 10u);
}

TEST(RangeSpool, AFetchersErrorReachesTheWriterAndStopFailsLaterWrites) {
  RangeSpool spool = two_range_spool();
  ASSERT_TRUE(spool.write(0, "abc"));
  spool.finish(0, Error{.kind = ErrorKind::Http, .message = "403 Forbidden"});
  auto first = spool.wait_beyond(0, 0);
  ASSERT_TRUE(first);  // the bytes that did arrive come first
  auto failed = spool.wait_beyond(0, 3);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().kind, ErrorKind::Http);
  spool.finish(1, std::nullopt);  // "complete" with nothing written: an error, never a hang
  EXPECT_FALSE(spool.wait_beyond(1, 0));
  spool.stop();
  auto stopped = spool.write(1, "K");
  ASSERT_FALSE(stopped);
  EXPECT_EQ(stopped.error().kind, ErrorKind::Interrupted);
  EXPECT_EQ(spool.range(1).done, 0u);
}

}  // namespace
}  // namespace mews_export::detail
