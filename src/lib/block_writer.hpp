// The receive path of one file (internal): libcurl's pieces (at most its
// receive buffer each) are gathered into blocks of kBlockSize from a small
// fixed pool; each full block is written with one write() and digested
// (SHA-256, newlines, last byte), in order, on a thread of its own while the
// next block fills, as long as a core is spare (ReceiveLoad); with as many
// files in flight as cores, each receiving thread writes and digests its own
// blocks. Memory is the pool, whatever the file's size. A stream that is not
// hashed writes pieces of kDirectWriteMin or more as they come.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>

#include "mews_export/error.hpp"
#include "transfer.hpp"

namespace mews_export::detail {

// 64-256 KiB blocks cut write() calls 3-4x against libcurl's 16-64 KiB
// pieces; larger ones were slower again (cache). One file alone gets 256 KiB
// (its digester thread writes and hashes: 5-10 % faster than 128 KiB); more
// files share kBlockBudget.
inline constexpr std::size_t kBlockSize = 256 * 1024;
inline constexpr std::size_t kMinBlockSize = 32 * 1024;
// What the blocks of all concurrent transfers may take together.
inline constexpr std::size_t kBlockBudget = 768 * 1024;
// Unhashed pieces at least this big are written as they come, not copied.
inline constexpr std::size_t kDirectWriteMin = 32 * 1024;
// One block fills while one is written or digested, one spare for jitter.
inline constexpr std::size_t kBlockCount = 3;

// The block size when `transfers` run at once: kBlockSize, smaller when many
// share kBlockBudget, never below kMinBlockSize.
std::size_t block_size_for(std::size_t transfers);

// How many hashed files this process receives at once, against the cores it
// may run on. A digester thread per file pays only while a core is spare: with
// as many files in flight as cores, every core is already busy receiving, and
// a hand-off costs two thread wake-ups per block (4 files on 2 cores: 7-10 %
// faster hashing on the receiving threads, docs/performance.md).
class ReceiveLoad {
 public:
  explicit ReceiveLoad(unsigned cores);
  ReceiveLoad(const ReceiveLoad&) = delete;
  ReceiveLoad& operator=(const ReceiveLoad&) = delete;
  // This process's: the cores of its CPU affinity mask.
  static ReceiveLoad& process();

  // One file being received, for as long as it lives.
  class File {
   public:
    explicit File(ReceiveLoad& load) : load_(load) { load_.files_.fetch_add(1, std::memory_order_relaxed); }
    File(const File&) = delete;
    File& operator=(const File&) = delete;
    ~File() { load_.files_.fetch_sub(1, std::memory_order_relaxed); }

   private:
    ReceiveLoad& load_;
  };

  // Fewer files in flight than cores: a digester thread would have a core.
  bool core_spare() const { return files_.load(std::memory_order_relaxed) < cores_; }

 private:
  unsigned cores_;
  std::atomic<unsigned> files_{0};
};

// A fixed set of page-aligned blocks, mapped on first use and unmapped at the
// end (not from malloc's per-thread arenas, which keep freed memory).
class BlockPool {
 public:
  explicit BlockPool(std::size_t block_size) : size_(block_size) {}
  std::size_t block_size() const { return size_; }
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;
  ~BlockPool();

  // Block `i` (< kBlockCount), mapped when first asked for. Throws
  // std::bad_alloc when the memory cannot be had.
  char* block(std::size_t i);

 private:
  std::size_t size_;
  char* blocks_[kBlockCount] = {};
};

// Writes blocks to `out` and digests them, in the order they are submitted,
// on its own thread. submit() waits while every block is in flight, so at
// most kBlockCount are.
class Digester {
 public:
  Digester(FileState& state, bool hash, FileOutput& out);
  Digester(const Digester&) = delete;
  Digester& operator=(const Digester&) = delete;
  ~Digester();

  // Queues `data` (a pool block) for digesting; the caller must not change it
  // until it is digested, which wait_for_free_block() or drain() tell.
  void submit(std::string_view data);
  // Waits until fewer than kBlockCount blocks are in flight: the next block of
  // the ring is free again.
  void wait_for_free_block();
  // Waits until every submitted block is digested.
  void drain();
  // The first failed write to `out`; blocks after it are neither written nor
  // digested.
  Status write_status();

 private:
  void loop();

  FileState& state_;
  bool hash_;
  FileOutput& out_;
  std::optional<Error> write_error_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::string_view> queue_;
  std::size_t in_flight_ = 0;  // submitted, not yet digested
  bool stop_ = false;
  std::thread thread_;
};

// Gathers the accepted bytes of one file into blocks for `out`. state.bytes
// counts a byte as soon as append() takes it; hash, newlines and last byte
// follow as blocks are digested, and are complete after flush().
class BlockWriter {
 public:
  // `hash`: compute the SHA-256 (a stream nobody verifies can skip it); its
  // blocks are written and digested on a thread of its own while `load` has
  // a core spare, decided again at every block (receiving, writing and
  // hashing each cost about as much CPU per byte).
  // `write_on_thread` (unhashed): blocks are written on that thread too, so
  // that receiving and writing overlap (a pipe's writes cost as much CPU as
  // the socket's reads); otherwise memchr alone follows the write.
  BlockWriter(FileOutput& out, FileState& state, bool hash, std::size_t block_size = kBlockSize,
              bool write_on_thread = false, ReceiveLoad& load = ReceiveLoad::process());
  BlockWriter(const BlockWriter&) = delete;
  BlockWriter& operator=(const BlockWriter&) = delete;
  ~BlockWriter();

  // Takes the next bytes of the file. Io (or OutputClosed) when writing a
  // block failed (on the digester's thread: with a later block, or at flush).
  Status append(std::string_view chunk);
  // Writes the partial block and waits until every block is digested: after
  // it, state is exact and the output holds state.bytes bytes (unless an
  // error is returned).
  Status flush();
  // Whether a digester thread was started (for tests).
  bool started_thread() const { return digester_ != nullptr; }

 private:
  Status write_block();
  Status write_here();
  bool on_thread() const;
  Status hand_over_block();
  Status write_direct(std::string_view chunk);

  FileOutput& out_;
  FileState& state_;
  bool hash_;
  bool write_on_thread_;
  ReceiveLoad& load_;
  std::optional<ReceiveLoad::File> counted_;  // hashed files only
  BlockPool pool_;
  std::unique_ptr<Digester> digester_;  // started with the first full block
  std::size_t current_ = 0;             // the block being filled
  std::size_t filled_ = 0;              // its bytes
};

}  // namespace mews_export::detail
