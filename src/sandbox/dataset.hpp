// Dataset mode (scenario "dataset"): per access token and entity type a fixed
// population of records, record k updated at t0 + k * step, t0 = start - span;
// which records fall into a time window.
#pragma once

#include <cstdint>
#include <optional>

#include "scenario.hpp"

namespace mews_sandbox {

// Records first … last (inclusive) of a population.
struct RecordRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  std::uint64_t count() const { return last - first + 1; }
};

class Dataset {
 public:
  Dataset(const DatasetConfig& config, std::int64_t started_unix)
      : t0_(started_unix - config.span_seconds), step_(config.step_seconds) {}

  std::int64_t t0() const { return t0_; }
  std::int64_t step() const { return step_; }
  // The time (Unix s) of record `k`.
  std::int64_t time_of(std::uint64_t k) const { return t0_ + static_cast<std::int64_t>(k) * step_; }
  // The records whose time lies in [`from`, `to`] (inclusive); nullopt when none.
  std::optional<RecordRange> between(std::int64_t from, std::int64_t to) const;

 private:
  std::int64_t t0_;
  std::int64_t step_;
};

}  // namespace mews_sandbox
