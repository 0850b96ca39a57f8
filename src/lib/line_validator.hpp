// --validate (internal): every line of a file must be one JSON object. Fed
// the file's bytes in order (in pieces cut anywhere), it parses each complete
// line with simdjson and keeps the first bad one: its 1-based number, the
// byte offset where it starts, and why.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace mews_export::detail {

// A line longer than this is refused rather than buffered.
inline constexpr std::size_t kMaxLineBytes = std::size_t{64} << 20;

struct BadLine {
  std::uint64_t line = 0;    // 1-based
  std::uint64_t offset = 0;  // of its first byte in the file
  std::string reason;
};

class LineValidator {
 public:
  LineValidator();
  LineValidator(const LineValidator&) = delete;
  LineValidator& operator=(const LineValidator&) = delete;
  ~LineValidator();

  // The next bytes of the file. Does nothing once a bad line was found.
  void feed(std::string_view chunk);
  // The end of the file: a last line without its newline is checked too.
  void finish();
  const std::optional<BadLine>& bad_line() const { return bad_; }

 private:
  // `padded`: simdjson may read SIMDJSON_PADDING bytes past the line's end.
  void check(std::string_view line, std::uint64_t offset, bool padded);

  struct Parser;
  std::unique_ptr<Parser> parser_;
  std::string carry_;  // the start of a line that continues in the next chunk
  std::uint64_t line_ = 0;
  std::uint64_t offset_ = 0;  // of the next byte fed
  std::optional<BadLine> bad_;
};

}  // namespace mews_export::detail
