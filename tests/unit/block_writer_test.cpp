// The receive path in blocks: whole-block writes, a digest in order on its
// own thread or on the receiving one (by the cores spare), partial blocks at
// flush, write errors, and the write-behind of .part files.
#include "block_writer.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

#include "atomic_file.hpp"
#include "sha256.hpp"
#include "support/temp_dir.hpp"

namespace mews_export::detail {
namespace {

// Keeps what is written, the size of every write and the thread that wrote
// it; can fail the Nth write.
class RecordingOutput final : public FileOutput {
 public:
  Status write(std::string_view chunk) override {
    if (++writes_ == fail_at_) return fail(ErrorKind::OutputClosed, "the reader went away");
    sizes.push_back(chunk.size());
    threads.push_back(std::this_thread::get_id());
    data.append(chunk);
    return {};
  }
  bool can_restart() const override { return true; }
  Status restart() override {
    data.clear();
    return {};
  }
  void discard() override {}

  std::string data;
  std::vector<std::size_t> sizes;
  std::vector<std::thread::id> threads;
  int fail_at_ = 0;  // 0: never

 private:
  int writes_ = 0;
};

// `size` bytes of JSON-like lines, deterministic.
std::string lines_of(std::size_t size) {
  std::string out;
  for (int i = 0; out.size() < size; ++i) out += "{\"Id\":" + std::to_string(i) + ",\"Note\":\"abcdefghij\"}\n";
  out.resize(size);
  return out;
}

// Feeds `body` in pieces of random sizes up to 64 KiB, as libcurl would.
Status feed(BlockWriter& writer, std::string_view body, unsigned seed) {
  std::mt19937 random(seed);
  std::uniform_int_distribution<std::size_t> piece(1, 64 * 1024);
  while (!body.empty()) {
    const auto n = std::min(piece(random), body.size());
    if (auto st = writer.append(body.substr(0, n)); !st) return st;
    body.remove_prefix(n);
  }
  return {};
}

std::size_t newlines_in(std::string_view s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }

TEST(BlockWriter, WritesWholeBlocksAndDigestsThemInOrderOnItsThread) {
  const std::string body = lines_of(5 * kBlockSize + 12345);  // many blocks, then a partial one
  RecordingOutput out;
  FileState state;
  ReceiveLoad two_cores(2);  // one file: a core is spare
  {
    BlockWriter writer(out, state, /*hash=*/true, kBlockSize, false, two_cores);
    ASSERT_TRUE(feed(writer, body, 1));
    EXPECT_EQ(state.bytes, body.size());  // counted as soon as taken
    ASSERT_TRUE(writer.flush());
    EXPECT_TRUE(writer.started_thread());
  }
  EXPECT_EQ(out.data, body);
  ASSERT_EQ(out.sizes.size(), 6u);
  for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(out.sizes[i], kBlockSize) << "write " << i;
  EXPECT_EQ(out.sizes[5], 12345u);
  for (const auto& id : out.threads) EXPECT_NE(id, std::this_thread::get_id());  // written there too
  EXPECT_EQ(state.hash.hex_digest(), sha256_hex(body));                          // a block out of order would change it
  EXPECT_EQ(state.newlines, newlines_in(body));
  EXPECT_EQ(state.last, body.back());
}

TEST(ReceiveLoad, ACoreIsSpareWhileFewerHashedFilesThanCoresAreReceived) {
  ReceiveLoad load(2);
  EXPECT_TRUE(load.core_spare());
  {
    const ReceiveLoad::File first(load);
    EXPECT_TRUE(load.core_spare());
    {
      const ReceiveLoad::File second(load);
      EXPECT_FALSE(load.core_spare());
    }
    EXPECT_TRUE(load.core_spare());  // the second file ended
  }
  RecordingOutput out;
  FileState state;
  const BlockWriter hashed(out, state, /*hash=*/true, kBlockSize, false, load);
  const BlockWriter unhashed(out, state, /*hash=*/false, kBlockSize, false, load);  // a stream: not counted
  EXPECT_TRUE(load.core_spare());
  const BlockWriter another(out, state, /*hash=*/true, kBlockSize, false, load);
  EXPECT_FALSE(load.core_spare());
}

TEST(BlockWriter, WithNoCoreSpareTheReceivingThreadWritesAndDigestsItsOwnBlocks) {
  const std::string body = lines_of(5 * kBlockSize + 777);
  RecordingOutput out;
  FileState state;
  ReceiveLoad one_core(1);
  BlockWriter writer(out, state, /*hash=*/true, kBlockSize, false, one_core);
  ASSERT_TRUE(feed(writer, body, 8));
  EXPECT_EQ(state.newlines, newlines_in(std::string_view(body).substr(0, 5 * kBlockSize)));  // up to date already
  ASSERT_TRUE(writer.flush());
  EXPECT_FALSE(writer.started_thread());
  EXPECT_EQ(out.data, body);
  EXPECT_EQ(out.sizes.front(), kBlockSize);  // still whole blocks
  for (const auto& id : out.threads) EXPECT_EQ(id, std::this_thread::get_id());
  EXPECT_EQ(state.hash.hex_digest(), sha256_hex(body));
  EXPECT_EQ(state.last, body.back());
}

TEST(BlockWriter, TheDigestStaysInOrderAsCoresStopAndStartBeingSpare) {
  // Other files start and end while this one is received: blocks go to the
  // digester thread, then are written and digested here (after the thread's),
  // then go to the thread again.
  const std::string body = lines_of(30 * kBlockSize + 99);
  const std::string_view all(body);
  RecordingOutput out;
  FileState state;
  ReceiveLoad two_cores(2);
  BlockWriter writer(out, state, /*hash=*/true, kBlockSize, false, two_cores);
  ASSERT_TRUE(feed(writer, all.substr(0, 10 * kBlockSize + 5), 9));
  EXPECT_TRUE(writer.started_thread());
  {
    const ReceiveLoad::File other(two_cores);
    ASSERT_TRUE(feed(writer, all.substr(10 * kBlockSize + 5, 10 * kBlockSize), 10));
  }
  ASSERT_TRUE(feed(writer, all.substr(20 * kBlockSize + 5), 11));
  ASSERT_TRUE(writer.flush());
  EXPECT_EQ(out.data, body);  // a write out of order would change it
  EXPECT_EQ(state.hash.hex_digest(), sha256_hex(body));
  EXPECT_EQ(state.newlines, newlines_in(body));
  const auto here = std::count(out.threads.begin(), out.threads.end(), std::this_thread::get_id());
  EXPECT_EQ(here, 10);  // the blocks completed while the other file was received
  EXPECT_GT(out.threads.size(), 20u);
}

TEST(BlockWriter, ASmallFileIsOneWriteAtFlush) {
  const std::string body = lines_of(1000);
  RecordingOutput out;
  FileState state;
  BlockWriter writer(out, state, true);
  ASSERT_TRUE(writer.append(body));
  EXPECT_TRUE(out.sizes.empty());  // still gathered
  ASSERT_TRUE(writer.flush());
  EXPECT_EQ(out.sizes, std::vector<std::size_t>{1000});
  EXPECT_EQ(state.hash.hex_digest(), sha256_hex(body));
}

TEST(BlockWriter, FlushBetweenAttemptsKeepsTheDigestWhole) {
  // Each attempt ends with flush(): the digest is exact at that point, and the
  // next attempt's bytes continue it.
  const std::string body = lines_of(3 * kBlockSize + 999);
  const std::size_t cut = kBlockSize + 4321;
  RecordingOutput out;
  FileState state;
  BlockWriter writer(out, state, true);
  ASSERT_TRUE(feed(writer, std::string_view(body).substr(0, cut), 2));
  ASSERT_TRUE(writer.flush());
  EXPECT_EQ(state.newlines, newlines_in(std::string_view(body).substr(0, cut)));
  ASSERT_TRUE(feed(writer, std::string_view(body).substr(cut), 3));
  ASSERT_TRUE(writer.flush());
  EXPECT_EQ(out.data, body);
  EXPECT_EQ(state.hash.hex_digest(), sha256_hex(body));
}

TEST(BlockWriter, WithoutHashItStillCountsLinesAndLastByte) {
  const std::string body = lines_of(2 * kBlockSize + 7);
  RecordingOutput out;
  FileState state;
  BlockWriter writer(out, state, /*hash=*/false);
  ASSERT_TRUE(feed(writer, body, 4));
  ASSERT_TRUE(writer.flush());
  EXPECT_EQ(out.data, body);
  EXPECT_EQ(state.newlines, newlines_in(body));
  EXPECT_EQ(state.last, body.back());
  EXPECT_EQ(state.hash.hex_digest(), sha256_hex(""));  // nothing hashed
}

TEST(BlockWriter, WithoutHashBigPiecesAreWrittenAsTheyComeAndSmallOnesGathered) {
  // A stream: a big piece goes straight out (no copy into a block); small
  // ones are gathered, and a big piece after them first fills that block, so
  // the bytes stay in order.
  const std::string body = lines_of(3 * kDirectWriteMin + 3000);
  const std::string_view all(body);
  RecordingOutput out;
  FileState state;
  BlockWriter writer(out, state, /*hash=*/false, kBlockSize);
  ASSERT_TRUE(writer.append(all.substr(0, kDirectWriteMin)));                           // big: written at once
  ASSERT_TRUE(writer.append(all.substr(kDirectWriteMin, 1000)));                        // small: gathered
  ASSERT_TRUE(writer.append(all.substr(kDirectWriteMin + 1000, 2 * kDirectWriteMin)));  // joins the block
  ASSERT_TRUE(writer.append(all.substr(3 * kDirectWriteMin + 1000)));
  EXPECT_EQ(out.sizes, std::vector<std::size_t>{kDirectWriteMin});
  ASSERT_TRUE(writer.flush());
  EXPECT_EQ(out.sizes, (std::vector<std::size_t>{kDirectWriteMin, 2 * kDirectWriteMin + 3000}));
  EXPECT_EQ(out.data, body);
  EXPECT_EQ(state.bytes, body.size());
  EXPECT_EQ(state.newlines, newlines_in(body));
  EXPECT_EQ(state.last, body.back());
}

TEST(BlockWriter, WithHashEvenBigPiecesAreGatheredIntoBlocks) {
  // Hashing happens on the digester thread over pool blocks, so pieces are
  // always copied: a piece's memory is libcurl's and is reused at once.
  const std::string body = lines_of(2 * kBlockSize);
  RecordingOutput out;
  FileState state;
  BlockWriter writer(out, state, /*hash=*/true, kBlockSize);
  ASSERT_TRUE(writer.append(std::string_view(body).substr(0, kDirectWriteMin)));
  EXPECT_TRUE(out.sizes.empty());
  ASSERT_TRUE(writer.append(std::string_view(body).substr(kDirectWriteMin)));
  ASSERT_TRUE(writer.flush());
  EXPECT_EQ(out.sizes, (std::vector<std::size_t>{kBlockSize, kBlockSize}));
  EXPECT_EQ(state.hash.hex_digest(), sha256_hex(body));
}

TEST(BlockWriter, WriteOnThreadWritesWholeBlocksInOrderOffTheReceivingThread) {
  const std::string body = lines_of(7 * kBlockSize + 4321);
  RecordingOutput out;
  FileState state;
  {
    BlockWriter writer(out, state, /*hash=*/false, kBlockSize, /*write_on_thread=*/true);
    ASSERT_TRUE(feed(writer, body, 6));  // pieces up to 64 KiB: copied, never written directly
    ASSERT_TRUE(writer.flush());
    EXPECT_EQ(out.data, body);  // all of it, after flush
    EXPECT_EQ(state.newlines, newlines_in(body));
    EXPECT_EQ(state.last, body.back());
  }
  ASSERT_EQ(out.sizes.size(), 8u);
  for (std::size_t i = 0; i < 7; ++i) EXPECT_EQ(out.sizes[i], kBlockSize) << "write " << i;
  for (const auto& id : out.threads) EXPECT_NE(id, std::this_thread::get_id());
}

TEST(BlockWriter, WriteOnThreadStartsNoThreadForAFileSmallerThanABlock) {
  // Streams of many small files: each is one write at flush, here.
  const std::string body = lines_of(5000);
  RecordingOutput out;
  FileState state;
  BlockWriter writer(out, state, /*hash=*/false, kBlockSize, /*write_on_thread=*/true);
  ASSERT_TRUE(writer.append(body));
  ASSERT_TRUE(writer.flush());
  ASSERT_TRUE(writer.flush());  // nothing more to write
  EXPECT_EQ(out.sizes, std::vector<std::size_t>{5000});
  EXPECT_EQ(out.threads, std::vector<std::thread::id>{std::this_thread::get_id()});
  EXPECT_EQ(state.newlines, newlines_in(body));
}

TEST(BlockWriter, WriteOnThreadReturnsAFailedWriteAndWritesNothingAfterIt) {
  // The reader of a pipe went away during block 2: a later append (or the
  // flush) returns that error, and no block after it reaches the output.
  const std::string body = lines_of(12 * kBlockSize);
  RecordingOutput out;
  out.fail_at_ = 2;
  FileState state;
  BlockWriter writer(out, state, /*hash=*/false, kBlockSize, /*write_on_thread=*/true);
  auto st = feed(writer, body, 7);
  if (st) st = writer.flush();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().kind, ErrorKind::OutputClosed);
  EXPECT_EQ(out.data, body.substr(0, kBlockSize));                     // block 1 only
  EXPECT_EQ(state.newlines, newlines_in(body.substr(0, kBlockSize)));  // what was written, no more
}

TEST(BlockWriter, AFailedWriteIsReturnedAndTheWriterStillStops) {
  const std::string body = lines_of(4 * kBlockSize);
  RecordingOutput out;
  out.fail_at_ = 2;
  FileState state;
  BlockWriter writer(out, state, true);
  auto st = feed(writer, body, 5);  // the digester's failed write comes back with a later block
  if (st) st = writer.flush();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().kind, ErrorKind::OutputClosed);
  EXPECT_EQ(out.data.size(), kBlockSize);  // the first block only
}  // the destructor drains the digester: no thread outlives the blocks

