#include "mews_export/time.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <cstdio>

namespace mews_export {
namespace {

using namespace std::chrono;

// Reads exactly `width` digits at `pos`.
std::optional<int> digits(std::string_view text, std::size_t pos, std::size_t width) {
  if (pos + width > text.size()) return std::nullopt;
  int value = 0;
  for (std::size_t i = pos; i < pos + width; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

std::optional<sys_days> date_at(std::string_view text) {
  if (text.size() < 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  const auto y = digits(text, 0, 4), m = digits(text, 5, 2), d = digits(text, 8, 2);
  if (!y || !m || !d) return std::nullopt;
  const year_month_day ymd{year{*y}, month{static_cast<unsigned>(*m)}, day{static_cast<unsigned>(*d)}};
  if (!ymd.ok()) return std::nullopt;
  return sys_days{ymd};
}

constexpr std::array<const char*, 7> kWeekdays{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<const char*, 12> kMonths{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

}  // namespace

std::optional<UtcTime> parse_date(std::string_view text) {
  if (text.size() != 10) return std::nullopt;
  const auto day_point = date_at(text);
  if (!day_point) return std::nullopt;
  return UtcTime{*day_point};
}

std::optional<UtcTime> parse_utc(std::string_view text) {
  // YYYY-MM-DDThh:mm:ss[.fff][Z|+00:00]
  if (text.size() < 20) return std::nullopt;
  const auto day_point = date_at(text);
  if (!day_point || (text[10] != 'T' && text[10] != 't') || text[13] != ':' || text[16] != ':') {
    return std::nullopt;
  }
  const auto hh = digits(text, 11, 2), mm = digits(text, 14, 2), ss = digits(text, 17, 2);
  if (!hh || !mm || !ss || *hh > 23 || *mm > 59 || *ss > 60) return std::nullopt;
  const int sec = std::min(*ss, 59);  // a leap second is not representable: 23:59:60 reads as 23:59:59
  std::size_t pos = 19;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    const auto start = pos;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) ++pos;
    if (pos == start) return std::nullopt;
  }
  const auto zone = text.substr(pos);
  if (zone != "Z" && zone != "z" && zone != "+00:00" && zone != "-00:00") return std::nullopt;
  return UtcTime{*day_point} + hours{*hh} + minutes{*mm} + seconds{sec};
}

std::optional<UtcTime> parse_time_arg(std::string_view text) {
  if (text.size() == 10) return parse_date(text);
  return parse_utc(text);
}

std::string format_utc(UtcTime t) {
  const auto day_point = floor<days>(t);
  const year_month_day ymd{day_point};
  const hh_mm_ss hms{t - day_point};
  std::array<char, 32> buffer{};
  std::snprintf(buffer.data(), buffer.size(), "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buffer.data();
}

std::string format_date(UtcTime t) { return format_utc(t).substr(0, 10); }

std::optional<milliseconds> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  // Anything longer is a mistake (and would overflow milliseconds).
  constexpr long long kMaxMilliseconds = 100LL * 366 * 24 * 3600 * 1000;
  milliseconds total{0};
  std::size_t pos = 0;
  while (pos < text.size()) {
    long long value = 0;
    const auto [end, ec] = std::from_chars(text.data() + pos, text.data() + text.size(), value);
    if (ec != std::errc{} || value < 0 || value > kMaxMilliseconds) return std::nullopt;
    pos = static_cast<std::size_t>(end - text.data());
    const auto rest = text.substr(pos);
    if (rest.empty()) {
      if (pos != text.size() || total.count() != 0) return std::nullopt;  // "5" alone = seconds
      if (value > kMaxMilliseconds / 1000) return std::nullopt;
      return seconds{value};
    }
    long long unit_ms = 0;
    if (rest.starts_with("ms")) {
      unit_ms = 1;
      pos += 2;
    } else {
      switch (rest[0]) {
        case 's': unit_ms = 1000; break;
        case 'm': unit_ms = 60 * 1000; break;
        case 'h': unit_ms = 3600 * 1000; break;
        case 'd': unit_ms = 24 * 3600 * 1000; break;
        default: return std::nullopt;
      }
      ++pos;
    }
    if (value > (kMaxMilliseconds - total.count()) / unit_ms) return std::nullopt;
    total += milliseconds{value * unit_ms};
  }
  return total;
}

std::string format_duration(milliseconds d) {
  if (d.count() == 0) return "0s";
  std::string out;
  auto rest = d;
  const auto take = [&](auto unit, const char* suffix) {
    const auto n = duration_cast<decltype(unit)>(rest);
    if (n.count() > 0) {
      out += std::to_string(n.count()) + suffix;
      rest -= duration_cast<milliseconds>(n);
    }
  };
  take(hours{}, "h");
  take(minutes{}, "m");
  take(seconds{}, "s");
  if (rest.count() > 0) out += std::to_string(rest.count()) + "ms";
  return out;
}

std::optional<UtcTime> parse_http_date(std::string_view text) {
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
  if (text.size() != 29 || text[3] != ',' || text[4] != ' ' || text.substr(26) != "GMT") return std::nullopt;
  const auto d = digits(text, 5, 2), y = digits(text, 12, 4);
  const auto hh = digits(text, 17, 2), mm = digits(text, 20, 2), ss = digits(text, 23, 2);
  if (!d || !y || !hh || !mm || !ss || text[19] != ':' || text[22] != ':') return std::nullopt;
  unsigned month_number = 0;
  for (unsigned i = 0; i < kMonths.size(); ++i) {
    if (text.substr(8, 3) == kMonths[i]) month_number = i + 1;
  }
  if (month_number == 0) return std::nullopt;
  const year_month_day ymd{year{*y}, month{month_number}, day{static_cast<unsigned>(*d)}};
  if (!ymd.ok() || *hh > 23 || *mm > 59 || *ss > 60) return std::nullopt;
  return UtcTime{sys_days{ymd}} + hours{*hh} + minutes{*mm} + seconds{std::min(*ss, 59)};
}

std::string format_http_date(UtcTime t) {
  const auto day_point = floor<days>(t);
  const year_month_day ymd{day_point};
  const weekday wd{day_point};
  const hh_mm_ss hms{t - day_point};
  std::array<char, 40> buffer{};
  std::snprintf(buffer.data(), buffer.size(), "%s, %02u %s %04d %02d:%02d:%02d GMT", kWeekdays[wd.c_encoding()],
                static_cast<unsigned>(ymd.day()), kMonths[static_cast<unsigned>(ymd.month()) - 1],
                static_cast<int>(ymd.year()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()));
  return buffer.data();
}

}  // namespace mews_export
