// Uses the installed mews_export library: validation, time formatting, the
// model, the manifest (spdlog and OpenSSL inside), the SHA-256 fingerprint and
// a libcurl transport, so that every link dependency of the static library is
// exercised. Prints one "key: value" line per check; exits 1 on a mismatch.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include <nlohmann/json.hpp>

#include "mews_export/downloader.hpp"
#include "mews_export/error.hpp"
#include "mews_export/http.hpp"
#include "mews_export/model.hpp"
#include "mews_export/redact.hpp"
#include "mews_export/time.hpp"
#include "mews_export/validate.hpp"
#include "mews_export/version.hpp"

namespace me = mews_export;

namespace {

int failures = 0;

void check(const char* key, const std::string& got, const std::string& want) {
  std::printf("%s: %s\n", key, got.c_str());
  if (got != want) {
    std::fprintf(stderr, "consumer: %s: got '%s', want '%s'\n", key, got.c_str(), want.c_str());
    ++failures;
  }
}

}  // namespace

int main() {
#ifdef EXPECTED_VERSION
  check("version", me::version(), EXPECTED_VERSION);
#else
  std::printf("version: %s\n", me::version());
#endif

  const auto type = me::parse_entity_type("ledgerentry");
  check("entity", type ? std::string(me::to_string(*type)) : "?", "LedgerEntry");

  const auto midnight = me::parse_time_arg("2026-01-02");
  check("format_utc", midnight ? me::format_utc(*midnight) : "?", "2026-01-02T00:00:00Z");

  const auto now = me::parse_utc("2026-11-28T12:00:00Z").value();
  me::AddArguments args;
  args.entity = "reservation";
  args.updated_from = "2026-11-01";
  args.updated_to = "2026-11-02T00:00:00Z";
  const auto request = me::build_add_request(args, now);
  check(
      "add_request", request ? me::to_json(*request).dump() : "error: " + request.error().message,
      R"({"EntityType":"Reservation","Filters":{"UpdatedUtc":{"EndUtc":"2026-11-02T00:00:00Z","StartUtc":"2026-11-01T00:00:00Z"}}})");

  me::AddArguments bad;
  bad.entity = "LedgerEntry";  // without posting dates: rejected locally
  const auto rejected = me::build_add_request(bad, now);
  check("rejected_exit_code", rejected ? "accepted" : std::to_string(me::exit_code(rejected.error())), "2");

  const auto exported = me::parse_export(nlohmann::json::parse(R"({
    "Id": "088a03f4-4561-465b-91e3-89cf24b0c2b7", "EntityType": "OrderItem", "Status": "Success",
    "Files": [{"Url": "https://example.com/a?sig=secret", "SizeInBytes": 1000},
              {"Url": "https://example.com/b?sig=secret", "SizeInBytes": 234}]})"));
  check("parse_export",
        exported ? std::string(me::to_string(exported->status)) + " " + std::to_string(exported->total_size()) : "?",
        "Success 1234");
  check("redact_url", me::redact_url("https://example.com/a?sig=secret"), "https://example.com/a");

  const auto manifest = me::parse_manifest(nlohmann::json::parse(R"({
    "ExportId": "x", "EntityType": "OrderItem", "Scope": null, "Filters": null,
    "ExpiresUtc": "2026-12-05T11:25:53Z", "CompletedUtc": "2026-11-28T11:25:53Z",
    "Files": [{"Name": "part-001.jsonl", "SizeInBytes": 3, "Sha256": "", "Lines": 1}]})"));
  check("manifest", manifest ? std::to_string(manifest->files.size()) + " " + me::part_file_name(0) : "?",
        "1 part-001.jsonl");

  // SHA-256 (OpenSSL) of "abc", first 12 hex digits.
  check("fingerprint", me::token_fingerprint("abc"), "ba7816bf8f01");

  // A libcurl transport (no request is made).
  check("curl_transport", me::make_curl_transport() ? "ok" : "null", "ok");

  std::printf("consumer: %s\n", failures == 0 ? "OK" : "FAILED");
  return failures == 0 ? 0 : 1;
}
