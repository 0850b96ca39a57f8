#include "mews_export/error.hpp"

#include <csignal>

#include "mews_export/cancel.hpp"

namespace mews_export {

Error interrupted_error(std::string message) {
  return Error{.kind = ErrorKind::Interrupted, .message = std::move(message), .signal = cancel_signal()};
}

int exit_code(const Error& error) {
  switch (error.kind) {
    case ErrorKind::Usage:
    case ErrorKind::UnknownProfile: return 2;
    case ErrorKind::Refused: return 3;
    case ErrorKind::ExportFailed: return 4;
    case ErrorKind::WaitTimeout: return 5;
    case ErrorKind::Verification: return 6;
    case ErrorKind::PendingExists:
    case ErrorKind::Locked: return 75;
    case ErrorKind::Interrupted: return error.signal == SIGTERM ? 143 : 130;
    case ErrorKind::OutputClosed: return 141;
    case ErrorKind::Network:
    case ErrorKind::Timeout:
    case ErrorKind::Http:
    case ErrorKind::Api:
    case ErrorKind::Io:
    case ErrorKind::NotFound:
    case ErrorKind::Protocol: return 1;
  }
  return 1;
}

const char* to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::Usage: return "usage";
    case ErrorKind::Network: return "network";
    case ErrorKind::Timeout: return "timeout";
    case ErrorKind::Http: return "http";
    case ErrorKind::Api: return "api";
    case ErrorKind::Refused: return "refused";
    case ErrorKind::PendingExists: return "pending-exists";
    case ErrorKind::Io: return "io";
    case ErrorKind::ExportFailed: return "export-failed";
    case ErrorKind::WaitTimeout: return "wait-timeout";
    case ErrorKind::Verification: return "verification";
    case ErrorKind::Locked: return "locked";
    case ErrorKind::Interrupted: return "interrupted";
    case ErrorKind::NotFound: return "not-found";
    case ErrorKind::Protocol: return "protocol";
    case ErrorKind::OutputClosed: return "output-closed";
    case ErrorKind::UnknownProfile: return "unknown-profile";
  }
  return "error";
}

std::string describe(const Error& error) {
  std::string out = error.message;
  if (error.http_status != 0) out += " (HTTP " + std::to_string(error.http_status) + ")";
  if (!error.request_id.empty()) out += " [Request-Id: " + error.request_id + "]";
  return out;
}

}  // namespace mews_export
