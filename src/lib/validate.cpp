#include "mews_export/validate.hpp"

#include <string>

namespace mews_export {
namespace {

std::unexpected<Error> usage(std::string message) { return fail(ErrorKind::Usage, std::move(message)); }

std::string type_list() {
  std::string out;
  for (const auto type : all_entity_types()) {
    if (!out.empty()) out += ", ";
    out += to_string(type);
  }
  return out;
}

Result<UtcTime> time_arg(const char* option, const std::string& value) {
  const auto t = parse_time_arg(value);
  if (!t) {
    return usage(std::string(option) + ": '" + value +
                 "' is not a time; use YYYY-MM-DDThh:mm:ssZ (UTC) or YYYY-MM-DD (midnight UTC)");
  }
  return *t;
}

Result<std::optional<std::vector<std::string>>> ids(const char* option, const std::vector<std::string>& values) {
  if (values.empty()) return std::optional<std::vector<std::string>>{};
  if (values.size() > kMaxScopeIds) {
    return usage(std::string(option) + ": " + std::to_string(values.size()) + " ids given; the API takes at most " +
                 std::to_string(kMaxScopeIds) + " — split the export");
  }
  for (const auto& v : values) {
    if (v.empty()) return usage(std::string(option) + ": an id is empty");
  }
  return std::optional(values);
}

// Filters.UpdatedUtc from --updated-from/--updated-to (the end defaults to
// five minutes ago, less the clock skew margin).
Result<std::optional<UpdatedInterval>> updated_interval(const AddArguments& args, UtcTime now) {
  const UtcTime latest_end = now - kMinEndAge;
  if (args.updated_to && !args.updated_from) {
    return usage("--updated-to needs --updated-from: give the start of the interval too");
  }
  if (!args.updated_from) return std::optional<UpdatedInterval>{};
  auto start = time_arg("--updated-from", *args.updated_from);
  if (!start) return std::unexpected(start.error());
  UtcTime end = std::chrono::floor<std::chrono::seconds>(latest_end - kClockSkewMargin);
  if (args.updated_to) {
    auto given = time_arg("--updated-to", *args.updated_to);
    if (!given) return std::unexpected(given.error());
    if (*given > latest_end) {
      return usage("--updated-to " + format_utc(*given) +
                   " is less than 5 minutes ago; the API needs an end at least 5 minutes in the past (at most " +
                   format_utc(latest_end) + ")");
    }
    end = *given;
  }
  if (*start > end) {
    return usage("--updated-from " + format_utc(*start) + " is after the end of the interval " + format_utc(end) +
                 "; swap them or move the start earlier");
  }
  if (end - *start > kMaxUpdatedSpan) {
    return usage(
        "the --updated-from/--updated-to interval spans more than 180 days; split it (use `sync`, which "
        "splits windows for you)");
  }
  return std::optional(UpdatedInterval{format_utc(*start), format_utc(end)});
}

// Filters.LedgerEntryFilters.Posting: required for LedgerEntry, refused for the others.
Result<std::optional<PostingInterval>> posting_interval(const AddArguments& args, EntityType type) {
  const bool posting = args.posting_from || args.posting_to;
  if (posting && type != EntityType::LedgerEntry) {
    return usage("--posting-from/--posting-to apply only to LedgerEntry, not " + std::string(to_string(type)));
  }
  if (type != EntityType::LedgerEntry) return std::optional<PostingInterval>{};
  if (!args.posting_from || !args.posting_to) {
    return usage("LedgerEntry exports need both --posting-from and --posting-to (dates, YYYY-MM-DD)");
  }
  const auto from = parse_date(*args.posting_from);
  const auto to = parse_date(*args.posting_to);
  if (!from) return usage("--posting-from: '" + *args.posting_from + "' is not a date; use YYYY-MM-DD");
  if (!to) return usage("--posting-to: '" + *args.posting_to + "' is not a date; use YYYY-MM-DD");
  if (*from > *to) return usage("--posting-from " + *args.posting_from + " is after --posting-to " + *args.posting_to);
  return std::optional(PostingInterval{*args.posting_from, *args.posting_to});
}

}  // namespace

Result<AddExportRequest> build_add_request(const AddArguments& args, UtcTime now) {
  AddExportRequest request;
  const auto type = parse_entity_type(args.entity);
  if (!type) return usage("unknown entity type '" + args.entity + "'; use one of: " + type_list());
  request.entity_type = *type;

  auto enterprises = ids("--enterprise", args.enterprise_ids);
  if (!enterprises) return std::unexpected(enterprises.error());
  auto chains = ids("--chain", args.chain_ids);
  if (!chains) return std::unexpected(chains.error());
  request.scope.enterprise_ids = std::move(*enterprises);
  request.scope.chain_ids = std::move(*chains);

  auto updated = updated_interval(args, now);
  if (!updated) return std::unexpected(updated.error());
  request.filters.updated_utc = std::move(*updated);
  auto posting = posting_interval(args, request.entity_type);
  if (!posting) return std::unexpected(posting.error());
  request.filters.ledger_posting = std::move(*posting);
  return request;
}

}  // namespace mews_export
