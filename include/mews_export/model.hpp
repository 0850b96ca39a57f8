// Typed model of the Data export API objects (Export, file entry, status,
// entity type, scope, filters) and their JSON form. Parsing ignores unknown
// fields and maps unknown enum values to Unknown instead of failing.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "mews_export/error.hpp"

namespace mews_export {

enum class EntityType {
  OrderItem,
  Payment,
  Reservation,
  Customer,
  Company,
  Bill,
  AvailabilityAdjustment,
  AvailabilityBlock,
  ResourceBlock,
  LedgerEntry,
  Unknown,
};

// Every known entity type, in the API documentation's order.
std::span<const EntityType> all_entity_types();
// Canonical spelling ("OrderItem"); "Unknown" for Unknown.
std::string_view to_string(EntityType type);
// Case-insensitive match of a known type name; nullopt when unknown.
std::optional<EntityType> parse_entity_type(std::string_view name);

// The API's statuses, Unknown for any other it may send, and NotFound: never
// sent by the API, it marks a journaled export that getAll no longer lists.
enum class ExportStatus { Pending, Processing, Success, Failed, Expired, Unknown, NotFound };

std::string_view to_string(ExportStatus status);
// Exact match of the API's spelling; Unknown for anything else.
ExportStatus parse_export_status(std::string_view name);
// Success, Failed and Expired are terminal.
bool is_terminal(ExportStatus status);

struct Scope {
  std::optional<std::vector<std::string>> enterprise_ids;
  std::optional<std::vector<std::string>> chain_ids;
  bool empty() const { return !enterprise_ids && !chain_ids; }
  friend bool operator==(const Scope&, const Scope&) = default;
};

// Inclusive `UpdatedUtc` interval, ISO 8601 UTC strings (YYYY-MM-DDThh:mm:ssZ).
struct UpdatedInterval {
  std::string start_utc;
  std::string end_utc;
  friend bool operator==(const UpdatedInterval&, const UpdatedInterval&) = default;
};

// Inclusive `LedgerEntryFilters.Posting` dates (YYYY-MM-DD).
struct PostingInterval {
  std::string start;
  std::string end;
  friend bool operator==(const PostingInterval&, const PostingInterval&) = default;
};

struct Filters {
  std::optional<UpdatedInterval> updated_utc;
  std::optional<PostingInterval> ledger_posting;
  bool empty() const { return !updated_utc && !ledger_posting; }
  friend bool operator==(const Filters&, const Filters&) = default;
};

struct ExportFile {
  std::string url;  // signed URL: a secret (see redact.hpp)
  std::uint64_t size_in_bytes = 0;
};

struct Export {
  std::string id;
  ExportStatus status = ExportStatus::Unknown;
  std::string status_name;  // as the API spelled it (kept for unknown values)
  EntityType entity_type = EntityType::Unknown;
  std::string entity_type_name;
  std::optional<Scope> scope;
  std::optional<Filters> filters;
  std::vector<ExportFile> files;
  std::optional<std::string> expires_utc;
  // The object exactly as received, unknown fields included.
  nlohmann::json raw;

  std::uint64_t total_size() const;
};

// The body of exports/add besides the authentication fields.
struct AddExportRequest {
  EntityType entity_type = EntityType::Unknown;
  Scope scope;
  Filters filters;
};

nlohmann::json to_json(const Scope& scope);
nlohmann::json to_json(const Filters& filters);
// The request body fields (EntityType, Scope?, Filters?).
nlohmann::json to_json(const AddExportRequest& request);

// Parse an Export object. Fails (Protocol) only when `Id` is missing or a known
// field has the wrong JSON type; unknown fields and values are tolerated.
Result<Export> parse_export(const nlohmann::json& object);
Result<Scope> parse_scope(const nlohmann::json& object);
Result<Filters> parse_filters(const nlohmann::json& object);

// The Export's raw JSON with each file Url's query string removed
// (unless `show_urls`), for `status --json` and logs.
nlohmann::json export_to_public_json(const Export& e, bool show_urls = false);

}  // namespace mews_export
