// classify(): what one attempt of a file transfer means for the next step.
#include <gtest/gtest.h>

#include "transfer.hpp"

using namespace mews_export;
using namespace mews_export::detail;
using namespace std::chrono;

namespace {

const UtcTime kNow = floor<seconds>(system_clock::time_point{seconds{1'800'000'000}});

Attempt answered(int status, std::map<std::string, std::string> headers = {}) {
  Attempt a;
  a.response = HttpResponse{.status = status, .headers = std::move(headers), .body = ""};
  return a;
}

Attempt failed(ErrorKind kind) {
  Attempt a;
  a.response = std::unexpected(Error{.kind = kind, .message = "boom"});
  return a;
}

}  // namespace

TEST(Classify, CompleteSuccessIsDoneAndShortSuccessIsRetriedAsShort) {
  EXPECT_EQ(classify(answered(200), 10, 10, kNow).next, Next::Done);
  EXPECT_EQ(classify(answered(206), 10, 10, kNow).next, Next::Done);
  const auto short_body = classify(answered(200), 4, 10, kNow);
  EXPECT_EQ(short_body.next, Next::Retry);
  EXPECT_TRUE(short_body.short_body);
}

TEST(Classify, TransportErrorsRetryWhenTransient) {
  EXPECT_EQ(classify(failed(ErrorKind::Network), 0, 10, kNow).next, Next::Retry);
  EXPECT_EQ(classify(failed(ErrorKind::Timeout), 0, 10, kNow).next, Next::Retry);
  EXPECT_EQ(classify(failed(ErrorKind::Io), 0, 10, kNow).next, Next::Fail);
  const auto interrupted = classify(failed(ErrorKind::Interrupted), 0, 10, kNow);
  EXPECT_EQ(interrupted.next, Next::Fail);
  EXPECT_EQ(interrupted.error.kind, ErrorKind::Interrupted);
}

TEST(Classify, StatusesMapToRefreshRetryRedirectOrFail) {
  EXPECT_EQ(classify(answered(403), 0, 10, kNow).next, Next::RefreshUrl);
  EXPECT_EQ(classify(answered(404), 0, 10, kNow).next, Next::RefreshUrl);
  const auto limited = classify(answered(429, {{"retry-after", "7"}}), 0, 10, kNow);
  EXPECT_EQ(limited.next, Next::Retry);
  EXPECT_EQ(limited.retry_after, seconds{7});
  EXPECT_EQ(classify(answered(503), 0, 10, kNow).next, Next::Retry);
  const auto shorter = classify(answered(416), 5, 10, kNow);
  EXPECT_EQ(shorter.next, Next::Retry);
  EXPECT_EQ(shorter.error.kind, ErrorKind::Verification);
  const auto moved = classify(answered(307, {{"location", "https://cdn.example/f"}}), 0, 10, kNow);
  EXPECT_EQ(moved.next, Next::Redirect);
  EXPECT_EQ(moved.location, "https://cdn.example/f");
  EXPECT_EQ(classify(answered(302), 0, 10, kNow).next, Next::Fail);  // a redirect to nowhere
  const auto gone = classify(answered(410), 0, 10, kNow);
  EXPECT_EQ(gone.next, Next::Fail);
  EXPECT_EQ(gone.error.http_status, 410);
}

TEST(Classify, WhatTheReceiverSawComesFirst) {
  Attempt overflow = answered(200);
  overflow.overflow = true;
  EXPECT_EQ(classify(overflow, 10, 10, kNow).error.kind, ErrorKind::Verification);
  Attempt changed = failed(ErrorKind::Io);
  changed.changed = true;
  EXPECT_EQ(classify(changed, 3, 10, kNow).error.kind, ErrorKind::Verification);
  Attempt disk = failed(ErrorKind::Io);
  disk.local_error = Error{.kind = ErrorKind::Io, .message = "disk full"};
  EXPECT_EQ(classify(disk, 3, 10, kNow).error.message, "disk full");
  Attempt elsewhere = failed(ErrorKind::Io);
  elsewhere.range_mismatch = true;
  EXPECT_EQ(classify(elsewhere, 0, 10, kNow).next, Next::Retry);
}
