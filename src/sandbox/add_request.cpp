#include "add_request.hpp"

#include "utc.hpp"

namespace mews_sandbox {
namespace {

using json = nlohmann::json;
using Interval = std::pair<std::int64_t, std::int64_t>;

constexpr std::size_t kMaxIds = 1000;
constexpr std::int64_t kMinEndAgeSeconds = 5 * 60;
constexpr std::int64_t kMaxSpanSeconds = 180LL * 24 * 3600;

// Validates Scope.<key> into `out` (null when absent); an error message or "".
std::string check_id_list(const json& scope, const char* key, json& out) {
  out = nullptr;
  if (!scope.contains(key) || scope[key].is_null()) return "";
  const json& list = scope[key];
  if (!list.is_array()) return std::string("Scope.") + key + " must be an array.";
  if (list.size() > kMaxIds) return std::string("Scope.") + key + " may contain at most 1000 ids.";
  for (const auto& id : list)
    if (!id.is_string()) return std::string("Scope.") + key + " must contain strings.";
  out = list;
  return "";
}

// Scope.EnterpriseIds and Scope.ChainIds into request.scope and enterprise_ids.
std::string parse_scope(const json& body, ExportRequest& request) {
  json enterprise_ids = nullptr, chain_ids = nullptr;
  if (body.contains("Scope") && !body["Scope"].is_null()) {
    const json& scope = body["Scope"];
    if (!scope.is_object()) return "Invalid Scope.";
    for (auto [name, out] : {std::pair{"EnterpriseIds", &enterprise_ids}, std::pair{"ChainIds", &chain_ids}}) {
      std::string msg = check_id_list(scope, name, *out);
      if (!msg.empty()) return msg;
    }
  }
  request.scope = json{{"EnterpriseIds", enterprise_ids}, {"ChainIds", chain_ids}};
  if (enterprise_ids.is_array())
    for (const auto& id : enterprise_ids) request.enterprise_ids.push_back(id.get<std::string>());
  return "";
}

// object[key] parsed by `parse` when it is a string.
template <class Parse>
std::optional<std::int64_t> time_field(const json& object, const char* key, Parse parse) {
  if (!object.is_object() || !object.contains(key) || !object[key].is_string()) return std::nullopt;
  return parse(object[key].get<std::string>());
}

std::expected<Interval, std::string> parse_updated(const json& u, std::int64_t now) {
  auto start = time_field(u, "StartUtc", parse_utc);
  auto end = time_field(u, "EndUtc", parse_utc);
  if (!start || !end) return std::unexpected("Invalid Filters.UpdatedUtc: StartUtc and EndUtc are required.");
  if (*start > *end) return std::unexpected("Invalid Filters.UpdatedUtc: StartUtc is after EndUtc.");
  if (*end > now - kMinEndAgeSeconds)
    return std::unexpected("Invalid Filters.UpdatedUtc: EndUtc must be at least 5 minutes in the past.");
  if (*end - *start > kMaxSpanSeconds)
    return std::unexpected("Invalid Filters.UpdatedUtc: the interval may span at most 180 days.");
  return Interval{*start, *end};
}

std::expected<Interval, std::string> parse_posting(const json& p) {
  auto start = time_field(p, "Start", parse_date);
  auto end = time_field(p, "End", parse_date);
  if (!start || !end)
    return std::unexpected("Invalid Filters.LedgerEntryFilters.Posting: Start and End dates are required.");
  if (*start > *end) return std::unexpected("Invalid Filters.LedgerEntryFilters.Posting: Start is after End.");
  return Interval{*start, *end};
}

bool present(const json& object, const char* key) { return object.contains(key) && !object[key].is_null(); }

// Filters.UpdatedUtc and Filters.LedgerEntryFilters.Posting into the request.
std::string parse_filters(const json& body, std::int64_t now, ExportRequest& request) {
  request.filters = nullptr;
  if (!present(body, "Filters")) return "";
  const json& filters = body["Filters"];
  request.filters = filters;
  if (!filters.is_object()) return "Invalid Filters.";
  if (present(filters, "UpdatedUtc")) {
    auto updated = parse_updated(filters["UpdatedUtc"], now);
    if (!updated) return updated.error();
    request.updated = *updated;
  }
  if (present(filters, "LedgerEntryFilters")) {
    const json& l = filters["LedgerEntryFilters"];
    if (!l.is_object()) return "Invalid Filters.LedgerEntryFilters.";
    if (present(l, "Posting")) {
      auto posting = parse_posting(l["Posting"]);
      if (!posting) return posting.error();
      request.posting = *posting;
    }
  }
  return "";
}

}  // namespace

std::expected<ExportRequest, std::string> parse_add_request(const json& body, std::size_t token_index,
                                                            std::int64_t now) {
  if (!body.contains("EntityType") || !body["EntityType"].is_string())
    return std::unexpected("Invalid request: EntityType is required.");
  ExportRequest request;
  request.entity = body["EntityType"].get<std::string>();
  request.token_index = token_index;
  if (!is_entity_type(request.entity)) return std::unexpected("Invalid EntityType: " + request.entity + ".");
  if (std::string msg = parse_scope(body, request); !msg.empty()) return std::unexpected(msg);
  if (std::string msg = parse_filters(body, now, request); !msg.empty()) return std::unexpected(msg);
  if (request.entity == "LedgerEntry" && !request.posting)
    return std::unexpected("Filters.LedgerEntryFilters.Posting is required for LedgerEntry exports.");
  return request;
}

}  // namespace mews_sandbox
