// One big file fetched as several Range requests at once (internal): each
// range is a FileTransfer writing at its offsets in the same ".part" file; a
// sidecar "<name>.part.ranges" records how far each range got, so an
// interrupted download refetches only what is missing; a PrefixHasher hashes
// the file in order as its contiguous written prefix grows.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "atomic_file.hpp"
#include "files.hpp"
#include "mews_export/clock.hpp"
#include "mews_export/http.hpp"
#include "transfer.hpp"

namespace mews_export::detail {

// Bytes [start, end) of a file, of which the first `done` are written.
struct ByteRange {
  std::uint64_t start = 0;
  std::uint64_t end = 0;
  std::uint64_t done = 0;

  std::uint64_t length() const { return end - start; }
  bool complete() const { return done == length(); }
  friend bool operator==(const ByteRange&, const ByteRange&) = default;
};

// `count` ranges of nearly equal length covering [0, size), none empty.
std::vector<ByteRange> plan_ranges(std::uint64_t size, std::size_t count);
// The end of the file's contiguous written prefix.
std::uint64_t written_prefix(const std::vector<ByteRange>& ranges);

// The sidecar's text: "mews-export-ranges 1 SIZE COUNT", then "START END
// DONE" per range, one per line.
std::string ranges_text(std::uint64_t size, const std::vector<ByteRange>& ranges);
// The ranges a sidecar records for a file of `size` bytes; nullopt when it is
// malformed, for another size, or its ranges do not cover [0, size) in order.
std::optional<std::vector<ByteRange>> parse_ranges(std::string_view text, std::uint64_t size);
// "part-001.jsonl.part.ranges" for "part-001.jsonl".
std::string ranges_file_name(const std::string& final_name);

// Digests a file's bytes (FileState::digest: hash, newlines, last byte) in
// order, reading them back from `fd` as advance() says they are written. Its
// thread and read buffer exist only once there is something to digest, and
// not while it is held: a probe that ends in one piece never starts them.
class PrefixHasher {
 public:
  enum class Start { Now, Held };
  PrefixHasher(int fd, std::filesystem::path path, FileState& state, Start start = Start::Now);
  PrefixHasher(const PrefixHasher&) = delete;
  PrefixHasher& operator=(const PrefixHasher&) = delete;
  ~PrefixHasher();

  // Bytes [0, prefix) are written.
  void advance(std::uint64_t prefix);
  // A held hasher digests nothing until released.
  void release();
  // Waits until [0, size) is digested; Io when reading back failed.
  Status finish(std::uint64_t size);
  // Whether the thread was ever started (for tests).
  bool started() const;

 private:
  void start_if_needed();  // with mutex_ held
  void loop();

  int fd_;
  std::filesystem::path path_;
  FileState& state_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::uint64_t target_ = 0;
  std::uint64_t hashed_ = 0;
  bool held_ = false;
  bool stop_ = false;
  std::optional<Error> error_;
  std::vector<char> buffer_;  // the loop's, for every read back
  std::thread thread_;
};

// The connections a download may open beyond one per file being fetched: a
// big file's ranges use only what no other file is using, and never wait for
// one, so many files at once are not split on top of each other.
class SpareConnections {
 public:
  explicit SpareConnections(std::size_t idle = 0) : idle_(idle) {}
  // Up to `most` of the idle connections, possibly none.
  std::size_t take(std::size_t most);
  // Whether any connection is idle now (take() may still find none).
  bool any_idle();
  void give_back(std::size_t count);

 private:
  std::mutex mutex_;
  std::size_t idle_;
};

// Connections given back to a SpareConnections when the lease ends: the one
// a worker held, or those a file's ranges borrowed.
class ConnectionLease {
 public:
  ConnectionLease() = default;
  ConnectionLease(SpareConnections& to, std::size_t count) : to_(&to), count_(count) {}
  ConnectionLease(const ConnectionLease&) = delete;
  ConnectionLease& operator=(const ConnectionLease&) = delete;
  ~ConnectionLease() {
    if (to_ != nullptr && count_ > 0) to_->give_back(count_);
  }
  // Borrows up to `most` idle connections of `from` (null: no limit, all
  // `most`); how many.
  std::size_t borrow(SpareConnections* from, std::size_t most) {
    to_ = from;
    count_ = from != nullptr ? from->take(most) : most;
    return count_;
  }
  // The connections borrowed.
  std::size_t count() const { return count_; }

 private:
  SpareConnections* to_ = nullptr;
  std::size_t count_ = 0;
};

// What a transfer of one range needs besides the range.
struct RangeSource {
  HttpTransport& transport;
  Clock& clock;
  UrlSource& urls;
  const TransferSettings& settings;
  std::size_t index = 0;
  std::string name;  // the final name, "part-001.jsonl"
};

// Bytes [range.start + range.done, range.end) of the file into `out` (which
// holds the range's first range.done bytes), as bounded Range requests; the
// error, if any (bad_alloc included), and whether the host ignored Range.
std::optional<Error> fetch_range(const RangeSource& from, const ByteRange& range, FileOutput& out,
                                 bool& ranges_ignored);

// What fetch_ranges() needs to know.
struct RangedFile {
  HttpTransport& transport;
  Clock& clock;
  UrlSource& urls;
  const TransferSettings& settings;
  const Directory& dir;
  std::size_t index = 0;
  std::string name;  // the final name, "part-001.jsonl"
  std::uint64_t size = 0;
  std::size_t ranges = 4;
  // A fresh file's first probe_bytes come alone; the rest is split only when
  // they came slower than split_below bytes/s (0: no probe, always split).
  std::uint64_t probe_bytes = 0;
  double split_below = 0;
  // After a slow probe the rest is split into 1 + what this grants of
  // ranges - 1 more connections (null: always ranges).
  SpareConnections* spare = nullptr;
  std::function<void(std::uint64_t)> on_bytes;  // bytes written so far, all ranges; may be empty
};

// Why fetch_ranges() leaves a file to be fetched in one piece.
enum class OnePiece {
  No,
  // The host answered a range with the whole file (an error is returned):
  // start the file again in one piece.
  HostIgnoresRanges,
  // The probe came fast, or no connection was spare: success, with the
  // .part holding the probe's bytes and no sidecar; append the rest.
  OneConnectionIsEnough,
};

// Fetches file `job.name` into `part` as ranges at once, resuming the ranges
// its sidecar records (a missing or unusable sidecar starts the file again,
// with a probe). On success `state` covers the whole file (bytes, hash,
// lines), part's size is set and the sidecar removed, unless `one_piece`
// says otherwise; on failure the sidecar keeps each range's progress.
Status fetch_ranges(const RangedFile& job, PartFile& part, FileState& state, OnePiece& one_piece);

}  // namespace mews_export::detail
