#include "block_writer.hpp"

#include <sched.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <new>

namespace mews_export::detail {

// --------------------------------------------------------------- ReceiveLoad

ReceiveLoad::ReceiveLoad(unsigned cores) : cores_(std::max(cores, 1u)) {}

namespace {

unsigned usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) return static_cast<unsigned>(CPU_COUNT(&set));
  return std::thread::hardware_concurrency();
}

}  // namespace

ReceiveLoad& ReceiveLoad::process() {
  static ReceiveLoad load(usable_cores());
  return load;
}

// ----------------------------------------------------------------- BlockPool

std::size_t block_size_for(std::size_t transfers) {
  const std::size_t share = kBlockBudget / (kBlockCount * std::max<std::size_t>(transfers, 1));
  std::size_t size = kMinBlockSize;
  while (size * 2 <= std::min(share, kBlockSize)) size *= 2;  // a power of two: whole pages
  return size;
}

BlockPool::~BlockPool() {
  for (char* block : blocks_) {
    if (block != nullptr) ::munmap(block, size_);
  }
}

char* BlockPool::block(std::size_t i) {
  if (blocks_[i] == nullptr) {
    void* mapped = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapped == MAP_FAILED) throw std::bad_alloc();
    blocks_[i] = static_cast<char*>(mapped);
  }
  return blocks_[i];
}

// ------------------------------------------------------------------ Digester

Digester::Digester(FileState& state, bool hash, FileOutput& out)
    : state_(state), hash_(hash), out_(out), thread_([this] { loop(); }) {}

Digester::~Digester() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void Digester::submit(std::string_view data) {
  std::lock_guard lock(mutex_);
  queue_.push_back(data);
  ++in_flight_;
  changed_.notify_all();
}

void Digester::wait_for_free_block() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return in_flight_ < kBlockCount; });
}

void Digester::drain() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return in_flight_ == 0; });
}

Status Digester::write_status() {
  std::lock_guard lock(mutex_);
  if (write_error_) return std::unexpected(*write_error_);
  return {};
}

void Digester::loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stop_, with nothing left
    const std::string_view data = queue_.front();
    queue_.pop_front();
    const bool failed = write_error_.has_value();
    lock.unlock();
    Status written;
    if (!failed) written = out_.write(data);
    if (!failed && written) state_.digest(data, hash_);
    lock.lock();
    if (!written) write_error_ = written.error();
    --in_flight_;
    changed_.notify_all();
  }
}

// --------------------------------------------------------------- BlockWriter

BlockWriter::BlockWriter(FileOutput& out, FileState& state, bool hash, std::size_t block_size, bool write_on_thread,
                         ReceiveLoad& load)
    : out_(out),
      state_(state),
      hash_(hash),
      write_on_thread_(write_on_thread && !hash),
      load_(load),
      pool_(block_size) {
  if (hash_) counted_.emplace(load_);
}

BlockWriter::~BlockWriter() {
  if (digester_) digester_->drain();  // the thread must not outlive the pool's blocks
}

Status BlockWriter::append(std::string_view chunk) {
  state_.bytes += chunk.size();
  if (!hash_ && !write_on_thread_ && filled_ == 0 && chunk.size() >= kDirectWriteMin) return write_direct(chunk);
  while (!chunk.empty()) {
    char* block = pool_.block(current_);
    const std::size_t n = std::min(chunk.size(), pool_.block_size() - filled_);
    std::memcpy(block + filled_, chunk.data(), n);
    filled_ += n;
    chunk.remove_prefix(n);
    if (filled_ == pool_.block_size()) {
      if (auto st = write_block(); !st) return st;
    }
  }
  return {};
}

// Without hashing nothing but a memchr follows the write, so a piece big
// enough to be worth its own write() skips the copy into a block: on a pipe
// that copy is a fifth of the CPU work per byte.
Status BlockWriter::write_direct(std::string_view chunk) {
  if (auto st = out_.write(chunk); !st) return st;
  state_.digest(chunk, false);
  return {};
}

// Whether the next block goes to the digester's thread.
bool BlockWriter::on_thread() const { return write_on_thread_ || (hash_ && load_.core_spare()); }

// Hands the current block to the digester (which writes and digests it) or
// writes and digests it here; then moves to the next block. Returns the first
// failed write.
Status BlockWriter::write_block() { return on_thread() ? hand_over_block() : write_here(); }

// Writes and digests the current block on this thread, after the blocks the
// digester still holds (so both stay in order).
Status BlockWriter::write_here() {
  const std::string_view data(pool_.block(current_), filled_);
  filled_ = 0;
  if (digester_) {
    digester_->drain();
    if (auto st = digester_->write_status(); !st) return st;
  }
  if (data.empty()) return {};
  if (auto st = out_.write(data); !st) return st;
  state_.digest(data, hash_);  // without hash, memchr alone keeps up with any stream
  return {};
}

// The current block goes to the digester, which writes and digests it; an
// earlier block's failed write is returned.
Status BlockWriter::hand_over_block() {
  const std::string_view data(pool_.block(current_), filled_);
  filled_ = 0;
  if (!digester_) digester_ = std::make_unique<Digester>(state_, hash_, out_);
  if (auto st = digester_->write_status(); !st) return st;
  if (data.empty()) return {};
  digester_->submit(data);
  current_ = (current_ + 1) % kBlockCount;
  digester_->wait_for_free_block();
  return digester_->write_status();
}

Status BlockWriter::flush() {
  if (digester_) {
    auto st = write_block();
    digester_->drain();
    return st ? digester_->write_status() : st;
  }
  // No thread was started (a small file, or one not yet a block long, or no
  // core spare): the partial block is written and digested here.
  return write_here();
}

}  // namespace mews_export::detail
