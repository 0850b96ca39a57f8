#include <gtest/gtest.h>

#include "mews_export/time.hpp"

using namespace mews_export;
using namespace std::chrono;

TEST(Time, ParsesAndFormatsUtcRoundTrip) {
  const auto t = parse_utc("2026-11-28T10:15:30Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(format_utc(*t), "2026-11-28T10:15:30Z");
  EXPECT_EQ(t->time_since_epoch().count(), 1795860930);
}

TEST(Time, AcceptsFractionsAndZeroOffsetAsTheApiMaySendThem) {
  EXPECT_EQ(parse_utc("2026-11-28T10:15:30.1234567Z"), parse_utc("2026-11-28T10:15:30Z"));
  EXPECT_EQ(parse_utc("2026-11-28T10:15:30+00:00"), parse_utc("2026-11-28T10:15:30Z"));
}

TEST(Time, RejectsMalformedTimes) {
  for (const char* bad : {"", "2026-11-28", "2026-11-28T10:15:30", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z",
                          "2026-11-28T24:00:00Z", "2026-11-28 10:15:30Z", "2026-11-28T10:15:30+01:00", "yesterday"}) {
    EXPECT_FALSE(parse_utc(bad)) << bad;
  }
}

TEST(Time, DatesAreMidnightUtc) {
  EXPECT_EQ(parse_date("2024-02-29"), parse_utc("2024-02-29T00:00:00Z"));
  EXPECT_FALSE(parse_date("2023-02-29"));
  EXPECT_FALSE(parse_date("2023-2-28"));
  EXPECT_EQ(parse_time_arg("2024-02-29"), parse_time_arg("2024-02-29T00:00:00Z"));
  EXPECT_EQ(format_date(*parse_utc("2024-02-29T13:00:00Z")), "2024-02-29");
}

TEST(Time, ParsesDurationsWithUnits) {
  EXPECT_EQ(parse_duration("500ms"), milliseconds{500});
  EXPECT_EQ(parse_duration("30s"), seconds{30});
  EXPECT_EQ(parse_duration("5m"), minutes{5});
  EXPECT_EQ(parse_duration("24h"), hours{24});
  EXPECT_EQ(parse_duration("1h30m"), minutes{90});
  EXPECT_EQ(parse_duration("45"), seconds{45});
  EXPECT_FALSE(parse_duration(""));
  EXPECT_FALSE(parse_duration("5x"));
  EXPECT_FALSE(parse_duration("m"));
  EXPECT_FALSE(parse_duration("-5m"));
  EXPECT_EQ(format_duration(minutes{90}), "1h30m");
  EXPECT_EQ(format_duration(milliseconds{250}), "250ms");
}

TEST(Time, HttpDatesRoundTrip) {
  const auto t = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT");
  ASSERT_TRUE(t);
  EXPECT_EQ(format_utc(*t), "1994-11-06T08:49:37Z");
  EXPECT_EQ(format_http_date(*t), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_FALSE(parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT"));
  EXPECT_FALSE(parse_http_date("120"));
}

TEST(Time, HugeDurationsAreRejectedNotOverflowed) {
  EXPECT_FALSE(parse_duration("10000000000000000m"));
  EXPECT_FALSE(parse_duration("1111111111111d"));
  EXPECT_FALSE(parse_duration("99999999999999999"));
  EXPECT_FALSE(parse_duration("36600d1s"));
  EXPECT_EQ(parse_duration("3650d"), days{3650});
}

TEST(Time, LeapSecondReadsAsTheSecondBefore) {
  EXPECT_EQ(parse_utc("9999-12-31T23:59:60Z"), parse_utc("9999-12-31T23:59:59Z"));
  EXPECT_EQ(format_utc(*parse_utc("2016-12-31T23:59:60Z")), "2016-12-31T23:59:59Z");
}
