#include <gtest/gtest.h>

#include "mews_export/validate.hpp"

using namespace mews_export;
using namespace std::chrono;

namespace {

const UtcTime kNow = *parse_utc("2026-11-28T12:00:00Z");

Error rejected(const AddArguments& args) {
  auto result = build_add_request(args, kNow);
  EXPECT_FALSE(result) << "accepted";
  return result ? Error{} : result.error();
}

}  // namespace

TEST(Validate, MatchesEntityCaseInsensitivelyAndSendsCanonicalName) {
  auto r = build_add_request({.entity = "orderITEM"}, kNow);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->entity_type, EntityType::OrderItem);
  EXPECT_TRUE(r->filters.empty());
  EXPECT_TRUE(r->scope.empty());
}

TEST(Validate, UnknownTypeListsTheValidOnes) {
  const auto e = rejected({.entity = "Orders"});
  EXPECT_EQ(e.kind, ErrorKind::Usage);
  EXPECT_NE(e.message.find("OrderItem"), std::string::npos);
}

TEST(Validate, UpdatedToDefaultsToFiveMinutesAgoLessTheSkewMargin) {
  auto r = build_add_request({.entity = "Bill", .updated_from = "2026-11-01"}, kNow);
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->filters.updated_utc);
  EXPECT_EQ(r->filters.updated_utc->start_utc, "2026-11-01T00:00:00Z");
  const auto end = *parse_utc(r->filters.updated_utc->end_utc);
  EXPECT_LE(end, kNow - minutes{5});
  EXPECT_GE(end, kNow - minutes{7});
}

TEST(Validate, RejectsEveryInvalidTimeInput) {
  EXPECT_EQ(rejected({.entity = "Bill", .updated_from = "yesterday"}).kind, ErrorKind::Usage);
  EXPECT_EQ(rejected({.entity = "Bill", .updated_from = "2026-11-01", .updated_to = "2026-11-31"}).kind,
            ErrorKind::Usage);
  // start after end
  EXPECT_NE(
      rejected({.entity = "Bill", .updated_from = "2026-11-10", .updated_to = "2026-11-01"}).message.find("after"),
      std::string::npos);
  // end less than 5 minutes ago
  EXPECT_NE(rejected({.entity = "Bill", .updated_from = "2026-11-01", .updated_to = "2026-11-28T11:58:00Z"})
                .message.find("5 minutes"),
            std::string::npos);
  // --updated-to alone
  EXPECT_NE(rejected({.entity = "Bill", .updated_to = "2026-11-01"}).message.find("--updated-from"), std::string::npos);
  // over 180 days
  EXPECT_NE(rejected({.entity = "Bill", .updated_from = "2026-01-01", .updated_to = "2026-07-01"}).message.find("180"),
            std::string::npos);
  EXPECT_TRUE(build_add_request({.entity = "Bill", .updated_from = "2026-01-01", .updated_to = "2026-06-30"}, kNow));
}

TEST(Validate, LedgerEntryNeedsPostingDatesAndOnlyIt) {
  EXPECT_NE(rejected({.entity = "LedgerEntry"}).message.find("--posting-from"), std::string::npos);
  EXPECT_EQ(rejected({.entity = "LedgerEntry", .posting_from = "2026-01-01"}).kind, ErrorKind::Usage);
  EXPECT_EQ(rejected({.entity = "LedgerEntry", .posting_from = "2026-01-01", .posting_to = "2026-1-31"}).kind,
            ErrorKind::Usage);
  EXPECT_EQ(rejected({.entity = "LedgerEntry", .posting_from = "2026-02-01", .posting_to = "2026-01-31"}).kind,
            ErrorKind::Usage);
  EXPECT_NE(rejected({.entity = "Payment", .posting_from = "2026-01-01", .posting_to = "2026-01-31"})
                .message.find("LedgerEntry"),
            std::string::npos);
  auto r = build_add_request({.entity = "ledgerentry", .posting_from = "2026-01-01", .posting_to = "2026-01-31"}, kNow);
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->filters.ledger_posting);
  EXPECT_EQ(r->filters.ledger_posting->end, "2026-01-31");
}

TEST(Validate, AtMostAThousandIdsPerScopeList) {
  AddArguments args{.entity = "Customer"};
  args.enterprise_ids.assign(1000, "id");
  EXPECT_TRUE(build_add_request(args, kNow));
  args.enterprise_ids.push_back("one-too-many");
  EXPECT_NE(rejected(args).message.find("1000"), std::string::npos);
  AddArguments chains{.entity = "Customer"};
  chains.chain_ids.assign(1001, "c");
  EXPECT_EQ(rejected(chains).kind, ErrorKind::Usage);
}
