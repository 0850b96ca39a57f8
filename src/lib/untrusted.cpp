#include "mews_export/untrusted.hpp"

#include <algorithm>
#include <cctype>

namespace mews_export {
namespace {

using nlohmann::json;

struct TooDeep {};

constexpr auto kReplace = json::error_handler_t::replace;

void append_display(const json& value, int level, int pretty_levels, std::string& out) {
  if (level >= pretty_levels || !value.is_structured() || value.empty()) {
    out += value.dump(-1, ' ', false, kReplace);
    return;
  }
  const bool object = value.is_object();
  const std::string indent(static_cast<std::size_t>(level + 1) * 2, ' ');
  out += object ? "{\n" : "[\n";
  bool first = true;
  for (auto it = value.begin(); it != value.end(); ++it) {
    if (!first) out += ",\n";
    first = false;
    out += indent;
    if (object) {
      out += json(it.key()).dump(-1, ' ', false, kReplace);
      out += ": ";
    }
    append_display(*it, level + 1, pretty_levels, out);
  }
  out += '\n';
  out.append(static_cast<std::size_t>(level) * 2, ' ');
  out += object ? '}' : ']';
}

void append_hex(unsigned char c, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += kHex[c >> 4];
  out += kHex[c & 15];
}

void append_escape(unsigned char c, std::string& out) {
  switch (c) {
    case '\n': out += "\\n"; return;
    case '\r': out += "\\r"; return;
    case '\t': out += "\\t"; return;
    case 0x1b: out += "\\e"; return;
    case 0: out += "\\0"; return;
    default: break;
  }
  out += "\\x";
  append_hex(c, out);
}

}  // namespace

Result<json> parse_untrusted_json(std::string_view text, int max_depth) {
  // The callback sees each array and object as it opens, with its depth
  // (0 for the top level); throwing stops the parser before it goes deeper.
  const json::parser_callback_t limit = [max_depth](int depth, json::parse_event_t event, json&) {
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
        depth >= max_depth) {
      throw TooDeep{};
    }
    return true;
  };
  try {
    auto value = json::parse(text.begin(), text.end(), limit, /*allow_exceptions=*/false);
    if (value.is_discarded()) return fail(ErrorKind::Protocol, "the answer is not valid JSON");
    return value;
  } catch (const TooDeep&) {
    return fail(ErrorKind::Protocol,
                "the answer nests JSON deeper than " + std::to_string(max_depth) + " levels; refusing to read it");
  }
}

std::string to_display_json(const json& value, int pretty_levels) {
  std::string out;
  append_display(value, 0, pretty_levels, out);
  return out;
}

std::string to_compact_json(const json& value) { return value.dump(-1, ' ', false, kReplace); }

std::string escape_for_terminal(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    // C1 controls (U+0080..U+009F) are C2 80..C2 9F in UTF-8; some terminals obey them.
    if (c == 0xC2 && i + 1 < text.size()) {
      const auto next = static_cast<unsigned char>(text[i + 1]);
      if (next >= 0x80 && next <= 0x9F) {
        out += "\\u00";
        append_hex(next, out);
        ++i;
        continue;
      }
    }
    if (c < 0x20 || c == 0x7F) {
      append_escape(c, out);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

bool is_valid_export_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x80 && (std::isalnum(u) != 0 || c == '-');
  });
}

bool same_export_id(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace mews_export
