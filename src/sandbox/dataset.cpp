#include "dataset.hpp"

namespace mews_sandbox {

std::optional<RecordRange> Dataset::between(std::int64_t from, std::int64_t to) const {
  if (to < t0_ || to < from) return std::nullopt;
  const std::int64_t first = from <= t0_ ? 0 : (from - t0_ + step_ - 1) / step_;  // the first at or after `from`
  const std::int64_t last = (to - t0_) / step_;                                   // the last at or before `to`
  if (first > last) return std::nullopt;
  return RecordRange{static_cast<std::uint64_t>(first), static_cast<std::uint64_t>(last)};
}

}  // namespace mews_sandbox
