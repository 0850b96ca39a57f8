#include "api_faults.hpp"

namespace mews_sandbox {
namespace {

using json = nlohmann::json;

// Stand-ins that render_answer() replaces in the dumped text: building the
// values as JSON would recurse (nesting) or copy (padding) for nothing.
const std::string kNestedMark = "\x01sandbox-nested\x01";
const std::string kPaddingMark = "\x01sandbox-padding\x01";

bool is(const std::optional<Fault>& fault, FaultAction action) { return fault && fault->action == action; }

// Replaces every occurrence of the dumped `mark` in `text` with `value`.
std::string splice(const std::string& text, const std::string& mark, const std::string& value) {
  const std::string quoted = json(mark).dump();
  std::string out;
  std::size_t from = 0;
  for (auto at = text.find(quoted); at != std::string::npos; at = text.find(quoted, from)) {
    out.append(text, from, at - from);
    out += value;
    from = at + quoted.size();
  }
  out.append(text, from);
  return out;
}

void mark_exports(json& answer) {
  if (answer.contains("Export")) answer["Export"]["Nested"] = kNestedMark;
  if (answer.contains("Exports"))
    for (auto& e : answer["Exports"]) e["Nested"] = kNestedMark;
}

}  // namespace

bool omits_exports(const std::optional<Fault>& fault) { return is(fault, FaultAction::Omit); }

void apply_file_url(const std::optional<Fault>& fault, json& export_object) {
  if (!is(fault, FaultAction::FileUrl)) return;
  for (auto& file : export_object["Files"]) file["Url"] = *fault->url;
}

std::string nested_json(std::uint64_t depth, std::uint64_t count) {
  std::string open, close;
  for (std::uint64_t level = 1; level <= depth; ++level) open += level % 2 == 1 ? "[" : "{\"a\":";
  for (std::uint64_t level = depth; level >= 1; --level) close += level % 2 == 1 ? "]" : "}";
  const std::string value = open + "0" + close;
  std::string out = "[";
  out.reserve(2 + count * (value.size() + 1));
  for (std::uint64_t i = 0; i < count; ++i) out += (i > 0 ? "," : "") + value;
  return out + "]";
}

std::string render_answer(json answer, const std::optional<Fault>& fault) {
  if (is(fault, FaultAction::Nested)) {
    mark_exports(answer);
    return splice(answer.dump(), kNestedMark, nested_json(fault->depth, fault->count));
  }
  if (is(fault, FaultAction::Pad)) {
    answer["Padding"] = kPaddingMark;
    return splice(answer.dump(), kPaddingMark, "\"" + std::string(*fault->bytes, 'x') + "\"");
  }
  return answer.dump();
}

}  // namespace mews_sandbox
