#include "line_validator.hpp"

#include <simdjson.h>

#include <cstring>

namespace mews_export::detail {

struct LineValidator::Parser {
  simdjson::dom::parser dom;
  std::string scratch;  // a line copied with the padding simdjson reads past its end
};

LineValidator::LineValidator() : parser_(std::make_unique<Parser>()) {}
LineValidator::~LineValidator() = default;

void LineValidator::feed(std::string_view chunk) {
  while (!bad_ && !chunk.empty()) {
    const auto* newline = static_cast<const char*>(std::memchr(chunk.data(), '\n', chunk.size()));
    if (newline == nullptr) {
      if (carry_.size() + chunk.size() > kMaxLineBytes) {
        bad_ = BadLine{.line = line_ + 1,
                       .offset = offset_ - carry_.size(),
                       .reason = "a line longer than " + std::to_string(kMaxLineBytes >> 20) + " MiB"};
        return;
      }
      carry_.append(chunk);
      offset_ += chunk.size();
      return;
    }
    const auto length = static_cast<std::size_t>(newline - chunk.data());
    const std::uint64_t start = offset_ - carry_.size();
    if (carry_.empty()) {
      // In place when the chunk has simdjson's padding after the line.
      check(chunk.substr(0, length), start, chunk.size() - length >= simdjson::SIMDJSON_PADDING);
    } else {
      carry_.append(chunk.substr(0, length));
      check(carry_, start, false);
      carry_.clear();
    }
    offset_ += length + 1;
    chunk.remove_prefix(length + 1);
  }
}

void LineValidator::finish() {
  if (bad_ || carry_.empty()) return;
  check(carry_, offset_ - carry_.size(), false);
  carry_.clear();
}

void LineValidator::check(std::string_view line, std::uint64_t offset, bool padded) {
  ++line_;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // CRLF files
  std::string reason;
  if (line.empty()) {
    reason = "an empty line";
  } else {
    const char* data = line.data();
    if (!padded) {
      parser_->scratch.resize(line.size() + simdjson::SIMDJSON_PADDING);
      std::memcpy(parser_->scratch.data(), line.data(), line.size());
      data = parser_->scratch.data();
    }
    simdjson::dom::element element;
    if (const auto error = parser_->dom.parse(data, line.size(), false).get(element); error) {
      reason = std::string("not JSON (") + simdjson::error_message(error) + ")";
    } else if (!element.is_object()) {
      reason = "JSON, but not an object";
    }
  }
  if (!reason.empty()) bad_ = BadLine{.line = line_, .offset = offset, .reason = std::move(reason)};
}

}  // namespace mews_export::detail
