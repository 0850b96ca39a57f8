// Errors as values: every fallible library call returns Result<T>, whose error
// says why it failed, so that retry and exit-code decisions are plain functions.
#pragma once

#include <expected>
#include <string>

namespace mews_export {

// Why an operation failed. Each kind maps to one process exit code (exit_code()).
enum class ErrorKind {
  Usage,           // invalid input, detected before any request (exit 2)
  Network,         // connection refused/reset, DNS, TLS, truncated transfer (exit 1)
  Timeout,         // a single request timed out or stalled (exit 1)
  Http,            // an unexpected HTTP status from a file URL (exit 1)
  Api,             // the API answered 400/404/408/409/429/5xx (exit 1)
  Refused,         // the API answered 401 or 403: tokens, permission, business rule (exit 3)
  PendingExists,   // add: a pending export of this type exists and is not ours (exit 75)
  Io,              // local file system error (exit 1)
  ExportFailed,    // the export ended Failed or Expired (exit 4)
  WaitTimeout,     // waiting for an export ran out of time (exit 5)
  Verification,    // downloaded data does not match what the API announced (exit 6)
  Locked,          // another run holds the lock (exit 75)
  Interrupted,     // SIGINT/SIGTERM (exit 130/143)
  NotFound,        // an export id the API does not know (exit 1)
  Protocol,        // a response we cannot parse or must not use (exit 1)
  OutputClosed,    // the reader of standard output went away (`| head`): exit 141, quietly
  UnknownProfile,  // a configuration profile asked for by name does not exist (exit 2)
};

struct Error {
  ErrorKind kind = ErrorKind::Network;
  // Human-readable, secret-free description ("what happened; what to do").
  std::string message;
  // HTTP status when the error came from a response, else 0.
  int http_status = 0;
  // The API's Request-Id header/body field, when there was one (Mews support asks for it).
  std::string request_id;
  // Seconds the server asked us to wait (Retry-After), or -1.
  long retry_after_seconds = -1;
  // Signal number for Interrupted.
  int signal = 0;
  // The export the failure concerns, when there is one (for "continue with" hints and logs).
  std::string export_id;
};

template <class T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

inline std::unexpected<Error> fail(ErrorKind kind, std::string message) {
  return std::unexpected<Error>(Error{.kind = kind, .message = std::move(message)});
}

// The Interrupted error for the signal that requested cancellation (cancel.hpp).
Error interrupted_error(std::string message = "interrupted");

// The process exit code for `error` (product.md "Exit codes").
int exit_code(const Error& error);

// Short name of `kind` for logs and JSON ("network", "refused", ...).
const char* to_string(ErrorKind kind);

// One line for stderr: the message, plus HTTP status and Request-Id when known.
std::string describe(const Error& error);

}  // namespace mews_export
