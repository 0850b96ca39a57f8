#include "utc.hpp"

#include <charconv>
#include <chrono>
#include <cstdio>

namespace mews_sandbox {
namespace {

bool parse_int(std::string_view s, int& out) {
  if (s.empty()) return false;
  for (char ch : s)
    if (ch < '0' || ch > '9') return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc{};
}

// Skips an optional ".digits" fraction; false when the dot has no digits.
bool skip_fraction(std::string_view& rest) {
  if (rest.empty() || rest[0] != '.') return true;
  std::size_t i = 1;
  while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9') ++i;
  if (i == 1) return false;
  rest = rest.substr(i);
  return true;
}

constexpr const char* kWeekdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// 1..12 for "Jan".."Dec", 0 otherwise.
int month_number(std::string_view name) {
  for (int m = 0; m < 12; ++m)
    if (name == kMonths[m]) return m + 1;
  return 0;
}

}  // namespace

std::string format_utc(std::int64_t unix_seconds) {
  using namespace std::chrono;
  sys_seconds t{seconds{unix_seconds}};
  auto day = floor<days>(t);
  year_month_day ymd{day};
  hh_mm_ss hms{t - day};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buf;
}

std::string format_date(std::int64_t unix_seconds) { return format_utc(unix_seconds).substr(0, 10); }

std::optional<std::int64_t> parse_date(std::string_view text) {
  using namespace std::chrono;
  int y = 0, m = 0, d = 0;
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  if (!parse_int(text.substr(0, 4), y) || !parse_int(text.substr(5, 2), m) || !parse_int(text.substr(8, 2), d))
    return std::nullopt;
  year_month_day ymd{year{y}, month{static_cast<unsigned>(m)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  return sys_days{ymd}.time_since_epoch().count() * 86400;
}

std::optional<std::int64_t> parse_utc(std::string_view text) {
  if (text.size() < 20 || text[10] != 'T' || text[13] != ':' || text[16] != ':') return std::nullopt;
  auto date = parse_date(text.substr(0, 10));
  int hh = 0, mm = 0, ss = 0;
  if (!date || !parse_int(text.substr(11, 2), hh) || !parse_int(text.substr(14, 2), mm) ||
      !parse_int(text.substr(17, 2), ss) || hh > 23 || mm > 59 || ss > 60)
    return std::nullopt;
  std::string_view rest = text.substr(19);
  if (!skip_fraction(rest)) return std::nullopt;
  if (rest != "Z" && rest != "+00:00") return std::nullopt;
  return *date + hh * 3600 + mm * 60 + ss;
}

std::string format_http_date(std::int64_t unix_seconds) {
  using namespace std::chrono;
  const sys_days day = floor<days>(sys_seconds{seconds{unix_seconds}});
  const std::string utc = format_utc(unix_seconds);  // YYYY-MM-DDThh:mm:ssZ
  const unsigned month = static_cast<unsigned>(year_month_day{day}.month());
  return std::string(kWeekdays[weekday{day}.c_encoding()]) + ", " + utc.substr(8, 2) + " " + kMonths[month - 1] + " " +
         utc.substr(0, 4) + " " + utc.substr(11, 8) + " GMT";
}

std::optional<std::int64_t> parse_http_date(std::string_view text) {
  // "Sun, 06 Nov 1994 08:49:37 GMT"
  if (text.size() != 29 || text.substr(3, 2) != ", " || text[7] != ' ' || text[11] != ' ' || text[16] != ' ' ||
      text.substr(25) != " GMT")
    return std::nullopt;
  const int month = month_number(text.substr(8, 3));
  if (month == 0) return std::nullopt;
  const std::string iso = std::string(text.substr(12, 4)) + (month < 10 ? "-0" : "-") + std::to_string(month) + "-" +
                          std::string(text.substr(5, 2)) + "T" + std::string(text.substr(17, 8)) + "Z";
  auto t = parse_utc(iso);
  if (!t || format_http_date(*t).substr(0, 3) != text.substr(0, 3)) return std::nullopt;  // the weekday must fit
  return t;
}

}  // namespace mews_sandbox
