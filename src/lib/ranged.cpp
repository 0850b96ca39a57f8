#include "ranged.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <sstream>

namespace mews_export::detail {
namespace {

// The sidecar is rewritten (after fdatasync of the data) every this many
// bytes of progress: a SIGKILL loses at most this much.
constexpr std::uint64_t kSaveEvery = std::uint64_t{64} << 20;
constexpr std::string_view kMagic = "mews-export-ranges 1";

// The next unsigned number of `text` (after spaces); nullopt if none.
std::optional<std::uint64_t> next_number(std::string_view& text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\n')) text.remove_prefix(1);
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end == text.data()) return std::nullopt;
  text.remove_prefix(static_cast<std::size_t>(end - text.data()));
  return value;
}

// The ranges in flight: their progress, the sidecar, the hasher's prefix.
class RangeProgress {
 public:
  RangeProgress(const RangedFile& job, PartFile& part, std::vector<ByteRange> ranges, PrefixHasher& hasher)
      : job_(job), part_(part), ranges_(std::move(ranges)), hasher_(hasher) {}

  const std::vector<ByteRange>& ranges() const { return ranges_; }
  // A new plan (between fetches: no range in flight).
  void replan(std::vector<ByteRange> ranges) {
    std::lock_guard lock(mutex_);
    ranges_ = std::move(ranges);
  }

  // Range `i` now has `done` bytes written.
  void update(std::size_t i, std::uint64_t done) {
    std::uint64_t prefix = 0;
    std::uint64_t total = 0;
    bool save_now = false;
    {
      std::lock_guard lock(mutex_);
      written_ += done - ranges_[i].done;
      ranges_[i].done = done;
      prefix = written_prefix(ranges_);
      total = total_done();
      if (written_ - saved_at_ >= kSaveEvery) {
        saved_at_ = written_;
        save_now = true;
      }
    }
    hasher_.advance(prefix);
    if (job_.on_bytes) job_.on_bytes(total);
    if (save_now) (void)save();
  }

  // Writes the sidecar once what it records is on disk.
  Status save() {
    std::lock_guard lock(mutex_);
    if (const int err = fdatasync_fd(part_.fd()); err != 0) {
      return std::unexpected(io_error("cannot sync", part_.part_path(), err));
    }
    return write_file_atomically(job_.dir, ranges_file_name(job_.name), ranges_text(job_.size, ranges_));
  }

 private:
  std::uint64_t total_done() const {
    std::uint64_t total = 0;
    for (const auto& r : ranges_) total += r.done;
    return total;
  }

  const RangedFile& job_;
  PartFile& part_;
  std::mutex mutex_;
  std::vector<ByteRange> ranges_;
  PrefixHasher& hasher_;
  std::uint64_t written_ = 0;   // progress made by this process
  std::uint64_t saved_at_ = 0;  // written_ when the sidecar was last saved
};

// One range's bytes, written at their offsets in the ".part" file.
class RangeOutput final : public FileOutput {
 public:
  RangeOutput(PartFile& part, RangeProgress& progress, std::size_t i)
      : part_(part), progress_(progress), i_(i), range_(progress.ranges()[i]) {}

  Status write(std::string_view chunk) override {
    if (auto st = part_.write_at(range_.start + range_.done, chunk); !st) return st;
    range_.done += chunk.size();
    progress_.update(i_, range_.done);
    return {};
  }
  // A range cannot take back bytes the hasher may have read.
  bool can_restart() const override { return false; }
  Status restart() override { return fail(ErrorKind::Io, "a range cannot start again"); }
  void discard() override {}

