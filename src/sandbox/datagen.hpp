// Deterministic synthetic JSON Lines data for the ten export entity types.
// A file is a pure function of its FileSpec; records are generated one at a
// time so that multi-GiB files never sit in memory.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mews_sandbox {

// The entity types of exports/add, in the API documentation's order.
inline constexpr std::array<std::string_view, 10> kEntityTypes = {
    "OrderItem",         "Payment",       "Reservation", "Customer", "Company", "Bill", "AvailabilityAdjustment",
    "AvailabilityBlock", "ResourceBlock", "LedgerEntry"};

// True when `name` is exactly one of kEntityTypes (case-sensitive, like the API).
bool is_entity_type(std::string_view name);

// Dataset mode: the file holds records first, first+1, … of the fixed
// population of (token_index, entity); record k is updated at t0 + k*step.
struct DatasetSlice {
  std::size_t token_index = 0;
  std::int64_t t0 = 0;  // Unix s
  std::int64_t step = 1;
  std::uint64_t first = 0;
};

// Everything a file's content depends on.
struct FileSpec {
  std::string entity;
  std::uint64_t seed = 0;
  std::uint32_t file_index = 0;
  // Inclusive UpdatedUtc interval (Unix seconds): records fall inside it.
  std::optional<std::pair<std::int64_t, std::int64_t>> updated;
  // Inclusive posting dates (Unix seconds at midnight), LedgerEntry only.
  std::optional<std::pair<std::int64_t, std::int64_t>> posting;
  // Scope.EnterpriseIds; empty = the sandbox's own enterprises.
  std::vector<std::string> enterprise_ids;
  // Number of records, used when target_bytes is 0.
  std::uint64_t records = 0;
  // When > 0: records are appended while the file is smaller than this.
  std::uint64_t target_bytes = 0;
  // Content version: when > 0 the ASCII letters of every string value are
  // rotated (a -> b for version 1), which keeps every record's length.
  std::uint32_t mutation = 0;
  // bad_json fault: the first record's opening '{' is served as '[', so that
  // line is not JSON (the size is unchanged).
  bool bad_json = false;
  // Dataset mode: which records of the population (`records` of them); their
  // times, ids and content depend on the slice, not on file_index or filters.
  std::optional<DatasetSlice> dataset;
};

// The Id of record `k` of the dataset population of (`token_index`, `entity`):
// a UUID-shaped string that is the same in every export and every run.
std::string dataset_record_id(std::size_t token_index, std::string_view entity, std::uint64_t k);

// Appends record `index` of the file (one JSON object and '\n') to `out`.
void append_record(const FileSpec& spec, std::uint64_t index, std::string& out);
std::string generate_record(const FileSpec& spec, std::uint64_t index);

// The result of walking a file once: its exact size, its record count, the byte
// offset of every `checkpoint_every`-th record, and the content itself when small.
struct FileIndex {
  std::uint64_t size = 0;
  std::uint64_t records = 0;
  std::uint64_t checkpoint_every = 1000;
  std::vector<std::uint64_t> checkpoints;     // checkpoints[i] = offset of record i*checkpoint_every
  std::shared_ptr<const std::string> cached;  // FileReader uses it for content version 0 only
};

inline constexpr std::uint64_t kDefaultCheckpointEvery = 1000;
inline constexpr std::uint64_t kDefaultCacheLimit = 1 << 20;

// Walks the file described by `spec`. Returns nullopt when `cancel` became true.
std::optional<FileIndex> index_file(const FileSpec& spec, const std::atomic<bool>* cancel = nullptr,
                                    std::uint64_t checkpoint_every = kDefaultCheckpointEvery,
                                    std::uint64_t cache_limit = kDefaultCacheLimit);

// Sequential reader of a file from any offset: seeks to the nearest checkpoint
// and regenerates from there. Cheap when reads are consecutive.
class FileReader {
 public:
  FileReader(FileSpec spec, std::shared_ptr<const FileIndex> index);
  // Appends up to `max` bytes starting at `offset` to `out`; returns the count
  // (0 at or beyond the end).
  std::size_t read(std::uint64_t offset, std::size_t max, std::string& out);

 private:
  void seek(std::uint64_t offset);

  FileSpec spec_;
  std::shared_ptr<const FileIndex> index_;
  std::uint64_t record_ = 0;        // index of the record held in buffer_
  std::uint64_t buffer_start_ = 0;  // file offset of buffer_[0]
  std::string buffer_;
  bool positioned_ = false;
};

}  // namespace mews_sandbox