TEST(BlockWriter, ManyTransfersShareTheBudgetWithSmallerBlocks) {
  EXPECT_EQ(block_size_for(1), kBlockSize);
  EXPECT_EQ(block_size_for(2), 128u * 1024);
  EXPECT_EQ(block_size_for(4), 64u * 1024);
  EXPECT_EQ(block_size_for(8), kMinBlockSize);
  EXPECT_EQ(block_size_for(64), kMinBlockSize);  // never below
  // Small blocks still gather and digest in order.
  const std::string body = lines_of(10 * kMinBlockSize + 5);
  RecordingOutput out;
  FileState state;
  BlockWriter writer(out, state, true, kMinBlockSize);
  ASSERT_TRUE(feed(writer, body, 6));
  ASSERT_TRUE(writer.flush());
  EXPECT_EQ(out.sizes.front(), kMinBlockSize);
  EXPECT_EQ(state.hash.hex_digest(), sha256_hex(body));
}

TEST(PartFile, AppendsAcrossWriteBehindWindowsIntact) {
  testing::TempDir dir;
  auto part = PartFile::open(dir.path() / "big.jsonl");
  ASSERT_TRUE(part);
  const std::string block = lines_of(1 << 20);
  std::string expected;
  for (int i = 0; i < 70; ++i) {  // 70 MiB: crosses two kWriteBehind windows
    ASSERT_TRUE(part->append(block));
    expected += block;
  }
  ASSERT_TRUE(part->finish());
  std::string got;
  auto file = std::fopen((dir.path() / "big.jsonl").c_str(), "rb");
  ASSERT_NE(file, nullptr);
  char buffer[1 << 16];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) got.append(buffer, n);
  std::fclose(file);
  EXPECT_EQ(got.size(), expected.size());
  EXPECT_TRUE(got == expected);
}

}  // namespace
}  // namespace mews_export::detail
