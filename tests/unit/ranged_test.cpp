// Range plans, the sidecar that records their progress, and the prefix.
#include "ranged.hpp"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace mews_export::detail
