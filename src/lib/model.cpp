#include "mews_export/model.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include "mews_export/redact.hpp"

namespace mews_export {
namespace {

using nlohmann::json;

constexpr std::array kEntityTypes{
    EntityType::OrderItem,
    EntityType::Payment,
    EntityType::Reservation,
    EntityType::Customer,
    EntityType::Company,
    EntityType::Bill,
    EntityType::AvailabilityAdjustment,
    EntityType::AvailabilityBlock,
    EntityType::ResourceBlock,
    EntityType::LedgerEntry,
};

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::unexpected<Error> protocol(std::string message) { return fail(ErrorKind::Protocol, std::move(message)); }

// Reads an optional array of strings; null and absence both give nullopt.
Result<std::optional<std::vector<std::string>>> string_list(const json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::optional<std::vector<std::string>>{};
  if (!it->is_array()) return protocol(std::string(key) + " is not an array");
  std::vector<std::string> out;
  for (const auto& item : *it) {
    if (!item.is_string()) return protocol(std::string(key) + " holds a non-string");
    out.push_back(item.get<std::string>());
  }
  return std::optional(std::move(out));
}

// A string field: absent or null -> nullopt; another type -> error.
Result<std::optional<std::string>> opt_string(const json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::optional<std::string>{};
  if (!it->is_string()) return protocol(std::string(key) + " is not a string");
  return std::optional(it->get<std::string>());
}

}  // namespace

std::span<const EntityType> all_entity_types() { return kEntityTypes; }

std::string_view to_string(EntityType type) {
  switch (type) {
    case EntityType::OrderItem: return "OrderItem";
    case EntityType::Payment: return "Payment";
    case EntityType::Reservation: return "Reservation";
    case EntityType::Customer: return "Customer";
    case EntityType::Company: return "Company";
    case EntityType::Bill: return "Bill";
    case EntityType::AvailabilityAdjustment: return "AvailabilityAdjustment";
    case EntityType::AvailabilityBlock: return "AvailabilityBlock";
    case EntityType::ResourceBlock: return "ResourceBlock";
    case EntityType::LedgerEntry: return "LedgerEntry";
    case EntityType::Unknown: return "Unknown";
  }
  return "Unknown";
}

std::optional<EntityType> parse_entity_type(std::string_view name) {
  for (const auto type : kEntityTypes) {
    if (iequals(name, to_string(type))) return type;
  }
  return std::nullopt;
}

std::string_view to_string(ExportStatus status) {
  switch (status) {
    case ExportStatus::Pending: return "Pending";
    case ExportStatus::Processing: return "Processing";
    case ExportStatus::Success: return "Success";
    case ExportStatus::Failed: return "Failed";
    case ExportStatus::Expired: return "Expired";
    case ExportStatus::Unknown: return "Unknown";
    case ExportStatus::NotFound: return "NotFound";
  }
  return "Unknown";
}

ExportStatus parse_export_status(std::string_view name) {
  for (const auto s : {ExportStatus::Pending, ExportStatus::Processing, ExportStatus::Success, ExportStatus::Failed,
                       ExportStatus::Expired}) {
    if (name == to_string(s)) return s;
  }
  return ExportStatus::Unknown;
}

bool is_terminal(ExportStatus status) {
  return status == ExportStatus::Success || status == ExportStatus::Failed || status == ExportStatus::Expired;
}

std::uint64_t Export::total_size() const {
  std::uint64_t total = 0;
  for (const auto& f : files) total += f.size_in_bytes;
  return total;
}

json to_json(const Scope& scope) {
  json out = json::object();
  if (scope.enterprise_ids) out["EnterpriseIds"] = *scope.enterprise_ids;
  if (scope.chain_ids) out["ChainIds"] = *scope.chain_ids;
  return out;
}

json to_json(const Filters& filters) {
  json out = json::object();
  if (filters.updated_utc) {
    out["UpdatedUtc"] = {{"StartUtc", filters.updated_utc->start_utc}, {"EndUtc", filters.updated_utc->end_utc}};
  }
  if (filters.ledger_posting) {
    out["LedgerEntryFilters"] = {
        {"Posting", {{"Start", filters.ledger_posting->start}, {"End", filters.ledger_posting->end}}}};
  }
  return out;
}

json to_json(const AddExportRequest& request) {
  json out = {{"EntityType", std::string(to_string(request.entity_type))}};
  if (!request.scope.empty()) out["Scope"] = to_json(request.scope);
  if (!request.filters.empty()) out["Filters"] = to_json(request.filters);
  return out;
}

Result<Scope> parse_scope(const json& object) {
  if (!object.is_object()) return protocol("Scope is not an object");
  Scope scope;
  auto enterprises = string_list(object, "EnterpriseIds");
  if (!enterprises) return std::unexpected(enterprises.error());
  auto chains = string_list(object, "ChainIds");
  if (!chains) return std::unexpected(chains.error());
  scope.enterprise_ids = std::move(*enterprises);
  scope.chain_ids = std::move(*chains);
  return scope;
}

Result<Filters> parse_filters(const json& object) {
  if (!object.is_object()) return protocol("Filters is not an object");
  Filters filters;
  if (const auto it = object.find("UpdatedUtc"); it != object.end() && !it->is_null()) {
    if (!it->is_object()) return protocol("Filters.UpdatedUtc is not an object");
    auto start = opt_string(*it, "StartUtc");
    auto end = opt_string(*it, "EndUtc");
    if (!start || !end) return protocol("Filters.UpdatedUtc has a malformed interval");
    filters.updated_utc = UpdatedInterval{start->value_or(""), end->value_or("")};
  }
  if (const auto it = object.find("LedgerEntryFilters"); it != object.end() && it->is_object()) {
    if (const auto posting = it->find("Posting"); posting != it->end() && posting->is_object()) {
      auto start = opt_string(*posting, "Start");
      auto end = opt_string(*posting, "End");
      if (!start || !end) return protocol("Filters.LedgerEntryFilters.Posting is malformed");
      filters.ledger_posting = PostingInterval{start->value_or(""), end->value_or("")};
    }
  }
  return filters;
}

Result<Export> parse_export(const json& object) {
  if (!object.is_object()) return protocol("an Export is not a JSON object");
  Export e;
  e.raw = object;
  auto id = opt_string(object, "Id");
  if (!id || !*id || (*id)->empty()) return protocol("an Export has no Id");
  e.id = **id;

  auto status = opt_string(object, "Status");
  if (!status) return std::unexpected(status.error());
  e.status_name = status->value_or("");
  e.status = parse_export_status(e.status_name);

  auto entity = opt_string(object, "EntityType");
  if (!entity) return std::unexpected(entity.error());
  e.entity_type_name = entity->value_or("");
  // The API spells types canonically; an unknown one stays Unknown with its name kept.
  e.entity_type = EntityType::Unknown;
  for (const auto type : kEntityTypes) {
    if (e.entity_type_name == to_string(type)) e.entity_type = type;
  }

  if (const auto it = object.find("Scope"); it != object.end() && !it->is_null()) {
    auto scope = parse_scope(*it);
    if (!scope) return std::unexpected(scope.error());
    e.scope = std::move(*scope);
  }
  if (const auto it = object.find("Filters"); it != object.end() && !it->is_null()) {
    auto filters = parse_filters(*it);
    if (!filters) return std::unexpected(filters.error());
    e.filters = std::move(*filters);
  }
  if (const auto it = object.find("Files"); it != object.end() && !it->is_null()) {
    if (!it->is_array()) return protocol("Export.Files is not an array");
    for (const auto& file : *it) {
      if (!file.is_object()) return protocol("an Export file entry is not an object");
      auto url = opt_string(file, "Url");
      if (!url || !*url) return protocol("an Export file entry has no Url");
      const auto size = file.find("SizeInBytes");
      if (size == file.end() || !size->is_number_integer() || size->get<long long>() < 0) {
        return protocol("an Export file entry has no valid SizeInBytes");
      }
      e.files.push_back(ExportFile{**url, size->get<std::uint64_t>()});
    }
  }
  auto expires = opt_string(object, "ExpiresUtc");
  if (!expires) return std::unexpected(expires.error());
  e.expires_utc = std::move(*expires);
  return e;
}

json export_to_public_json(const Export& e, bool show_urls) {
  json out = e.raw.is_object() ? e.raw : json::object();
  if (!show_urls) {
    if (auto it = out.find("Files"); it != out.end() && it->is_array()) {
      for (auto& file : *it) {
        if (file.is_object() && file.contains("Url") && file["Url"].is_string()) {
          file["Url"] = redact_url(file["Url"].get<std::string>());
        }
      }
    }
  }
  return out;
}

}  // namespace mews_export
