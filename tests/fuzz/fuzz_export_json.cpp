// libFuzzer target: the Export model parsers (parse_export, parse_scope,
// parse_filters) and export_to_public_json on arbitrary JSON text, as the API
// client sees it. nlohmann parses with allow_exceptions=false, so only valid
// JSON reaches the parsers; they must never throw, crash or hit UB.
// Properties: to_json(Scope/Filters) parses back to the same value; the public
// JSON of a parsed Export parses back to the same Export (URLs shown) and
// still parses, with no query string left in any file Url, when URLs are hidden.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "fuzz_check.hpp"
#include "mews_export/model.hpp"

using mews_export::Export;
using nlohmann::json;

namespace {

bool same_export(const Export& a, const Export& b) {
  if (a.id != b.id || a.status != b.status || a.status_name != b.status_name || a.entity_type != b.entity_type ||
      a.entity_type_name != b.entity_type_name || a.scope != b.scope || a.filters != b.filters ||
      a.expires_utc != b.expires_utc || a.files.size() != b.files.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.files.size(); ++i) {
    if (a.files[i].url != b.files[i].url || a.files[i].size_in_bytes != b.files[i].size_in_bytes) return false;
  }
  return true;
}

void check_scope(const json& j) {
  const auto scope = mews_export::parse_scope(j);
  if (!scope) return;
  const auto again = mews_export::parse_scope(mews_export::to_json(*scope));
  MEWS_FUZZ_CHECK(again.has_value());
  MEWS_FUZZ_CHECK(*again == *scope);
}

void check_filters(const json& j) {
  const auto filters = mews_export::parse_filters(j);
  if (!filters) return;
  const auto again = mews_export::parse_filters(mews_export::to_json(*filters));
  MEWS_FUZZ_CHECK(again.has_value());
  MEWS_FUZZ_CHECK(*again == *filters);
}

void check_export(const json& j) {
  const auto exp = mews_export::parse_export(j);
  if (!exp) {
    MEWS_FUZZ_CHECK(exp.error().kind == mews_export::ErrorKind::Protocol);
    return;
  }
  MEWS_FUZZ_CHECK(!exp->id.empty());
  (void)exp->total_size();
  (void)mews_export::is_terminal(exp->status);

  const json shown = mews_export::export_to_public_json(*exp, true);
  const auto again = mews_export::parse_export(shown);
  MEWS_FUZZ_CHECK(again.has_value());
  MEWS_FUZZ_CHECK(same_export(*exp, *again));

  const json hidden = mews_export::export_to_public_json(*exp, false);
  (void)hidden.dump();  // valid UTF-8 in, valid UTF-8 out: must not throw
  const auto redacted = mews_export::parse_export(hidden);
  MEWS_FUZZ_CHECK(redacted.has_value());
  MEWS_FUZZ_CHECK(redacted->files.size() == exp->files.size());
  for (const auto& file : redacted->files) {
    MEWS_FUZZ_CHECK(file.url.find_first_of("?#") == std::string::npos);
  }

  if (exp->scope) check_scope(mews_export::to_json(*exp->scope));
  if (exp->filters) check_filters(mews_export::to_json(*exp->filters));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const json j = json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  check_export(j);
  check_scope(j);
  check_filters(j);
  // As nested inside an Export, and as the members of an array of exports.
  if (j.is_object()) {
    if (const auto it = j.find("Scope"); it != j.end()) check_scope(*it);
    if (const auto it = j.find("Filters"); it != j.end()) check_filters(*it);
    if (const auto it = j.find("Exports"); it != j.end() && it->is_array()) {
      for (const auto& item : *it) check_export(item);
    }
  }
  return 0;
}
