// libFuzzer target: the parsers of what mews-export reads back from disk,
// manifest.json (parse_manifest) and journal entries (parse_journal_entry),
// on arbitrary JSON text (nlohmann with allow_exceptions=false, as a corrupted
// or hand-edited file would reach them). They must return an error, never
// throw, crash or hit UB; and what they accept must round-trip:
//   to_json(parse(to_json(parse(j)))) == to_json(parse(j)).
#include <cstddef>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "fuzz_check.hpp"
#include "mews_export/downloader.hpp"
#include "mews_export/journal.hpp"

using nlohmann::json;

namespace {

void check_manifest(const json& j) {
  const auto manifest = mews_export::parse_manifest(j);
  if (!manifest) {
    MEWS_FUZZ_CHECK(manifest.error().kind == mews_export::ErrorKind::Protocol);
    return;
  }
  const json once = mews_export::to_json(*manifest);
  (void)once.dump();
  // manifest.json as written says the same.
  MEWS_FUZZ_CHECK(json::parse(mews_export::manifest_text(*manifest), nullptr, false) == once);
  const auto again = mews_export::parse_manifest(once);
  MEWS_FUZZ_CHECK(again.has_value());
  MEWS_FUZZ_CHECK(mews_export::to_json(*again) == once);
}

void check_journal_entry(const json& j) {
  const auto entry = mews_export::parse_journal_entry(j);
  if (!entry) {
    MEWS_FUZZ_CHECK(entry.error().kind == mews_export::ErrorKind::Protocol);
    return;
  }
  (void)entry->unfinished();
  (void)entry->key.lock_name();
  (void)entry->key.matches(entry->key);
  const json once = mews_export::to_json(*entry);
  (void)once.dump();
  const auto again = mews_export::parse_journal_entry(once);
  MEWS_FUZZ_CHECK(again.has_value());
  MEWS_FUZZ_CHECK(mews_export::to_json(*again) == once);
  MEWS_FUZZ_CHECK(again->key.matches(entry->key));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const json j = json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  check_manifest(j);
  check_journal_entry(j);
  return 0;
}
