#include "export_store.hpp"

#include <algorithm>
#include <chrono>
#include <limits>
#include <unordered_set>

#include <openssl/evp.h>

#include "util.hpp"

namespace mews_sandbox {

using SteadyTime = std::chrono::steady_clock::time_point;

struct ExportStore::State {
  std::string id;
  std::string entity;
  std::size_t token_index = 0;
  nlohmann::json scope;
  nlohmann::json filters;
  SteadyTime created_steady;
  std::int64_t created_unix = 0;
  std::uint64_t polls = 0;
  bool failed = false;
  bool seeded = false;  // seed_exports: Success from the start
  std::vector<FileSpec> specs;
  std::vector<bool> drop_final_newline;
  std::vector<std::uint32_t> versions;                    // content version per file (mutate)
  std::vector<std::int64_t> modified;                     // Unix s of each file's latest version change
  std::vector<std::shared_ptr<const FileIndex>> indexes;  // filled by the indexer
  bool indexed = false;
  std::optional<std::int64_t> completed_unix;

  std::uint64_t served_size(std::size_t i) const {
    std::uint64_t size = indexes[i]->size;
    return drop_final_newline[i] && size > 0 ? size - 1 : size;
  }
  // Version 0 dates from completion (creation while not yet complete).
  std::int64_t last_modified(std::size_t i) const {
    return versions[i] > 0 ? modified[i] : completed_unix.value_or(created_unix);
  }
};

namespace {

// A strong ETag: 32 hex digits of SHA-256 over export id, file index and version.
std::string etag_of(const std::string& id, std::size_t index, std::uint32_t version) {
  const std::string data = id + "/" + std::to_string(index) + "/" + std::to_string(version);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  return "\"" + hex(digest, 16) + "\"";
}

// The times an export of `request` created at `created` covers (inclusive).
std::pair<std::int64_t, std::int64_t> window_of(const ExportRequest& request, std::int64_t created) {
  std::int64_t from = std::numeric_limits<std::int64_t>::min(), to = created;
  if (request.updated) {
    from = std::max(from, request.updated->first);
    to = std::min(to, request.updated->second);
  }
  if (request.posting) {  // whole days
    from = std::max(from, request.posting->first);
    to = std::min(to, request.posting->second + 86399);
  }
  return {from, to};
}

// Everything a file's content depends on, as a map key.
std::string content_key(const FileSpec& s) {
  std::string key = s.entity + "|" + std::to_string(s.seed) + "|" + std::to_string(s.file_index) + "|" +
                    std::to_string(s.records) + "|" + std::to_string(s.target_bytes);
  if (s.updated) key += "|u" + std::to_string(s.updated->first) + "-" + std::to_string(s.updated->second);
  if (s.posting) key += "|p" + std::to_string(s.posting->first) + "-" + std::to_string(s.posting->second);
  if (s.bad_json) key += "|bad_json";
  for (const auto& id : s.enterprise_ids) key += "|e" + id;
  if (s.dataset)
    key += "|d" + std::to_string(s.dataset->token_index) + ":" + std::to_string(s.dataset->t0) + ":" +
           std::to_string(s.dataset->step) + ":" + std::to_string(s.dataset->first);
  return key;
}

}  // namespace

const char* status_name(Status s) {
  switch (s) {
    case Status::Pending: return "Pending";
    case Status::Processing: return "Processing";
    case Status::Success: return "Success";
    case Status::Failed: return "Failed";
    case Status::Expired: return "Expired";
  }
  return "Pending";
}

ExportStore::ExportStore(const Scenario& scenario, const Dataset* dataset, FaultBook& faults, Stats& stats,
                         Stopper& stopper)
    : sc_(scenario), dataset_(dataset), faults_(faults), stats_(stats), stopper_(stopper) {}

ExportStore::~ExportStore() {
  std::vector<Worker> all;
  {
    std::lock_guard lock(mu_);
    all.swap(workers_);
  }
  for (auto& w : all)
    if (w.thread.joinable()) w.thread.join();
}

// Pending/Processing by polls or seconds; Success (or the final status) once
// the progression is through. Does not look at indexing or expiry.
Status ExportStore::progression(const State& e) const {
  if (sc_.by_seconds) {
    double age = std::chrono::duration<double>(std::chrono::steady_clock::now() - e.created_steady).count();
    if (age < sc_.pending_seconds) return Status::Pending;
    if (age < sc_.pending_seconds + sc_.processing_seconds) return Status::Processing;
    return Status::Success;
  }
  if (e.polls < sc_.pending_polls) return Status::Pending;
  if (e.polls < sc_.pending_polls + sc_.processing_polls) return Status::Processing;
  return Status::Success;
}

// Status of `e` now; `observe` counts this as a poll. Call with mu_ held.
Status ExportStore::status_of(State& e, bool observe) {
  Status base = e.seeded ? Status::Success : progression(e);
  if (observe) ++e.polls;
  if (base != Status::Success) return base;
  if (e.failed) return Status::Failed;
  if (!e.indexed) return Status::Processing;
  std::int64_t now = now_unix();
  if (!e.completed_unix) e.completed_unix = now;
  if (now >= *e.completed_unix + sc_.expires_after_seconds) return Status::Expired;
  return Status::Success;
}

ExportView ExportStore::view_of(State& e, Status status) const {
  ExportView v{.id = e.id,
               .entity = e.entity,
               .token_index = e.token_index,
               .status = status,
               .scope = e.scope,
               .filters = e.filters,
               .created_unix = e.created_unix,
               .polls = e.polls,
               .indexed = e.indexed};
  if (e.completed_unix && (status == Status::Success || status == Status::Expired))
    v.expires_unix = *e.completed_unix + sc_.expires_after_seconds;
  if (e.indexed)
    for (std::size_t i = 0; i < e.specs.size(); ++i)
      v.files.push_back({e.served_size(i), e.indexes[i]->records, e.versions[i], etag_of(e.id, i, e.versions[i])});
  return v;
}

FileRef ExportStore::file_of(const State& e, std::size_t i) const {
  FileRef ref{.export_id = e.id,
              .entity = e.entity,
              .file_index = static_cast<std::uint32_t>(i),
              .spec = e.specs[i],
              .index = e.indexes[i],
              .size = e.served_size(i),
              .etag = etag_of(e.id, i, e.versions[i]),
              .last_modified = e.last_modified(i)};
  ref.spec.mutation = e.versions[i];
  return ref;
}

bool ExportStore::has_pending(const std::string& entity, std::size_t token_index) {
  for (auto& other : order_) {
    if (other->entity != entity || other->token_index != token_index) continue;
    Status s = status_of(*other, false);
    if (s == Status::Pending || s == Status::Processing) return true;
  }
  return false;
}

// The file specs of a new export: from its entity's layout, or in dataset
// mode from the records it covers.
void ExportStore::plan_files(State& e, const ExportRequest& request) const {
  if (dataset_)
    plan_dataset_files(e, request);
  else
    plan_layout_files(e, request);
  e.drop_final_newline.assign(e.specs.size(), false);
  e.versions.assign(e.specs.size(), 0);
  e.modified.assign(e.specs.size(), 0);
}

void ExportStore::plan_layout_files(State& e, const ExportRequest& request) const {
  const FileLayout& layout = sc_.layout_for(e.entity);
  for (std::uint32_t i = 0; i < layout.files; ++i) {
    FileSpec spec{.entity = e.entity,
                  .seed = sc_.seed,
                  .file_index = i,
                  .updated = request.updated,
                  .posting = request.posting,
                  .enterprise_ids = request.enterprise_ids,
                  .records = layout.records_per_file,
                  .target_bytes = layout.bytes_per_file};
    e.specs.push_back(std::move(spec));
  }
}

// The records of `e`: inside Filters.UpdatedUtc and the posting days, and not
// after its creation; split in files of at most records_per_file (0: one file).
void ExportStore::plan_dataset_files(State& e, const ExportRequest& request) const {
  const auto [from, to] = window_of(request, e.created_unix);
  auto range = dataset_->between(from, to);
  if (!range) return;
  const std::uint64_t per_file = sc_.layout_for(e.entity).records_per_file;
  const std::uint64_t size = per_file == 0 ? range->count() : per_file;
  for (std::uint64_t done = 0; done < range->count(); done += size) {
    FileSpec spec{.entity = e.entity,
                  .seed = sc_.seed,
                  .file_index = static_cast<std::uint32_t>(e.specs.size()),
                  .enterprise_ids = request.enterprise_ids,
                  .records = std::min(size, range->count() - done),
                  .dataset = DatasetSlice{e.token_index, dataset_->t0(), dataset_->step(), range->first + done}};
    e.specs.push_back(std::move(spec));
  }
}

// drop_final_newline and bad_json faults, counted per export created.
void ExportStore::apply_creation_faults(State& e) {
  if (auto f = faults_.hit(FaultTarget::File, FaultPhase::Creation, e.entity, std::nullopt))
    for (std::uint32_t k = 0; k < e.specs.size(); ++k) {
      if (f->file_index && *f->file_index != k) continue;
      if (f->action == FaultAction::BadJson) {
        e.specs[k].bad_json = true;
      } else {
        e.drop_final_newline[k] = true;
      }
    }
}

std::shared_ptr<ExportStore::State> ExportStore::new_state(const ExportRequest& request) const {
  auto e = std::make_shared<State>();
  e->id = random_uuid();
  e->entity = request.entity;
  e->token_index = request.token_index;
  e->scope = request.scope;
  e->filters = request.filters;
  e->created_steady = std::chrono::steady_clock::now();
  e->created_unix = now_unix();
  return e;
}

void ExportStore::insert(std::shared_ptr<State> e) {
  by_id_[e->id] = e;
  order_.push_back(std::move(e));
}

std::optional<ExportView> ExportStore::create(const ExportRequest& request) {
  std::lock_guard lock(mu_);
  if (has_pending(request.entity, request.token_index)) return std::nullopt;
  auto e = new_state(request);
  e->failed = sc_.fails(request.entity);
  if (!e->failed) {
    plan_files(*e, request);
    apply_creation_faults(*e);
    reap_workers();
    start_indexer(e);
  }
  insert(e);
  stats_.update([&](StatsData& s) { s.adds_created[request.entity]++; });
  return view_of(*e, Status::Pending);
}

void ExportStore::seed(const std::vector<SeedExports>& seeds) {
  IndexCache cache;
  std::lock_guard lock(mu_);
  for (const auto& seed : seeds)
    for (std::uint64_t n = 0; n < seed.count; ++n) add_seeded(seed, cache);
}

// One export that is Success from the start: its files are indexed here and
// now, once per distinct content (seeded exports of a type are all alike).
void ExportStore::add_seeded(const SeedExports& seed, IndexCache& cache) {
  const ExportRequest request{.entity = seed.entity,
                              .token_index = seed.token_index,
                              .scope = {{"EnterpriseIds", nullptr}, {"ChainIds", nullptr}},
                              .filters = nullptr};
  auto e = new_state(request);
  plan_files(*e, request);
  e->seeded = true;
  e->completed_unix = e->created_unix;
  for (const auto& spec : e->specs) {
    auto& index = cache[content_key(spec)];
    if (!index)
      index = std::make_shared<const FileIndex>(
          index_file(spec, stopper_.flag(), sc_.checkpoint_every, sc_.cache_limit_bytes).value_or(FileIndex{}));
    e->indexes.push_back(index);
  }
  e->indexed = true;
  insert(std::move(e));
}

std::vector<ExportView> ExportStore::poll(const std::vector<std::string>& ids, std::size_t token_index) {
  std::lock_guard lock(mu_);
  std::vector<ExportView> out;
  std::unordered_set<std::string> seen;
  for (const auto& given : ids) {
    // Ids are GUIDs, which the API compares without regard to case; ours are lower case.
    std::string id = given;
    std::transform(id.begin(), id.end(), id.begin(), [](unsigned char c) { return std::tolower(c); });
    if (!seen.insert(id).second) continue;
    auto it = by_id_.find(id);
    if (it == by_id_.end() || it->second->token_index != token_index) continue;
    State& e = *it->second;
    out.push_back(view_of(e, status_of(e, true)));
  }
  return out;
}

std::vector<ExportView> ExportStore::list() {
  std::lock_guard lock(mu_);
  std::vector<ExportView> out;
  for (auto& e : order_) out.push_back(view_of(*e, status_of(*e, false)));
  return out;
}

std::expected<FileRef, FileError> ExportStore::file(const std::string& id, const std::string& index_text,
                                                    bool require_live) {
  auto index = to_u64(index_text);
  std::lock_guard lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end() || !index) return std::unexpected(FileError{404, "No such export file."});
  State& e = *it->second;
  if (!e.indexed || *index >= e.specs.size()) return std::unexpected(FileError{404, "No such export file."});
  if (require_live) {
    Status s = status_of(e, false);
    if (s == Status::Expired) return std::unexpected(FileError{403, "The export has expired."});
    if (s != Status::Success) return std::unexpected(FileError{404, "The export is not ready."});
  }
  return file_of(e, static_cast<std::size_t>(*index));
}

