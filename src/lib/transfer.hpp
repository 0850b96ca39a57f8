// One export file's transfer in steps (internal): each attempt is one GET
// (following checked redirects) whose response head decides where the body
// goes (append at the offset, restart, or refuse); classify() turns the
// attempt into what happens next, and FileTransfer::run() loops over them
// with a RetryBudget, fresh URLs and sleeps through the Clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "line_validator.hpp"
#include "mews_export/clock.hpp"
#include "mews_export/error.hpp"
#include "mews_export/http.hpp"
#include "mews_export/retry.hpp"
#include "sha256.hpp"

namespace mews_export::detail {

// Interrupted, saying that partial files are kept.
Error interrupted_keeping_files();

// '\n' in `chunk`.
std::uint64_t count_newlines(std::string_view chunk);

// What has been accepted of one file so far: bytes, hash and newlines.
struct FileState {
  Sha256 hash;
  std::uint64_t bytes = 0;
  std::uint64_t newlines = 0;
  char last = '\n';
  // --validate: every line must be a JSON object (null: not checked).
  std::unique_ptr<LineValidator> validator;

  // Forgets every byte (a restart); a validator starts again too.
  void reset();
  void add(std::string_view chunk);
  // add() without counting bytes: the hash (when `hash`), newlines and last
  // byte only (BlockWriter counts bytes as it accepts them).
  void digest(std::string_view chunk, bool hash);
  // Records: newlines, plus a last line that lacks its '\n'.
  std::uint64_t lines() const { return newlines + (bytes > 0 && last != '\n' ? 1 : 0); }
};

// Where the accepted bytes of one file go.
class FileOutput {
 public:
  virtual ~FileOutput() = default;
  // Appends the next bytes of the file.
  virtual Status write(std::string_view chunk) = 0;
  // False when written bytes cannot be taken back (a stream).
  virtual bool can_restart() const = 0;
  // Forgets every byte written.
  virtual Status restart() = 0;
  // Deletes what was written (data that must not be kept: too long).
  virtual void discard() = 0;
};

// The file URL to use now, and which generation of URLs it belongs to.
struct CurrentUrl {
  std::string url;
  std::uint64_t generation = 0;
};

// Where a transfer gets its URL, and fresh ones when it is refused or old.
class UrlSource {
 public:
  virtual ~UrlSource() = default;
  virtual Result<CurrentUrl> url_for(std::size_t index) = 0;
  // Fresh URLs, unless another transfer already replaced `generation`.
  virtual Status refresh(std::size_t index, std::uint64_t generation) = 0;
};

// What one attempt produced, as classify() needs it.
struct Attempt {
  Result<HttpResponse> response = std::unexpected(Error{});  // the head (bodies go to the output)
  std::optional<Error> local_error;                          // the output failed (disk full, stream closed)
  bool overflow = false;                                     // more bytes than SizeInBytes arrived
  bool range_mismatch = false;                               // a 206 that does not start where we asked
  bool changed = false;        // the file changed since our first bytes; a stream cannot restart
  bool range_ignored = false;  // a bounded range was answered with the whole file
};

// What happens after an attempt.
enum class Next {
  Done,        // the file is complete
  Retry,       // try again after a delay (budget permitting)
  RefreshUrl,  // the URL was refused: fetch fresh URLs, then try again
  Redirect,    // follow `location` (checked first)
  Fail,        // give up with `error`
};

struct Verdict {
  Next next = Next::Fail;
  Error error;
  std::optional<std::chrono::seconds> retry_after;
  std::string location;     // Redirect: the Location header as sent
  bool short_body = false;  // a complete 2xx with fewer bytes than announced
};

// Pure: the next step after `attempt`, given the bytes the file now holds and
// the bytes it should hold. `now` resolves an HTTP-date Retry-After.
Verdict classify(const Attempt& attempt, std::uint64_t bytes, std::uint64_t expected, UtcTime now);

struct TransferSettings {
  RetryPolicy retry;
  std::chrono::seconds stall_timeout{60};
  bool allow_insecure_http = false;
  RetryCallback on_retry;               // may be empty
  bool hash = true;                     // compute the SHA-256 (FileState::hash); newlines always
  std::size_t block_size = 256 * 1024;  // BlockWriter's (see block_size_for())
  bool write_on_thread = false;         // BlockWriter's: unhashed blocks written on its thread (streams)
  std::size_t receive_buffer = 0;       // HttpRequest's (0: the transport's own)
};

class BlockWriter;

// Transfers one file into an output until it holds exactly `expected` bytes.
class FileTransfer {
 public:
  FileTransfer(HttpTransport& transport, Clock& clock, UrlSource& urls, const TransferSettings& settings,
               std::size_t index, std::string name, std::uint64_t expected);

  // Fills `out` (which already holds `state.bytes` bytes) up to `expected`:
  // resumes with Range (and If-Range once a validator is known), retries what
  // is retryable, refreshes refused URLs, follows redirects that
  // check_download_url() allows. `on_bytes` is called with the file's byte
  // count as data arrives (may be empty).
  Status run(FileOutput& out, FileState& state, const std::function<void(std::uint64_t)>& on_bytes);

  // Makes this the transfer of one range of a file: bytes [base, base +
  // expected) of it, each request bounded (Range: bytes=FROM-TO) and only a
  // 206 starting at FROM accepted. A host that answers with the whole file
  // fails the transfer, and ranges_ignored() says so.
  void set_range(std::uint64_t base);
  bool ranges_ignored() const { return ranges_ignored_; }

 private:
  Attempt attempt(const std::string& url, FileOutput& out, BlockWriter& blocks, FileState& state,
                  const std::function<void(std::uint64_t)>& on_bytes);
  HttpRequest make_request(const std::string& url, std::uint64_t offset) const;
  Result<std::string> follow(const std::string& url, const Verdict& verdict, int hops) const;
  Status retry_or_fail(Verdict& verdict, RetryBudget& budget, const std::string& where);
  Error in_context(Error error, const std::string& where) const;

  HttpTransport& transport_;
  Clock& clock_;
  UrlSource& urls_;
  const TransferSettings& settings_;
  std::size_t index_;
  std::string name_;
  std::uint64_t expected_;
  std::string validator_;              // ETag (or Last-Modified) of the first response: If-Range on resume
  std::optional<std::uint64_t> base_;  // set_range(): the range's first byte in the file
  bool ranges_ignored_ = false;
};

}  // namespace mews_export::detail
