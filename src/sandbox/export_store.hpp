// The sandbox's exports: creation, the status state machine (Pending ->
// Processing -> Success/Failed, then Expired), background indexing of the
// files, and the snapshots and file lookups the handlers serve from.
#pragma once

#include <atomic>
#include <cstdint>
#include <expected>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "datagen.hpp"
#include "dataset.hpp"
#include "faults.hpp"
#include "scenario.hpp"
#include "stats.hpp"
#include "stopper.hpp"

namespace mews_sandbox {

enum class Status { Pending, Processing, Success, Failed, Expired };
const char* status_name(Status s);

// A validated exports/add request.
struct ExportRequest {
  std::string entity;
  std::size_t token_index = 0;
  nlohmann::json scope;    // {"EnterpriseIds": [..]|null, "ChainIds": [..]|null}
  nlohmann::json filters;  // echoed as given, or null
  std::vector<std::string> enterprise_ids;
  std::optional<std::pair<std::int64_t, std::int64_t>> updated;  // Filters.UpdatedUtc (Unix s)
  std::optional<std::pair<std::int64_t, std::int64_t>> posting;  // LedgerEntryFilters.Posting (midnights)
};

struct FileView {
  std::uint64_t size = 0;  // as served (SizeInBytes)
  std::uint64_t records = 0;
  std::uint32_t version = 0;  // content version: 0, +1 per mutate fault hit
  std::string etag;           // strong, quoted
};

// A snapshot of one export.
struct ExportView {
  std::string id;
  std::string entity;
  std::size_t token_index = 0;
  Status status = Status::Pending;
  nlohmann::json scope;
  nlohmann::json filters;
  std::int64_t created_unix = 0;
  std::optional<std::int64_t> expires_unix;  // once Success or Expired
  std::uint64_t polls = 0;
  bool indexed = false;
  std::vector<FileView> files;  // filled once indexed
};

// One file to serve: how to generate it (its current content version) and
// how many bytes of it to send, with its validators.
struct FileRef {
  std::string export_id;
  std::string entity;
  std::uint32_t file_index = 0;
  FileSpec spec;  // spec.mutation = the content version
  std::shared_ptr<const FileIndex> index;
  std::uint64_t size = 0;          // as served (drop_final_newline applied)
  std::string etag;                // strong, quoted: a hash of export id, index and version
  std::int64_t last_modified = 0;  // Unix s: completion, or when the version changed
};

// Why a file cannot be served: the HTTP status and message.
struct FileError {
  int status = 404;
  std::string message;
};

class ExportStore {
 public:
  // `dataset`: the record population in dataset mode, else null.
  ExportStore(const Scenario& scenario, const Dataset* dataset, FaultBook& faults, Stats& stats, Stopper& stopper);
  ~ExportStore();  // joins the indexers (stop the Stopper first)
  ExportStore(const ExportStore&) = delete;
  ExportStore& operator=(const ExportStore&) = delete;

  // Creates a Pending export and starts indexing its files; nullopt when an
  // export of the same type is Pending or Processing for the same token.
  std::optional<ExportView> create(const ExportRequest& request);
  // Adds the scenario's seed_exports: `count` exports each, already Success
  // (files indexed now, each distinct content once), with no fault applied.
  void seed(const std::vector<SeedExports>& seeds);
  // The token's exports among `ids` (unknown ids and duplicates skipped), in
  // order; each call counts as one poll of every export returned.
  std::vector<ExportView> poll(const std::vector<std::string>& ids, std::size_t token_index);
  // Every export in creation order, without counting a poll.
  std::vector<ExportView> list();
  // File `index_text` of export `id`; with `require_live` only while the
  // export is Success (Expired: 403).
  std::expected<FileRef, FileError> file(const std::string& id, const std::string& index_text, bool require_live);
  // Gives file `index` of export `id` its next content version (same length,
  // new ETag, Last-Modified later than before); the file as it is now, or
  // nullopt when there is no such file.
  std::optional<FileRef> mutate(const std::string& id, std::uint32_t index);

 private:
  struct State;
  using IndexCache = std::map<std::string, std::shared_ptr<const FileIndex>>;

  Status status_of(State& e, bool observe);
  Status progression(const State& e) const;
  ExportView view_of(State& e, Status status) const;
  FileRef file_of(const State& e, std::size_t i) const;
  bool has_pending(const std::string& entity, std::size_t token_index);
  std::shared_ptr<State> new_state(const ExportRequest& request) const;
  void plan_files(State& e, const ExportRequest& request) const;
  void plan_layout_files(State& e, const ExportRequest& request) const;
  void plan_dataset_files(State& e, const ExportRequest& request) const;
  void apply_creation_faults(State& e);
  void add_seeded(const SeedExports& seed, IndexCache& cache);
  void insert(std::shared_ptr<State> e);
  void start_indexer(std::shared_ptr<State> e);
  void reap_workers();

  const Scenario& sc_;
  const Dataset* dataset_;
  FaultBook& faults_;
  Stats& stats_;
  Stopper& stopper_;

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<State>> by_id_;
  std::vector<std::shared_ptr<State>> order_;
  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<Worker> workers_;
};

}  // namespace mews_sandbox