 private:
  PartFile& part_;
  RangeProgress& progress_;
  std::size_t i_;
  ByteRange range_;
};

// The ranges to fetch: the sidecar's when it is usable with what the .part
// holds, else (`fresh`) a new plan over an emptied .part: the probe and the
// rest, or job.ranges ranges when there is no probe.
Result<std::vector<ByteRange>> load_or_plan(const RangedFile& job, PartFile& part, bool& fresh) {
  const auto sidecar = ranges_file_name(job.name);
  if (auto text = job.dir.read_file(sidecar, 1 << 20)) {
    struct stat st {};
    auto ranges = parse_ranges(*text, job.size);
    const bool usable =
        ranges && ::fstat(part.fd(), &st) == 0 && std::all_of(ranges->begin(), ranges->end(), [&](const ByteRange& r) {
          return r.start + r.done <= static_cast<std::uint64_t>(st.st_size);
        });
    if (usable) return std::move(*ranges);
  }
  fresh = true;
  if (auto st = part.truncate(0); !st) return std::unexpected(st.error());
  auto ranges = job.probe_bytes > 0 && job.probe_bytes < job.size
                    ? std::vector<ByteRange>{{.start = 0, .end = job.probe_bytes, .done = 0},
                                             {.start = job.probe_bytes, .end = job.size, .done = 0}}
                    : plan_ranges(job.size, job.ranges);
  if (auto st = write_file_atomically(job.dir, sidecar, ranges_text(job.size, ranges)); !st) {
    return std::unexpected(st.error());
  }
  return ranges;
}

}  // namespace

std::vector<ByteRange> plan_ranges(std::uint64_t size, std::size_t count) {
  count = static_cast<std::size_t>(std::clamp<std::uint64_t>(count, 1, std::max<std::uint64_t>(size, 1)));
  std::vector<ByteRange> ranges;
  const std::uint64_t each = size / count;
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint64_t start = each * i;
    ranges.push_back(ByteRange{.start = start, .end = i + 1 == count ? size : start + each, .done = 0});
  }
  return ranges;
}

std::uint64_t written_prefix(const std::vector<ByteRange>& ranges) {
  std::uint64_t prefix = 0;
  for (const auto& r : ranges) {
    prefix = r.start + r.done;
    if (!r.complete()) break;
  }
  return prefix;
}

std::string ranges_text(std::uint64_t size, const std::vector<ByteRange>& ranges) {
  std::ostringstream out;
  out << kMagic << ' ' << size << ' ' << ranges.size() << '\n';
  for (const auto& r : ranges) out << r.start << ' ' << r.end << ' ' << r.done << '\n';
  return out.str();
}

std::optional<std::vector<ByteRange>> parse_ranges(std::string_view text, std::uint64_t size) {
  if (!text.starts_with(kMagic)) return std::nullopt;
  text.remove_prefix(kMagic.size());
  const auto recorded_size = next_number(text);
  const auto count = next_number(text);
  if (recorded_size != size || !count || *count == 0 || *count > 1024) return std::nullopt;
  std::vector<ByteRange> ranges;
  std::uint64_t expected_start = 0;
  for (std::uint64_t i = 0; i < *count; ++i) {
    const auto start = next_number(text);
    const auto end = next_number(text);
    const auto done = next_number(text);
    if (!start || !end || !done || *start != expected_start || *end <= *start || *end > size || *done > *end - *start) {
      return std::nullopt;
    }
    ranges.push_back(ByteRange{.start = *start, .end = *end, .done = *done});
    expected_start = *end;
  }
  while (!text.empty() && (text.front() == ' ' || text.front() == '\n')) text.remove_prefix(1);
  if (expected_start != size || !text.empty()) return std::nullopt;
  return ranges;
}

std::string ranges_file_name(const std::string& final_name) { return final_name + ".part.ranges"; }

// ------------------------------------------------------------- PrefixHasher

PrefixHasher::PrefixHasher(int fd, std::filesystem::path path, FileState& state, Start start)
    : fd_(fd), path_(std::move(path)), state_(state), held_(start == Start::Held) {}

PrefixHasher::~PrefixHasher() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

// Called with mutex_ held; the new thread waits for it before looking.
void PrefixHasher::start_if_needed() {
  if (held_ || thread_.joinable() || target_ <= hashed_) return;
  buffer_.resize(kReadChunk);
  thread_ = std::thread([this] { loop(); });
}

void PrefixHasher::advance(std::uint64_t prefix) {
  {
    std::lock_guard lock(mutex_);
    if (prefix <= target_) return;
    target_ = prefix;
    start_if_needed();
  }
  changed_.notify_all();
}

