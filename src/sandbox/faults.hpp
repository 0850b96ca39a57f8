// Injected faults: which request a scenario fault hits (FaultBook), and how a
// hit fault turns into a response (status, reset) or shapes a file body.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

#include <httplib.h>

#include "scenario.hpp"
#include "stats.hpp"

namespace mews_sandbox {

// The name of `action` as written in a scenario ("status", "reset", ...).
const char* action_name(FaultAction action);

// When a fault is counted: per response; once per export when it is created
// (drop_final_newline); or per file request, before and besides the response
// fault, because it changes the file itself (mutate).
enum class FaultPhase { Response, Creation, Content };
FaultPhase phase_of(FaultAction action);

// Counts the occurrences every scenario fault matches and says which fault hits.
class FaultBook {
 public:
  FaultBook(std::vector<Fault> faults, Stats& stats);

  // Counts this occurrence for every fault of `target` and `phase` that matches
  // `entity` and `file_index`; returns the first one that hits it (and counts
  // it in faults_triggered), or nullopt.
  std::optional<Fault> hit(FaultTarget target, FaultPhase phase, std::string_view entity,
                           std::optional<std::uint32_t> file_index);

 private:
  bool matches(const Fault& f, FaultTarget target, FaultPhase phase, std::string_view entity,
               std::optional<std::uint32_t> file_index) const;

  std::vector<Fault> faults_;
  std::vector<std::uint64_t> seen_;  // guarded by mu_
  Stats& stats_;
  std::mutex mu_;
};

// Applies a fault that replaces the whole answer (status, reset, control_chars,
// a redirect with a location). Returns true when `res` is decided and nothing
// else may be done with the request.
bool apply_answer_fault(const Fault& fault, const httplib::Request& req, httplib::Response& res);

// How a file body is sent: derived from the file fault that hit the request.
struct BodyShape {
  std::uint64_t extra_bytes = 0;           // extra_bytes: junk after the real content
  std::optional<std::uint64_t> cut_after;  // truncate/stall: bytes sent before closing
  double stall_seconds = 0;                // stall: silence before closing
  std::uint64_t step = 64 * 1024;          // bytes per write
  double interval = 0;                     // trickle: pause between writes
  bool chunked = false;                    // Transfer-Encoding: chunked, no Content-Length
  bool gzip = false;                       // Content-Encoding: gzip (chunked too)
};

// The shape of a body of `length` bytes under `fault`; `gzip_allowed` when the
// request may get a gzip answer (a whole-file GET that accepts gzip).
BodyShape body_shape(const std::optional<Fault>& fault, std::uint64_t length, bool gzip_allowed);

}  // namespace mews_sandbox
