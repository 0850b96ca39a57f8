#include "faults.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include <nlohmann/json.hpp>

#include "responses.hpp"
#include "util.hpp"

namespace mews_sandbox {
namespace {

int port_of(const sockaddr_storage& a) {
  if (a.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&a)->sin_port);
  if (a.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&a)->sin6_port);
  return -1;
}

// True when `fd` is a socket with these local and peer ports.
bool is_connection(int fd, int local_port, int remote_port) {
  sockaddr_storage local{}, peer{};
  socklen_t llen = sizeof local, plen = sizeof peer;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &llen) != 0) return false;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &plen) != 0) return false;
  return port_of(local) == local_port && port_of(peer) == remote_port;
}

// The descriptor of the accepted socket that `req` arrived on, or -1.
int connection_fd(const httplib::Request& req) {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return -1;
  int found = -1;
  while (dirent* ent = readdir(dir)) {
    auto fd = to_u64(ent->d_name);
    if (fd && is_connection(static_cast<int>(*fd), req.local_port, req.remote_port)) {
      found = static_cast<int>(*fd);
      break;
    }
  }
  closedir(dir);
  return found;
}

// Closes the client connection of `req` with a TCP reset and without a response:
// the accepted socket is found by its ports, given SO_LINGER 0 and replaced by
// /dev/null so that httplib's response goes nowhere.
bool reset_connection(const httplib::Request& req) {
  int fd = connection_fd(req);
  if (fd < 0) return false;
  linger lg{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0) {
    shutdown(fd, SHUT_RDWR);
    return true;
  }
  dup2(devnull, fd);  // closes the socket (RST) atomically
  close(devnull);
  return true;
}

void send_status_fault(const Fault& f, httplib::Response& res) {
  res.status = f.status;
  if (f.retry_after) res.set_header("Retry-After", *f.retry_after);
  if (f.body) {
    res.set_content(f.body->is_string() ? f.body->get<std::string>() : f.body->dump(), "application/json");
    return;
  }
  const std::string message = "Injected fault: HTTP " + std::to_string(f.status);
  res.set_content(nlohmann::json{{"Message", message}, {"RequestId", request_id(res)}}.dump(), "application/json");
}

void send_redirect(const Fault& f, httplib::Response& res) {
  res.status = f.status;
  res.set_header("Location", *f.location);
  res.set_content(nlohmann::json{{"Message", "Moved."}, {"RequestId", request_id(res)}}.dump(), "application/json");
}

// A 400 whose Message and Request-Id carry an ANSI colour escape, BEL and (in
// the body only: a header cannot hold it) CR, for clients that print them.
void send_control_chars(httplib::Response& res) {
  const std::string id = "\x1b[31m" + request_id(res) + "\x07";
  res.headers.erase("Request-Id");
  res.set_header("Request-Id", id);
  res.status = 400;
  const std::string message = "\x1b[31mInjected fault\r with control characters\x07\x1b[0m";
  res.set_content(nlohmann::json{{"Message", message}, {"RequestId", id}}.dump(), "application/json");
}

}  // namespace

const char* action_name(FaultAction a) {
  switch (a) {
    case FaultAction::Status: return "status";
    case FaultAction::Reset: return "reset";
    case FaultAction::Truncate: return "truncate";
    case FaultAction::Stall: return "stall";
    case FaultAction::DropFinalNewline: return "drop_final_newline";
    case FaultAction::BadJson: return "bad_json";
    case FaultAction::ExtraBytes: return "extra_bytes";
    case FaultAction::Redirect: return "redirect";
    case FaultAction::Gzip: return "gzip";
    case FaultAction::Chunked: return "chunked";
    case FaultAction::Trickle: return "trickle";
    case FaultAction::Nested: return "nested";
    case FaultAction::Pad: return "pad";
    case FaultAction::Omit: return "omit";
    case FaultAction::FileUrl: return "file_url";
    case FaultAction::ControlChars: return "control_chars";
    case FaultAction::Mutate: return "mutate";
  }
  return "status";
}

FaultPhase phase_of(FaultAction action) {
  if (action == FaultAction::DropFinalNewline || action == FaultAction::BadJson) return FaultPhase::Creation;
  if (action == FaultAction::Mutate) return FaultPhase::Content;
  return FaultPhase::Response;
}

FaultBook::FaultBook(std::vector<Fault> faults, Stats& stats)
    : faults_(std::move(faults)), seen_(faults_.size(), 0), stats_(stats) {}

bool FaultBook::matches(const Fault& f, FaultTarget target, FaultPhase phase, std::string_view entity,
                        std::optional<std::uint32_t> file_index) const {
  if (f.target != target || phase_of(f.action) != phase) return false;
  if (f.entity && *f.entity != entity) return false;
  return !(f.file_index && file_index && *f.file_index != *file_index);
}

std::optional<Fault> FaultBook::hit(FaultTarget target, FaultPhase phase, std::string_view entity,
                                    std::optional<std::uint32_t> file_index) {
  std::lock_guard lock(mu_);
  std::optional<std::size_t> first;
  for (std::size_t i = 0; i < faults_.size(); ++i) {
    const Fault& f = faults_[i];
    if (!matches(f, target, phase, entity, file_index)) continue;
    std::uint64_t n = seen_[i]++;
    bool in = n >= f.after && (!f.times || n < f.after + *f.times);
    if (in && !first) first = i;
  }
  if (!first) return std::nullopt;
  stats_.update([&](StatsData& s) { s.faults_triggered[action_name(faults_[*first].action)]++; });
  return faults_[*first];
}

bool apply_answer_fault(const Fault& fault, const httplib::Request& req, httplib::Response& res) {
  if (fault.action == FaultAction::Reset) {
    reset_connection(req);
    res.status = 500;
    return true;
  }
  if (fault.action == FaultAction::Status) {
    send_status_fault(fault, res);
    return true;
  }
  if (fault.action == FaultAction::Redirect && fault.location) {
    send_redirect(fault, res);
    return true;
  }
  if (fault.action == FaultAction::ControlChars) {
    send_control_chars(res);
    return true;
  }
  return false;
}

BodyShape body_shape(const std::optional<Fault>& fault, std::uint64_t length, bool gzip_allowed) {
  BodyShape shape;
  if (!fault) return shape;
  switch (fault->action) {
    case FaultAction::Gzip: shape.gzip = shape.chunked = gzip_allowed; break;
    case FaultAction::Chunked: shape.chunked = true; break;
    case FaultAction::ExtraBytes: shape.extra_bytes = fault->bytes.value_or(16); break;
    case FaultAction::Stall: shape.stall_seconds = fault->seconds; [[fallthrough]];
    case FaultAction::Truncate:
      shape.cut_after = std::min<std::uint64_t>(length, fault->bytes.value_or(length / 2));
      break;
    case FaultAction::Trickle:
      shape.step = std::max<std::uint64_t>(1, fault->bytes.value_or(1024));
      shape.interval = fault->seconds;
      break;
    default: break;
  }
  return shape;
}

}  // namespace mews_sandbox