void PrefixHasher::release() {
  std::lock_guard lock(mutex_);
  held_ = false;
  start_if_needed();
}

bool PrefixHasher::started() const {
  std::lock_guard lock(mutex_);
  return thread_.joinable();
}

Status PrefixHasher::finish(std::uint64_t size) {
  advance(size);
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return hashed_ >= size || error_.has_value(); });
  if (error_) return std::unexpected(*error_);
  return {};
}

void PrefixHasher::loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [this] { return stop_ || (target_ > hashed_ && !error_); });
    if (stop_) return;
    const std::uint64_t from = hashed_;
    const std::uint64_t to = target_;
    lock.unlock();
    auto st = read_range(fd_, from, to, path_, buffer_, [this](std::string_view chunk) {
      state_.digest(chunk, true);
      return Status{};
    });
    lock.lock();
    if (st) {
      hashed_ = to;
    } else {
      error_ = st.error();
    }
    changed_.notify_all();
  }
}

// --------------------------------------------------------- SpareConnections

std::size_t SpareConnections::take(std::size_t most) {
  std::lock_guard lock(mutex_);
  const std::size_t granted = std::min(most, idle_);
  idle_ -= granted;
  return granted;
}

bool SpareConnections::any_idle() {
  std::lock_guard lock(mutex_);
  return idle_ > 0;
}

void SpareConnections::give_back(std::size_t count) {
  std::lock_guard lock(mutex_);
  idle_ += count;
}

std::optional<Error> fetch_range(const RangeSource& from, const ByteRange& range, FileOutput& out,
                                 bool& ranges_ignored) {
  FileTransfer transfer(from.transport, from.clock, from.urls, from.settings, from.index, from.name, range.length());
  transfer.set_range(range.start);
  FileState own;
  own.bytes = range.done;
  std::optional<Error> error;
  try {
    if (auto st = transfer.run(out, own, {}); !st) error = st.error();
  } catch (const std::exception& e) {  // bad_alloc: an error, not an abort
    error = Error{.kind = ErrorKind::Io, .message = "downloading " + from.name + ": " + e.what()};
  }
  ranges_ignored = transfer.ranges_ignored();
  return error;
}

// --------------------------------------------------------------- the driver

namespace {

// Fetches the incomplete ranges among `which`, `at_once` of them at a time
// (one connection each); every range is tried, so one that fails does not
// keep the others from progressing. The first error, and whether a host
// ignored Range.
Status run_ranges(const RangedFile& job, PartFile& part, RangeProgress& progress, const std::vector<std::size_t>& which,
                  bool& ranges_ignored, std::size_t at_once) {
  TransferSettings settings = job.settings;
  settings.hash = false;  // the PrefixHasher hashes the whole file, in order
  const RangeSource source{.transport = job.transport,
                           .clock = job.clock,
                           .urls = job.urls,
                           .settings = settings,
                           .index = job.index,
                           .name = job.name};
  std::vector<std::size_t> todo;
  for (const std::size_t i : which) {
    if (!progress.ranges()[i].complete()) todo.push_back(i);
  }
  std::vector<std::optional<Error>> errors(todo.size());
  std::vector<char> ignored(todo.size(), 0);
  std::atomic<std::size_t> next{0};
  const auto work = [&] {
    for (std::size_t k = next++; k < todo.size(); k = next++) {
      bool was_ignored = false;
      RangeOutput out(part, progress, todo[k]);
      errors[k] = fetch_range(source, progress.ranges()[todo[k]], out, was_ignored);
      ignored[k] = was_ignored ? 1 : 0;
    }
  };
  {
    std::vector<std::jthread> threads;
    for (std::size_t t = 0; t < std::min(std::max<std::size_t>(at_once, 1), todo.size()); ++t) {
      threads.emplace_back(work);
    }
  }  // the ranges join here
  ranges_ignored = ranges_ignored || std::any_of(ignored.begin(), ignored.end(), [](char c) { return c != 0; });
  for (auto& error : errors) {
    if (error) return std::unexpected(std::move(*error));
  }
  return {};
}

std::vector<std::size_t> all_of(const std::vector<ByteRange>& ranges) {
  std::vector<std::size_t> which(ranges.size());
  for (std::size_t i = 0; i < which.size(); ++i) which[i] = i;
  return which;
}

// A fresh file starts with a probe: its first job.probe_bytes alone, timed.
// Slower than job.split_below (bytes/s) on one connection, the rest is split
// into as many ranges as there are connections to spare, at most job.ranges,
// and true returned. Faster, or with none to spare, false: the rest is better
// fetched in one piece, appended in order and hashed as it comes (splitting a
// fast local link only adds work: seeks, a second read for the hash).
Result<bool> probe_then_plan(const RangedFile& job, PartFile& part, RangeProgress& progress, bool& ranges_ignored,
                             ConnectionLease& borrowed) {
  const auto started = job.clock.now();
  if (auto st = run_ranges(job, part, progress, {0}, ranges_ignored, 1); !st) return std::unexpected(st.error());
  const std::chrono::duration<double> took = job.clock.now() - started;
  const double rate = took.count() > 0 ? static_cast<double>(job.probe_bytes) / took.count() : 1e300;
  if (rate >= job.split_below || job.ranges <= 1) return false;
  const std::size_t extra = borrowed.borrow(job.spare, job.ranges - 1);
  if (extra == 0) return false;
  std::vector<ByteRange> ranges{progress.ranges()[0]};
  for (auto r : plan_ranges(job.size - job.probe_bytes, extra + 1)) {
    ranges.push_back(ByteRange{.start = r.start + job.probe_bytes, .end = r.end + job.probe_bytes, .done = 0});
  }
  progress.replan(std::move(ranges));
  if (auto st = progress.save(); !st) return std::unexpected(st.error());
  return true;
}

// After a probe that did not split: the .part holds the probe's bytes, and
// nothing says it was ever ranged, so the caller goes on in one piece.
Status leave_to_one_piece(const RangedFile& job, PartFile& part) {
  part.set_size(job.probe_bytes);
  return job.dir.remove(ranges_file_name(job.name));
}

}  // namespace

