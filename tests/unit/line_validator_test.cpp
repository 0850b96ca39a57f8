// --validate's line checker: lines cut anywhere, the first bad line named by
// number and byte offset, and what counts as bad.
#include "line_validator.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace mews_export::detail {
namespace {

// Feeds `text` in pieces of 1 to `max_piece` bytes, then finishes.
std::optional<BadLine> validate(std::string_view text, std::size_t max_piece, unsigned seed = 1) {
  LineValidator validator;
  std::mt19937 random(seed);
  std::uniform_int_distribution<std::size_t> piece(1, max_piece);
  while (!text.empty()) {
    const auto n = std::min(piece(random), text.size());
    validator.feed(text.substr(0, n));
    text.remove_prefix(n);
  }
  validator.finish();
  return validator.bad_line();
}

std::string good_lines(int count) {
  std::string out;
  for (int i = 0; i < count; ++i) {
    out += R"({"Id":")" + std::to_string(i) +
           R"(","Nested":{"A":[1,2,{"B":null}]},"Text":"a\nb \u00e9"})"
           "\n";
  }
  return out;
}

TEST(LineValidator, AcceptsObjectsPerLineHoweverTheBytesAreCut) {
  const std::string text = good_lines(500);
  for (std::size_t max_piece : {1u, 7u, 100u, 5000u, 1u << 20}) {
    EXPECT_FALSE(validate(text, max_piece).has_value()) << max_piece;
  }
  EXPECT_FALSE(validate(text.substr(0, text.size() - 1), 64).has_value());  // no final newline
  EXPECT_FALSE(validate("", 1).has_value());
}

TEST(LineValidator, NamesTheFirstBadLineByNumberAndOffset) {
  const std::string before = good_lines(3);
  const std::string text = before + "{\"Id\": \"cut\"\n" + good_lines(2) + "[1,2]\n";
  for (std::size_t max_piece : {1u, 13u, 4096u}) {
    const auto bad = validate(text, max_piece);
    ASSERT_TRUE(bad.has_value());
    EXPECT_EQ(bad->line, 4u);
    EXPECT_EQ(bad->offset, before.size());
    EXPECT_NE(bad->reason.find("not JSON"), std::string::npos) << bad->reason;
  }
}

TEST(LineValidator, ValuesThatAreNotObjectsEmptyLinesAndACutLastLineAreBad) {
  auto bad = validate(good_lines(1) + "[1,2]\n", 8);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->reason, "JSON, but not an object");
  bad = validate(good_lines(2) + "\n" + good_lines(1), 8);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->line, 3u);
  EXPECT_EQ(bad->reason, "an empty line");
  bad = validate(good_lines(2) + "{\"Id\":1", 8);  // the file ends inside a record
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->line, 3u);
  EXPECT_FALSE(validate("{\"a\":1}\r\n{\"b\":2}\r\n", 3).has_value());  // CRLF line ends
}

}  // namespace
}  // namespace mews_export::detail
