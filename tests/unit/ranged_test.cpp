// Range plans, the sidecar that records their progress, and the prefix.
#include "ranged.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "sha256.hpp"
#include "support/temp_dir.hpp"
#include "transfer.hpp"

namespace mews_export::detail {
namespace {

TEST(Ranges, APlanCoversTheFileInNearlyEqualNonEmptyRanges) {
  const auto ranges = plan_ranges(1003, 4);
  ASSERT_EQ(ranges.size(), 4u);
  EXPECT_EQ(ranges[0], (ByteRange{.start = 0, .end = 250, .done = 0}));
  EXPECT_EQ(ranges[3], (ByteRange{.start = 750, .end = 1003, .done = 0}));
  for (std::size_t i = 1; i < ranges.size(); ++i) EXPECT_EQ(ranges[i].start, ranges[i - 1].end);
  EXPECT_EQ(plan_ranges(3, 8).size(), 3u);  // never an empty range
  EXPECT_EQ(plan_ranges(10, 0).size(), 1u);
}

TEST(Ranges, TheSidecarRoundTripsAndRejectsWhatDoesNotFit) {
  auto ranges = plan_ranges(1000, 3);
  ranges[1].done = 100;
  const auto text = ranges_text(1000, ranges);
  EXPECT_EQ(parse_ranges(text, 1000), ranges);
  EXPECT_FALSE(parse_ranges(text, 999));  // another size: another file
  EXPECT_FALSE(parse_ranges("garbage", 1000));
  EXPECT_FALSE(parse_ranges(text.substr(0, text.size() - 8), 1000));                       // cut short
  EXPECT_FALSE(parse_ranges("mews-export-ranges 1 1000 2\n0 400 0\n500 1000 0\n", 1000));  // a gap
  EXPECT_FALSE(parse_ranges("mews-export-ranges 1 1000 1\n0 1000 1001\n", 1000));          // done beyond
  EXPECT_FALSE(parse_ranges("mews-export-ranges 1 1000 1\n0 1000 0\n7\n", 1000));          // trailing junk
}

TEST(Ranges, TheWrittenPrefixStopsAtTheFirstUnfinishedRange) {
  auto ranges = plan_ranges(300, 3);
  EXPECT_EQ(written_prefix(ranges), 0u);
  ranges[1].done = 100;  // complete, but after an unfinished one
  ranges[0].done = 40;
  EXPECT_EQ(written_prefix(ranges), 40u);
  ranges[0].done = 100;
  ranges[2].done = 7;
  EXPECT_EQ(written_prefix(ranges), 207u);
}

TEST(Ranges, SpareConnectionsGrantWhatIsIdleAndNeverMore) {
  SpareConnections spare;  // none idle yet
  EXPECT_EQ(spare.take(3), 0u);
  spare.give_back(2);
  EXPECT_EQ(spare.take(3), 2u);  // all that is idle, not what was asked
  EXPECT_EQ(spare.take(1), 0u);
  spare.give_back(2);
  spare.give_back(1);
  EXPECT_EQ(spare.take(1), 1u);
  EXPECT_EQ(spare.take(5), 2u);
}

// A file on disk and an open descriptor to read it back, as a .part's.
struct WrittenFile {
  explicit WrittenFile(const std::string& content) : path(dir / "f.part") {
    std::ofstream(path, std::ios::binary) << content;
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  }
  ~WrittenFile() { ::close(fd); }
  mews_export::testing::TempDir dir;
  std::filesystem::path path;
  int fd = -1;
};

TEST(PrefixHasher, DigestsThePrefixInOrderAsItIsWritten) {
  const std::string content = "{\"a\":1}\n{\"b\":2}\n{\"c\":3}";
  WrittenFile file(content);
  FileState state;
  {
    PrefixHasher hasher(file.fd, file.path, state);
    hasher.advance(8);
    hasher.advance(4);  // never backwards
    ASSERT_TRUE(hasher.finish(content.size()));
  }
  EXPECT_EQ(state.hash.hex_digest(), sha256_hex(content));
  EXPECT_EQ(state.newlines, 2u);
  EXPECT_EQ(state.last, '}');
}

TEST(PrefixHasher, StartsNoThreadBeforeThereIsSomethingToDigest) {
  WrittenFile file("{}\n");
  FileState state;
  PrefixHasher hasher(file.fd, file.path, state);
  hasher.advance(0);
  EXPECT_FALSE(hasher.started());
  hasher.advance(3);
  EXPECT_TRUE(hasher.started());
}

// A probe's bytes are digested only if the file is then split: a held hasher
// that is never released reads nothing back and starts no thread.
TEST(PrefixHasher, AHeldHasherDigestsNothingUntilReleased) {
  const std::string content = "{\"x\":1}\n{\"y\":2}\n";
  WrittenFile file(content);
  FileState state;
  {
    PrefixHasher held(file.fd, file.path, state, PrefixHasher::Start::Held);
    held.advance(content.size());
    EXPECT_FALSE(held.started());
  }
  EXPECT_EQ(state.newlines, 0u);  // destroyed while held: nothing was read
  PrefixHasher hasher(file.fd, file.path, state, PrefixHasher::Start::Held);
  hasher.advance(9);
  EXPECT_FALSE(hasher.started());
  hasher.release();
  EXPECT_TRUE(hasher.started());
  ASSERT_TRUE(hasher.finish(content.size()));
  EXPECT_EQ(state.hash.hex_digest(), sha256_hex(content));
  EXPECT_EQ(state.newlines, 2u);
}

}  // namespace
}  // namespace mews_export::detail