Status fetch_ranges(const RangedFile& job, PartFile& part, FileState& state, OnePiece& one_piece) {
  one_piece = OnePiece::No;
  bool ranges_ignored = false;
  bool fresh = false;
  auto planned = load_or_plan(job, part, fresh);
  if (!planned) return std::unexpected(planned.error());
  state.reset();
  const bool probe = fresh && job.probe_bytes > 0 && job.probe_bytes < job.size;
  // A probe's bytes are digested only if the file is split after it: going on
  // in one piece, the caller digests them as a .part it resumes.
  PrefixHasher hasher(part.fd(), part.part_path(), state, probe ? PrefixHasher::Start::Held : PrefixHasher::Start::Now);
  RangeProgress progress(job, part, std::move(*planned), hasher);
  hasher.advance(written_prefix(progress.ranges()));

  ConnectionLease borrowed;  // given back when the file is done or failed
  Status fetched;
  if (probe) {
    auto split = probe_then_plan(job, part, progress, ranges_ignored, borrowed);
    if (split && !*split) {
      one_piece = OnePiece::OneConnectionIsEnough;
      return leave_to_one_piece(job, part);
    }
    if (split) {
      hasher.release();
    } else {
      fetched = std::unexpected(split.error());
    }
  }
  if (fetched) {
    // Without a probe (a resumed sidecar, or probe_bytes 0) the connections
    // are borrowed here: the ranges run as many at a time as granted, plus
    // the file's own.
    if (!probe) borrowed.borrow(job.spare, job.ranges > 1 ? std::max<std::size_t>(progress.ranges().size(), 1) - 1 : 0);
    fetched = run_ranges(job, part, progress, all_of(progress.ranges()), ranges_ignored, 1 + borrowed.count());
  }
  if (!fetched) {
    if (ranges_ignored) one_piece = OnePiece::HostIgnoresRanges;
    (void)progress.save();  // the next run resumes every range where it stopped
    return fetched;
  }
  if (auto st = hasher.finish(job.size); !st) return st;
  state.bytes = job.size;
  part.set_size(job.size);
  return job.dir.remove(ranges_file_name(job.name));
}

}  // namespace mews_export::detail
