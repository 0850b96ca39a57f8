// The journal (one atomic file per export, newest first, re-attach by key)
// and the job lock.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "mews_export/journal.hpp"
#include "support/fake_clock.hpp"
#include "support/temp_dir.hpp"

using namespace mews_export;
using namespace mews_export::testing;

namespace {

JobKey key(const std::string& entity, std::optional<std::string> updated_to = std::nullopt) {
  return JobKey{.platform = "https://api.example",
                .token_fingerprint = "abc",
                .entity_type = entity,
                .updated_from = "2026-01-01T00:00:00Z",
                .updated_to = std::move(updated_to)};
}

JournalEntry entry(const std::string& id, const JobKey& k, ExportStatus status, const std::string& created) {
  JournalEntry e;
  e.id = id;
  e.key = k;
  e.status = status;
  e.created_utc = created;
  e.updated_utc = created;
  return e;
}

}  // namespace

TEST(Journal, EntriesRoundTripNewestFirstAndUnreadableFilesAreSkipped) {
  TempDir dir;
  auto journal = Journal::open(dir.path());
  ASSERT_TRUE(journal) << journal.error().message;
  ASSERT_TRUE(journal->record(entry("a-1", key("Bill"), ExportStatus::Pending, "2026-11-01T00:00:00Z")));
  ASSERT_TRUE(journal->record(entry("b-2", key("Bill"), ExportStatus::NotFound, "2026-11-02T00:00:00Z")));
  write_text(journal->directory() / "broken.json", "{not json");
  write_text(journal->directory() / "deep.json", std::string(10000, '[') + std::string(10000, ']'));
  const auto all = journal->entries();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, "b-2");
  EXPECT_EQ(all[0].status, ExportStatus::NotFound);
  EXPECT_EQ(all[1].status, ExportStatus::Pending);
  EXPECT_EQ(journal->find("A-1")->id, "a-1");  // ids compare without regard to case
}

TEST(Journal, FindUnfinishedMatchesTheJobAndSkipsFinishedOnes) {
  TempDir dir;
  auto journal = Journal::open(dir.path());
  ASSERT_TRUE(journal);
  auto done = entry("done", key("Bill"), ExportStatus::Success, "2026-11-03T00:00:00Z");
  done.downloaded = true;
  ASSERT_TRUE(journal->record(done));
  ASSERT_TRUE(journal->record(entry("failed", key("Bill"), ExportStatus::Failed, "2026-11-04T00:00:00Z")));
  ASSERT_TRUE(journal->record(
      entry("mine", key("Bill", "2026-02-01T00:00:00Z"), ExportStatus::Processing, "2026-11-02T00:00:00Z")));
  ASSERT_TRUE(journal->record(entry("other", key("Payment"), ExportStatus::Pending, "2026-11-05T00:00:00Z")));
  // An omitted updated_to matches any; a given one must be equal.
  EXPECT_EQ(journal->find_unfinished(key("Bill"))->id, "mine");
  EXPECT_EQ(journal->find_unfinished(key("Bill", "2026-02-01T00:00:00Z"))->id, "mine");
  EXPECT_FALSE(journal->find_unfinished(key("Bill", "2026-03-01T00:00:00Z")));
  EXPECT_FALSE(journal->find_unfinished(key("Company")));
}

TEST(Journal, RefusesIdsThatCannotNameAFile) {
  TempDir dir;
  auto journal = Journal::open(dir.path());
  ASSERT_TRUE(journal);
  for (const char* id : {"", "../x", ".hidden", "a/b", "a\x1b"}) {
    EXPECT_FALSE(journal->record(entry(id, key("Bill"), ExportStatus::Pending, "2026-11-01T00:00:00Z"))) << id;
  }
}

TEST(Journal, CreatesPrivateDirectoriesAndLeavesExistingOnesAlone) {
  TempDir dir;
  ASSERT_TRUE(Journal::open(dir.path() / "new" / "state"));
  struct stat st {};
  ASSERT_EQ(::stat((dir.path() / "new" / "state").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((dir.path() / "new" / "state" / "exports").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ::chmod(dir.path().c_str(), 0755);
  ASSERT_TRUE(Journal::open(dir.path()));
  ASSERT_EQ(::stat(dir.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);  // warned about, never changed
}

TEST(JobLock, OneHolderAtATimeAndWaitingEndsOnCancellation) {
  TempDir dir;
  FakeClock clock;
  auto first = JobLock::acquire(dir.path(), "job", false, clock);
  ASSERT_TRUE(first);
  auto second = JobLock::acquire(dir.path(), "job", false, clock);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().kind, ErrorKind::Locked);
  EXPECT_EQ(exit_code(second.error()), 75);
  EXPECT_TRUE(JobLock::acquire(dir.path(), "other-job", false, clock));
  { auto moved = std::move(*first); }  // released here
  EXPECT_TRUE(JobLock::acquire(dir.path(), "job", false, clock));
}
