#include "introspection.hpp"

#include <algorithm>
#include <optional>

#include <nlohmann/json.hpp>

#include "file_body.hpp"
#include "responses.hpp"
#include "utc.hpp"
#include "util.hpp"

namespace mews_sandbox {
namespace {

using json = nlohmann::json;

json export_entry(const ExportView& v) {
  json files = json::array();
  for (const auto& f : v.files)
    files.push_back(
        json{{"SizeInBytes", f.size}, {"Records", f.records}, {"ContentVersion", f.version}, {"ETag", f.etag}});
  return json{{"Id", v.id},
              {"EntityType", v.entity},
              {"Status", status_name(v.status)},
              {"TokenIndex", v.token_index},
              {"Polls", v.polls},
              {"CreatedUtc", format_utc(v.created_unix)},
              {"Indexed", v.indexed},
              {"Files", files}};
}

constexpr std::uint64_t kMaxDatasetRecords = 1'000'000;

// The query parameter `name` as a UTC time, `fallback` when absent; nullopt when malformed.
std::optional<std::int64_t> time_param(const httplib::Request& req, const char* name, std::int64_t fallback) {
  if (!req.has_param(name)) return fallback;
  return parse_utc(req.get_param_value(name));
}

// One dataset record as listed by /_sandbox/dataset.
json dataset_entry(const Dataset& d, const std::string& entity, std::size_t token_index, std::uint64_t k) {
  json entry{{"Id", dataset_record_id(token_index, entity, k)}, {"UpdatedUtc", format_utc(d.time_of(k))}};
  if (entity == "LedgerEntry") entry["PostingDate"] = format_date(d.time_of(k));
  return entry;
}

}  // namespace

Introspection::Introspection(const Scenario& scenario, const Dataset* dataset, ExportStore& store, Stats& stats,
                             Stopper& stopper)
    : sc_(scenario), dataset_(dataset), store_(store), stats_(stats), stopper_(stopper) {}

void Introspection::route(httplib::Server& http) {
  http.Get("/_sandbox/stats", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(stats_.to_json().dump(2), "application/json");
  });
  http.Post("/_sandbox/reset-stats", [this](const httplib::Request&, httplib::Response& res) {
    stats_.reset();
    res.set_content("{}", "application/json");
  });
  http.Get("/_sandbox/exports", [this](const httplib::Request&, httplib::Response& res) { exports(res); });
  http.Get(R"(/_sandbox/files/([0-9a-fA-F-]+)/([0-9]+))",
           [this](const httplib::Request& req, httplib::Response& res) { file(req, res); });
  http.Get("/_sandbox/dataset", [this](const httplib::Request& req, httplib::Response& res) { dataset(req, res); });
}

void Introspection::exports(httplib::Response& res) {
  json list = json::array();
  for (const auto& view : store_.list()) list.push_back(export_entry(view));
  res.set_content(list.dump(2), "application/json");
}

// The file as signed URLs serve it (drop_final_newline applied), unsigned and
// never faulted; 404 while not indexed.
void Introspection::file(const httplib::Request& req, httplib::Response& res) {
  const_cast<httplib::Request&>(req).ranges.clear();
  auto file = store_.file(req.matches[1], req.matches[2], false);
  if (!file) return send_error(res, file.error().status, file.error().message);
  res.status = 200;
  send_file_body(res, *file, 0, file->size, BodyShape{}, stopper_);
}

// The records of the dataset population of (entity, token_index) whose time
// lies in [from, to] (default: all of them up to now).
void Introspection::dataset(const httplib::Request& req, httplib::Response& res) {
  if (!dataset_) return send_error(res, 404, "Dataset mode is off (scenario key \"dataset\").");
  const std::string entity = req.get_param_value("entity");
  if (!is_entity_type(entity)) return send_error(res, 400, "entity must be an entity type.");
  auto token_index =
      req.has_param("token_index") ? to_u64(req.get_param_value("token_index")) : std::optional<std::uint64_t>(0);
  if (!token_index || *token_index >= sc_.access_tokens.size())
    return send_error(res, 400, "token_index must name an access token.");
  const std::int64_t now = now_unix();
  auto from = time_param(req, "from", dataset_->t0());
  auto to = time_param(req, "to", now);
  if (!from || !to) return send_error(res, 400, "from and to must be YYYY-MM-DDThh:mm:ssZ.");
  json list = json::array();
  if (auto range = dataset_->between(*from, std::min(*to, now))) {
    if (range->count() > kMaxDatasetRecords)
      return send_error(res, 400, "More than 1000000 records; narrow the window.");
    for (std::uint64_t k = range->first; k <= range->last; ++k)
      list.push_back(dataset_entry(*dataset_, entity, static_cast<std::size_t>(*token_index), k));
  }
  res.set_content(list.dump(), "application/json");
}

}  // namespace mews_sandbox
