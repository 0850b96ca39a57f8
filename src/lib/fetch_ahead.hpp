// Fetch-ahead for a stream (internal): while the writer streams file e live,
// up to `ahead` fetchers download the next files (e+1 .. e+ahead) into
// unlinked temporary files; the writer then copies each, in order. The window
// bounds the temporary space to `ahead` files and the connections to
// ahead + 1. Within one big file, a RangeSpool does the same for its ranges:
// the first streams live, the others are fetched into one temporary file.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

#include "mews_export/error.hpp"
#include "mews_export/unique_fd.hpp"
#include "ranged.hpp"
#include "transfer.hpp"

namespace mews_export::detail {

// Who takes which file. Files are numbered 0 .. count-1 and emitted in order.
class FetchWindow {
 public:
  FetchWindow(std::size_t count, std::size_t ahead);

  // Fetcher: the next file to fetch ahead of the writer, waiting while it
  // would be more than `ahead` files beyond the one being emitted; nullopt
  // when no file is left or the window was stopped.
  std::optional<std::size_t> claim_ahead();
  // Fetcher: file `index` is fetched, or failed with `error`.
  void finish(std::size_t index, std::optional<Error> error);

  // Writer: true when it takes file `index` (the one it emits next) itself,
  // because no fetcher has claimed it.
  bool claim_for_writer(std::size_t index);
  // Writer: waits until a fetcher finished file `index`; its error, if any.
  std::optional<Error> wait_fetched(std::size_t index);
  // Writer: file `index` is out; the window moves one file on.
  void emitted(std::size_t index);

  // No more claims (an error, or the end): fetchers stop after their file.
  void stop();
  bool stopped() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t count_;
  std::size_t ahead_;
  std::size_t next_ = 0;      // the first file nobody has claimed
  std::size_t emitting_ = 0;  // the file the writer emits now
  bool stop_ = false;
  std::vector<bool> done_;
  std::vector<std::optional<Error>> errors_;
};

// An unlinked temporary file (O_TMPFILE, mode 0600) in `dir`: it vanishes
// with its descriptor, also when the process is killed.
Result<UniqueFd> open_unlinked_temp(const std::filesystem::path& dir);

// A FileOutput on such a file: restartable (truncate), abandoned when `stop`
// is set so that a fetcher does not outlive a failed stream by a whole file.
class TempOutput final : public FileOutput {
 public:
  TempOutput(UniqueFd fd, const FetchWindow& window) : fd_(std::move(fd)), window_(window) {}
  Status write(std::string_view chunk) override;
  bool can_restart() const override { return true; }
  Status restart() override;
  void discard() override { (void)restart(); }

  UniqueFd take() { return std::move(fd_); }

 private:
  UniqueFd fd_;
  const FetchWindow& window_;
  std::uint64_t size_ = 0;
};

// The ranges of one file after its first, fetched at once into one unlinked
// temporary file at their offsets (`fd`: the range's start in the file less
// `base`, the first spooled byte) while the writer streams the first range;
// the writer then copies each range, in order, as its written prefix grows.
class RangeSpool {
 public:
  RangeSpool(UniqueFd fd, std::vector<ByteRange> ranges);

  int fd() const { return fd_.get(); }
  std::size_t count() const { return ranges_.size(); }
  // Range `k`'s bytes in the file ([start, end): the same in the spool,
  // shifted by the first range's start).
  ByteRange range(std::size_t k) const;
  std::uint64_t offset_in_spool(std::uint64_t file_offset) const { return file_offset - base_; }

  // Fetcher of range `k`: appends `chunk` to it. Interrupted once stopped.
  Status write(std::size_t k, std::string_view chunk);
  // Fetcher of range `k`: it ended, complete or with `error`.
  void finish(std::size_t k, std::optional<Error> error);

  // Writer: waits until range `k` holds more than `from` bytes; how many it
  // holds. The fetcher's error once it failed; Interrupted on a cancel.
  Result<std::uint64_t> wait_beyond(std::size_t k, std::uint64_t from);

  // No more writes: fetchers fail at their next one (the stream failed).
  void stop();

 private:
  UniqueFd fd_;
  std::uint64_t base_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<ByteRange> ranges_;
  std::vector<bool> finished_;
  std::vector<std::optional<Error>> errors_;
  bool stop_ = false;
};

// A FileOutput on range `k` of a RangeSpool (a range never starts again).
class SpoolOutput final : public FileOutput {
 public:
  SpoolOutput(RangeSpool& spool, std::size_t k) : spool_(spool), k_(k) {}
  Status write(std::string_view chunk) override { return spool_.write(k_, chunk); }
  bool can_restart() const override { return false; }
  Status restart() override { return fail(ErrorKind::Io, "a range cannot start again"); }
  void discard() override {}

 private:
  RangeSpool& spool_;
  std::size_t k_;
};

}  // namespace mews_export::detail
