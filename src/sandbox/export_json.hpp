// The API's JSON shapes: an Export object (with freshly signed file URLs) and
// the add/getAll response objects, with the scenario's unknown fields.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "export_store.hpp"
#include "signer.hpp"

namespace mews_sandbox {

struct ExportJsonOptions {
  const UrlSigner& signer;
  std::string host;          // the Host the client addressed: file URLs point there
  std::int64_t url_expires;  // Unix s, the expiry signed into every file URL
  bool unknown_fields = false;
  // The scenario's files_base_url: when not empty, file URLs are
  // "<files_base_url>/<id>/<index>?expires=…&signature=…" (another server).
  std::string files_base_url;
};

// The Export object of `view`: Files (with URLs) only when Success.
nlohmann::json export_json(const ExportView& view, const ExportJsonOptions& options);
// `object` as an add/getAll response (plus FutureTopLevel with unknown_fields).
nlohmann::json response_json(nlohmann::json object, bool unknown_fields);

}  // namespace mews_sandbox
