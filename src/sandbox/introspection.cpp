#include "introspection.hpp"

#include <nlohmann/json.hpp>

#include "file_body.hpp"
#include "responses.hpp"
#include "utc.hpp"

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

}  // namespace

Introspection::Introspection(ExportStore& store, Stats& stats, Stopper& stopper)
    : store_(store), stats_(stats), stopper_(stopper) {}

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

}  // namespace mews_sandbox
