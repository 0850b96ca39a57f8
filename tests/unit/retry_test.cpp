#include <gtest/gtest.h>

#include "mews_export/rate_limit.hpp"
#include "mews_export/retry.hpp"
#include "support/fake_clock.hpp"

using namespace mews_export;
using namespace std::chrono;

TEST(Retry, RetriesTransientFailuresOnly) {
  EXPECT_TRUE(is_retryable(Error{.kind = ErrorKind::Network}));
  EXPECT_TRUE(is_retryable(Error{.kind = ErrorKind::Timeout}));
  for (int status : {408, 429, 500, 502, 503, 504}) {
    EXPECT_TRUE(is_retryable(Error{.kind = ErrorKind::Api, .http_status = status})) << status;
  }
  for (int status : {400, 404, 409}) {
    EXPECT_FALSE(is_retryable(Error{.kind = ErrorKind::Api, .http_status = status})) << status;
  }
  EXPECT_FALSE(is_retryable(Error{.kind = ErrorKind::Refused, .http_status = 401}));
  EXPECT_FALSE(is_retryable(Error{.kind = ErrorKind::Refused, .http_status = 403}));
  EXPECT_FALSE(is_retryable(Error{.kind = ErrorKind::Io}));
  EXPECT_FALSE(is_retryable(Error{.kind = ErrorKind::Interrupted}));
}

TEST(Retry, ParsesRetryAfterSecondsAndHttpDates) {
  const auto now = *parse_utc("2026-11-28T10:00:00Z");
  EXPECT_EQ(parse_retry_after("30", now), seconds{30});
  EXPECT_EQ(parse_retry_after(" 0 ", now), seconds{0});
  EXPECT_EQ(parse_retry_after("Sat, 28 Nov 2026 10:01:30 GMT", now), seconds{90});
  EXPECT_EQ(parse_retry_after("Sat, 28 Nov 2026 09:00:00 GMT", now), seconds{0});
  EXPECT_FALSE(parse_retry_after("soon", now));
  EXPECT_FALSE(parse_retry_after("", now));
  EXPECT_FALSE(parse_retry_after("-5", now));
}

TEST(Retry, BackoffIsFullJitterUnderACappedExponentialCeiling) {
  RetryPolicy policy{.max_attempts = 10, .base_delay = milliseconds{1000}, .max_delay = seconds{60}};
  EXPECT_EQ(next_delay(policy, 1, std::nullopt, 0.999999), milliseconds{999});
  EXPECT_EQ(next_delay(policy, 3, std::nullopt, 0.5), milliseconds{2000});
  EXPECT_EQ(next_delay(policy, 20, std::nullopt, 0.5), milliseconds{30000});  // capped at 60 s
  EXPECT_EQ(next_delay(policy, 4, std::nullopt, 0.0), milliseconds{0});
}

TEST(Retry, RetryAfterWinsOverBackoff) {
  RetryPolicy policy;
  EXPECT_EQ(next_delay(policy, 1, seconds{30}, 0.1), seconds{30});
}

TEST(Retry, AbsurdRetryAfterIsCappedAtAYear) {
  const auto now = *parse_utc("2026-11-28T10:00:00Z");
  EXPECT_EQ(parse_retry_after("9999999999999999", now), hours{24 * 365});
  EXPECT_EQ(parse_retry_after("99999999999999999999999", now), hours{24 * 365});
  EXPECT_EQ(parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now), hours{24 * 365});
  EXPECT_EQ(next_delay(RetryPolicy{}, 1, parse_retry_after("9999999999999999", now), 0.5), hours{24 * 365});
}

TEST(RetryBudget, CountsAttemptsAndSaysWhyItGaveUp) {
  FakeClock clock;
  RetryBudget budget({.max_attempts = 3, .base_delay = milliseconds{100}}, clock, [] { return 0.5; });
  EXPECT_EQ(budget.next_delay(std::nullopt), milliseconds{50});
  EXPECT_EQ(budget.next_delay(std::nullopt), milliseconds{100});
  EXPECT_FALSE(budget.next_delay(std::nullopt));
  EXPECT_EQ(budget.exhausted_reason(), "after 3 attempts");
}

TEST(RetryBudget, ProgressStartsBothBudgetsAgain) {
  FakeClock clock;
  RetryBudget budget({.max_attempts = 2, .max_total = seconds{10}}, clock, [] { return 0.0; });
  ASSERT_TRUE(budget.next_delay(std::nullopt));
  clock.advance(seconds{9});
  budget.progress();
  EXPECT_EQ(budget.failures(), 0);
  EXPECT_TRUE(budget.next_delay(seconds{9}));  // 9 s more fits in a fresh 10 s budget
}

TEST(RetryBudget, TimeBudgetSpentEndsRetries) {
  FakeClock clock;
  RetryBudget budget({.max_attempts = 100, .max_total = seconds{10}}, clock, [] { return 0.0; });
  ASSERT_TRUE(budget.next_delay(seconds{4}));
  clock.advance(seconds{8});
  EXPECT_FALSE(budget.next_delay(seconds{4}));
  EXPECT_NE(budget.exhausted_reason().find("retry budget of 10s spent"), std::string::npos)
      << budget.exhausted_reason();
}

TEST(RetryBudget, RetryAfterLongerThanTheWholeBudgetSaysWhatTheServerAsked) {
  FakeClock clock;
  RetryBudget budget({.max_total = minutes{15}}, clock);
  EXPECT_FALSE(budget.next_delay(hours{2}));
  EXPECT_NE(budget.exhausted_reason().find("asked to wait 2h (Retry-After)"), std::string::npos)
      << budget.exhausted_reason();
  EXPECT_NE(budget.exhausted_reason().find("15m"), std::string::npos);
}

TEST(RequestBudget, NoWindowEverHoldsMoreThanTheLimit) {
  FakeClock clock;
  RequestBudget budget(RateLimit{.requests = 200, .window = seconds{30}});
  std::vector<Clock::time_point> sent;
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(budget.acquire(clock));
    sent.push_back(clock.now());
  }
  // Slide a 30 s window over the 1,000 requests: never more than 200 inside.
  std::size_t first = 0;
  for (std::size_t last = 0; last < sent.size(); ++last) {
    while (sent[last] - sent[first] >= seconds{30}) ++first;
    EXPECT_LE(last - first + 1, 200u) << "at request " << last;
  }
  // The first requests go out at once (the burst), then at an even pace.
  EXPECT_EQ(sent[0], sent[37]);
  EXPECT_GT(clock.sleeps().size(), 900u);
  EXPECT_LE(sent.back() - sent.front(), seconds{195});  // 962 more at ~5 per second
}

TEST(RequestBudget, ParsesLimits) {
  EXPECT_EQ(parse_rate_limit("200/30s")->requests, 200);
  EXPECT_EQ(parse_rate_limit("10/5s")->window, seconds{5});
  EXPECT_FALSE(parse_rate_limit("0/5s"));
  EXPECT_FALSE(parse_rate_limit("10"));
  EXPECT_FALSE(parse_rate_limit("10/x"));
}