std::optional<FileRef> ExportStore::mutate(const std::string& id, std::uint32_t index) {
  std::lock_guard lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end() || !it->second->indexed || index >= it->second->specs.size()) return std::nullopt;
  State& e = *it->second;
  e.modified[index] = std::max(now_unix(), e.last_modified(index) + 1);  // a date validator must change too
  e.versions[index]++;
  return file_of(e, index);
}

void ExportStore::reap_workers() {  // with mu_ held
  for (auto it = workers_.begin(); it != workers_.end();) {
    if (it->done->load()) {
      it->thread.join();
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
}

// Walks every file of `e` once on a thread of its own (exact sizes and
// checkpoints); the export is Success only after that. With mu_ held.
void ExportStore::start_indexer(std::shared_ptr<State> e) {
  auto done = std::make_shared<std::atomic<bool>>(false);
  std::thread t([this, e, done, specs = e->specs] {
    std::vector<std::shared_ptr<const FileIndex>> indexes;
    for (const auto& spec : specs) {
      auto index = index_file(spec, stopper_.flag(), sc_.checkpoint_every, sc_.cache_limit_bytes);
      if (!index) {
        *done = true;
        return;
      }
      indexes.push_back(std::make_shared<const FileIndex>(std::move(*index)));
    }
    {
      std::lock_guard lock(mu_);
      e->indexes = std::move(indexes);
      e->indexed = true;
    }
    *done = true;
  });
  workers_.push_back(Worker{std::move(t), done});
}

}  // namespace mews_sandbox
