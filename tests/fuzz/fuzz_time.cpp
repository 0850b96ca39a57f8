// libFuzzer target: the time, date, duration and Retry-After parsers on
// arbitrary text (the first byte of the input is not special: every parser sees
// the whole input). They must never crash or hit UB (UBSan: signed overflow in
// duration arithmetic), and whatever they accept must round-trip through the
// matching formatter:
//   parse_utc(x) = t        =>  parse_utc(format_utc(t)) == t
//   parse_date(x) = t       =>  format_date(t) == x and t is midnight
//   parse_time_arg(x)       ==  parse_date(x) or parse_utc(x) (by length)
//   parse_duration(x) = d   =>  d >= 0 and parse_duration(format_duration(d)) == d
//   parse_http_date(x) = t  =>  parse_http_date(format_http_date(t)) == t
//   parse_retry_after(x)    >=  0, and next_delay() of it is >= 0 (no overflow)
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.hpp"
#include "mews_export/retry.hpp"
#include "mews_export/time.hpp"

namespace me = mews_export;
using namespace std::chrono;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz_text(data, size);

  const auto utc = me::parse_utc(text);
  if (utc) {
    const std::string formatted = me::format_utc(*utc);
    const auto again = me::parse_utc(formatted);
    MEWS_FUZZ_CHECK(again.has_value());
    MEWS_FUZZ_CHECK(*again == *utc);
    MEWS_FUZZ_CHECK(me::format_utc(*again) == formatted);
  }

  const auto date = me::parse_date(text);
  if (date) {
    MEWS_FUZZ_CHECK(floor<days>(*date) == *date);
    MEWS_FUZZ_CHECK(me::format_date(*date) == text);
    const auto again = me::parse_utc(me::format_utc(*date));
    MEWS_FUZZ_CHECK(again.has_value() && *again == *date);
  }

  const auto arg = me::parse_time_arg(text);
  MEWS_FUZZ_CHECK(arg == (text.size() == 10 ? date : utc));

  const auto duration = me::parse_duration(text);
  if (duration) {
    MEWS_FUZZ_CHECK(duration->count() >= 0);
    const std::string formatted = me::format_duration(*duration);
    const auto again = me::parse_duration(formatted);
    MEWS_FUZZ_CHECK(again.has_value());
    MEWS_FUZZ_CHECK(*again == *duration);
  }

  const auto http = me::parse_http_date(text);
  if (http) {
    const auto again = me::parse_http_date(me::format_http_date(*http));
    MEWS_FUZZ_CHECK(again.has_value());
    MEWS_FUZZ_CHECK(*again == *http);
  }

  const me::UtcTime now = sys_days{year{2026} / November / 28} + hours{10};
  const auto after = me::parse_retry_after(text, now);
  if (after) {
    MEWS_FUZZ_CHECK(after->count() >= 0);
    // Retry-After is capped at a year (longer is treated as a year).
    if (http) MEWS_FUZZ_CHECK(*after == std::clamp(seconds{*http - now}, seconds{0}, seconds{hours{24 * 365}}));
    MEWS_FUZZ_CHECK(*after <= hours{24 * 365});
    // How api_client/downloader use it: the delay before the next attempt.
    const auto delay = me::next_delay(me::RetryPolicy{}, 1, *after, 0.5);
    MEWS_FUZZ_CHECK(delay.count() >= 0);
  }
  return 0;
}
