#include "export_json.hpp"

#include "utc.hpp"

namespace mews_sandbox {
namespace {

using json = nlohmann::json;

json files_json(const ExportView& view, const ExportJsonOptions& o) {
  json files = json::array();
  if (view.status != Status::Success) return files;
  for (std::size_t i = 0; i < view.files.size(); ++i) {
    std::string path = "/files/" + view.id + "/" + std::to_string(i);
    // With files_base_url the query is still signed for the sandbox's own path,
    // so the same query also works on /files/<id>/<index> here.
    std::string url = o.files_base_url.empty() ? o.signer.url(o.host, path, o.url_expires)
                                               : o.files_base_url + "/" + view.id + "/" + std::to_string(i) +
                                                     o.signer.query(path, o.url_expires);
    json file{{"Url", std::move(url)}, {"SizeInBytes", view.files[i].size}};
    if (o.unknown_fields) {
      file["Checksum"] = "x";
      file["FutureFileField"] = json{{"Compression", "none"}, {"Parts", json::array({1, 2})}};
    }
    files.push_back(std::move(file));
  }
  return files;
}

}  // namespace

json export_json(const ExportView& view, const ExportJsonOptions& options) {
  json expires = view.expires_unix ? json(format_utc(*view.expires_unix)) : json(nullptr);
  json out{{"Id", view.id},          {"Status", status_name(view.status)}, {"EntityType", view.entity},
           {"Scope", view.scope},    {"Files", files_json(view, options)}, {"ExpiresUtc", expires},
           {"Filters", view.filters}};
  if (options.unknown_fields) {
    out["FutureField"] = json{{"Nested", json{{"A", json::array({1, "two", nullptr})}}}, {"Flag", true}};
    out["CreatedUtc"] = format_utc(view.created_unix);
    out["Progress"] = 0.5;
  }
  return out;
}

json response_json(json object, bool unknown_fields) {
  if (unknown_fields) object["FutureTopLevel"] = json{{"Version", 2}, {"Hint", "ignore me"}};
  return object;
}

}  // namespace mews_sandbox
