#include "transfer.hpp"

#include "block_writer.hpp"

#include <charconv>
#include <cstring>

#include "mews_export/cancel.hpp"
#include "mews_export/redact.hpp"
#include "mews_export/url.hpp"

namespace mews_export::detail {
namespace {

// Redirects followed for one request before giving up.
constexpr int kMaxRedirects = 10;
// Fresh URLs fetched for one file in a row, without any byte of progress, before giving up.
constexpr int kMaxRefreshesWithoutProgress = 3;

bool is_redirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// START of "bytes START-END/TOTAL", or nullopt.
std::optional<std::uint64_t> content_range_start(std::string_view value) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (!value.starts_with("bytes ")) return std::nullopt;
  value.remove_prefix(6);
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  std::uint64_t start = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), start);
  if (ec != std::errc{} || end == value.data() + value.size() || *end != '-') return std::nullopt;
  return start;
}

// The validator If-Range can carry: a strong ETag, else Last-Modified.
std::string validator_of(const HttpResponse& head) {
  if (auto etag = head.header("etag"); etag && !etag->starts_with("W/")) return *etag;
  return head.header("last-modified").value_or("");
}

Verdict fail_with(Error error) { return Verdict{.next = Next::Fail, .error = std::move(error)}; }

Verdict retry_with(Error error, std::optional<std::chrono::seconds> retry_after = std::nullopt) {
  return Verdict{.next = Next::Retry, .error = std::move(error), .retry_after = retry_after};
}

Verdict classify_transport_error(const Attempt& a) {
  Error failure = a.response.error();
  if (failure.kind == ErrorKind::Interrupted || cancel_requested()) return fail_with(interrupted_keeping_files());
  if (!is_retryable(failure)) return fail_with(std::move(failure));
  return retry_with(std::move(failure));
}

Verdict classify_success(std::uint64_t bytes, std::uint64_t expected) {
  if (bytes == expected) return Verdict{.next = Next::Done};
  Verdict verdict = retry_with(Error{
      .kind = ErrorKind::Network,
      .message = "the transfer ended after " + std::to_string(bytes) + " of " + std::to_string(expected) + " bytes"});
  verdict.short_body = true;
  return verdict;
}

Verdict classify_status(const HttpResponse& r, UtcTime now) {
  const int status = r.status;
  if (is_redirect(status) && r.header("location")) {
    return Verdict{.next = Next::Redirect, .location = *r.header("location")};
  }
  if (status == 403 || status == 404) {
    return Verdict{.next = Next::RefreshUrl,
                   .error = Error{.kind = ErrorKind::Http,
                                  .message = "the file URL was refused (HTTP " + std::to_string(status) + ")",
                                  .http_status = status}};
  }
  if (status == 416) {
    // We only ask for ranges below SizeInBytes: the server's file is shorter.
    return retry_with(Error{.kind = ErrorKind::Verification,
                            .message = "the server has fewer bytes than the announced size",
                            .http_status = status});
  }
  if (!is_retryable_status(status)) {
    return fail_with(
        Error{.kind = ErrorKind::Http, .message = "unexpected HTTP " + std::to_string(status), .http_status = status});
  }
  Error error{.kind = ErrorKind::Http, .message = "HTTP " + std::to_string(status), .http_status = status};
  std::optional<std::chrono::seconds> after;
  if (const auto value = r.header("retry-after")) after = parse_retry_after(*value, now);
  if (after) error.retry_after_seconds = static_cast<long>(after->count());
  return retry_with(std::move(error), after);
}

// Receives one response for a FileTransfer: its head decides where the body
// goes, and each chunk is checked against the announced size before it is kept.
class FileSink {
 public:
  FileSink(FileOutput& out, BlockWriter& blocks, FileState& state, std::uint64_t expected, std::uint64_t offset,
           std::string& validator, bool sent_if_range, const std::function<void(std::uint64_t)>& on_bytes,
           Attempt& attempt, std::optional<std::uint64_t> base)
      : out_(out),
        blocks_(blocks),
        state_(state),
        expected_(expected),
        offset_(offset),
        validator_(validator),
        sent_if_range_(sent_if_range),
        on_bytes_(on_bytes),
        attempt_(attempt),
        base_(base) {}

  BodySink sink() {
    return BodySink{.on_head = [this](const HttpResponse& head) { return on_head(head); },
                    .on_data = [this](std::string_view chunk) { return on_data(chunk); }};
  }

 private:
  BodyAction on_head(const HttpResponse& head) {
    if (head.status < 200 || head.status >= 300) return BodyAction::Collect;
    if (base_) return on_range_head(head);
    const std::string validator = validator_of(head);
    if (head.status == 206 && offset_ > 0) {
      const auto range = head.header("content-range");
      const auto start = range ? content_range_start(*range) : std::nullopt;
      if (start != offset_) {
        attempt_.range_mismatch = true;
        return BodyAction::Abort;
      }
      return BodyAction::Receive;
    }
    if (offset_ > 0 && !restart_whole(validator)) return BodyAction::Abort;
    if (validator_.empty()) validator_ = validator;
    return BodyAction::Receive;
  }

  // A bounded range: only a 206 that starts where we asked will do.
  BodyAction on_range_head(const HttpResponse& head) {
    if (head.status != 206) {
      attempt_.range_ignored = true;
      return BodyAction::Abort;
    }
    const auto range = head.header("content-range");
    if ((range ? content_range_start(*range) : std::nullopt) != *base_ + offset_) {
      attempt_.range_mismatch = true;
      return BodyAction::Abort;
    }
    if (validator_.empty()) validator_ = validator_of(head);
    return BodyAction::Receive;
  }

  // A whole-file answer to a request for bytes from offset_: start again at 0
  // where we can; a stream skips the bytes it already has, unless the file changed.
  bool restart_whole(const std::string& validator) {
    const bool changed = sent_if_range_ || (!validator_.empty() && validator != validator_);
    if (out_.can_restart()) {
      if (auto st = out_.restart(); !st) {
        attempt_.local_error = st.error();
        return false;
      }
      state_.reset();
      validator_ = validator;
      return true;
    }
    if (changed) {
      attempt_.changed = true;
      return false;
    }
    skip_ = offset_;
    return true;
  }

  bool on_data(std::string_view chunk) {
    if (cancel_requested()) return false;
    const auto skipped = std::min<std::uint64_t>(skip_, chunk.size());
    chunk.remove_prefix(static_cast<std::size_t>(skipped));
    skip_ -= skipped;
    if (state_.bytes + chunk.size() > expected_) {
      attempt_.overflow = true;
      return false;
    }
    if (auto st = blocks_.append(chunk); !st) {
      attempt_.local_error = st.error();
      return false;
    }
    if (on_bytes_) on_bytes_(state_.bytes);
    return true;
  }

  FileOutput& out_;
  BlockWriter& blocks_;
  FileState& state_;
  std::uint64_t expected_;
  std::uint64_t offset_;
  std::string& validator_;
  bool sent_if_range_;
  const std::function<void(std::uint64_t)>& on_bytes_;
  Attempt& attempt_;
  std::optional<std::uint64_t> base_;
  std::uint64_t skip_ = 0;
};

}  // namespace

Error interrupted_keeping_files() {
  return interrupted_error("interrupted; partial files are kept and resumed by the next download");
}

std::uint64_t count_newlines(std::string_view chunk) {
  // memchr is vectorised by glibc; std::count is not at -O2.
  std::uint64_t n = 0;
  const char* at = chunk.data();
  const char* const end = at + chunk.size();
  while (at < end) {
    const void* hit = std::memchr(at, '\n', static_cast<std::size_t>(end - at));
    if (hit == nullptr) break;
    ++n;
    at = static_cast<const char*>(hit) + 1;
  }
  return n;
}

void FileState::reset() {
  const bool validating = validator != nullptr;
  *this = FileState{};
  if (validating) validator = std::make_unique<LineValidator>();
}

void FileState::add(std::string_view chunk) {
  bytes += chunk.size();
  digest(chunk, true);
}

void FileState::digest(std::string_view chunk, bool with_hash) {
  if (chunk.empty()) return;
  if (with_hash) hash.update(chunk);
  newlines += count_newlines(chunk);
  last = chunk.back();
  if (validator) validator->feed(chunk);
}

Verdict classify(const Attempt& a, std::uint64_t bytes, std::uint64_t expected, UtcTime now) {
  if (a.local_error) return fail_with(*a.local_error);
  if (a.overflow) {
    return fail_with(Error{.kind = ErrorKind::Verification,
                           .message = "it is longer than the announced " + std::to_string(expected) +
                                      " bytes (SizeInBytes); it was discarded"});
  }
  if (a.range_ignored) {
    return fail_with(Error{.kind = ErrorKind::Protocol,
                           .message = "the file host answered a request for a range with the whole file"});
  }
  if (a.changed) {
    return fail_with(Error{.kind = ErrorKind::Verification,
                           .message = "the file changed on the server while it was being streamed; run again"});
  }
  if (a.range_mismatch) {
    const auto range = a.response ? a.response->header("content-range") : std::nullopt;
    return retry_with(Error{.kind = ErrorKind::Network,
                            .message = "the server answered a request for bytes from " + std::to_string(bytes) +
                                       " with Content-Range '" + range.value_or("") + "'"});
  }
  if (!a.response) return classify_transport_error(a);
  if (a.response->status >= 200 && a.response->status < 300) return classify_success(bytes, expected);
  return classify_status(*a.response, now);
}

FileTransfer::FileTransfer(HttpTransport& transport, Clock& clock, UrlSource& urls, const TransferSettings& settings,
                           std::size_t index, std::string name, std::uint64_t expected)
    : transport_(transport),
      clock_(clock),
      urls_(urls),
      settings_(settings),
      index_(index),
      name_(std::move(name)),
      expected_(expected) {}

void FileTransfer::set_range(std::uint64_t base) { base_ = base; }

HttpRequest FileTransfer::make_request(const std::string& url, std::uint64_t offset) const {
  HttpRequest request;
  request.url = url;
  request.low_speed_time = settings_.stall_timeout;
  request.receive_buffer = settings_.receive_buffer;
  if (base_) {
    request.range_from = *base_ + offset;
    request.range_to = *base_ + expected_ - 1;
    if (offset > 0 && !validator_.empty()) request.headers["If-Range"] = validator_;
  } else if (offset > 0) {
    request.range_from = offset;
    if (!validator_.empty()) request.headers["If-Range"] = validator_;
  }
  return request;
}

Attempt FileTransfer::attempt(const std::string& url, FileOutput& out, BlockWriter& blocks, FileState& state,
                              const std::function<void(std::uint64_t)>& on_bytes) {
  const HttpRequest request = make_request(url, state.bytes);
  Attempt result;
  FileSink receiver(out, blocks, state, expected_, state.bytes, validator_, request.headers.contains("If-Range"),
                    on_bytes, result, base_);
  const BodySink sink = receiver.sink();
  result.response = transport_.perform(request, &sink);
  // What is still gathered reaches the output, and the digest catches up.
  if (auto st = blocks.flush(); !st && !result.local_error) result.local_error = st.error();
  if (result.range_ignored) ranges_ignored_ = true;
  const bool shorter = result.response && result.response->status == 416;
  if ((result.range_mismatch || shorter) && out.can_restart()) {
    // Start again from byte 0 rather than guess where the server's bytes belong.
    if (auto st = out.restart(); !st) result.local_error = st.error();
    state.reset();
  }
  return result;
}

// The URL a redirect points to, when it may be followed: resolved against
// `url`, allowed by check_download_url(), within kMaxRedirects.
Result<std::string> FileTransfer::follow(const std::string& url, const Verdict& verdict, int hops) const {
  const auto refuse = [&](const Error& why) {
    return fail(ErrorKind::Protocol, "refusing a redirect: " + why.message);
  };
  if (hops >= kMaxRedirects)
    return refuse(Error{.message = "more than " + std::to_string(kMaxRedirects) + " in a row"});
  auto target = resolve_url(url, verdict.location);
  if (!target) return refuse(target.error());
  if (auto ok = check_download_url(*target, settings_.allow_insecure_http); !ok) return refuse(ok.error());
  return target;
}

Error FileTransfer::in_context(Error error, const std::string& where) const {
  error.message = "downloading " + where + ": " + error.message;
  return error;
}

// Counts a failure against the budget and sleeps before the next attempt.
Status FileTransfer::retry_or_fail(Verdict& verdict, RetryBudget& budget, const std::string& where) {
  const auto delay = budget.next_delay(verdict.retry_after);
  if (!delay) {
    // A server that keeps sending fewer bytes than announced fails verification.
    if (verdict.short_body) verdict.error.kind = ErrorKind::Verification;
    Error error = in_context(std::move(verdict.error), where);
    error.message += " (failed " + budget.exhausted_reason() + ")";
    return std::unexpected(error);
  }
  if (settings_.on_retry) {
    settings_.on_retry(RetryNotice{.what = "downloading " + where,
                                   .error = verdict.error,
                                   .attempt = budget.failures() + 1,
                                   .max_attempts = budget.max_attempts(),
                                   .delay = *delay});
  }
  if (!clock_.sleep_for(*delay)) return std::unexpected(interrupted_keeping_files());
  return {};
}

Status FileTransfer::run(FileOutput& out, FileState& state, const std::function<void(std::uint64_t)>& on_bytes) {
  RetryBudget budget(settings_.retry, clock_);
  BlockWriter blocks(out, state, settings_.hash, settings_.block_size, settings_.write_on_thread);
  int refreshes = 0;
  std::uint64_t high_water = state.bytes;
  CurrentUrl current;
  std::string url;  // empty: take the file's URL from urls_ (again)
  std::string where;
  int hops = 0;
  for (;;) {
    if (cancel_requested()) return std::unexpected(interrupted_keeping_files());
    if (state.bytes == expected_) return {};
    if (url.empty()) {
      auto fresh = urls_.url_for(index_);
      if (!fresh) return std::unexpected(fresh.error());
      current = std::move(*fresh);
      where = name_ + " (" + redact_url(current.url) + ")";
      if (auto ok = check_download_url(current.url, settings_.allow_insecure_http); !ok) {
        return std::unexpected(in_context(ok.error(), name_));
      }
      url = current.url;
      hops = 0;
    }
    const Attempt result = attempt(url, out, blocks, state, on_bytes);
    Verdict verdict = classify(result, state.bytes, expected_, std::chrono::floor<std::chrono::seconds>(clock_.now()));
    if (state.bytes > high_water) {  // progress resets the budgets (attempts and time)
      high_water = state.bytes;
      budget.progress();
      refreshes = 0;
    }
    switch (verdict.next) {
      case Next::Done: return {};
      case Next::Redirect: {
        auto target = follow(url, verdict, hops++);
        if (!target) return std::unexpected(in_context(target.error(), where));
        url = std::move(*target);
        continue;
      }
      case Next::Fail:
        if (result.overflow) out.discard();
        if (verdict.error.kind == ErrorKind::Interrupted) return std::unexpected(verdict.error);
        return std::unexpected(in_context(std::move(verdict.error), where));
      case Next::RefreshUrl:
        if (++refreshes > kMaxRefreshesWithoutProgress) {
          return std::unexpected(in_context(
              std::move(verdict.error),
              where + " still failed after " + std::to_string(kMaxRefreshesWithoutProgress) + " fresh URLs"));
        }
        if (auto st = urls_.refresh(index_, current.generation); !st) return st;
        break;
      case Next::Retry:
        if (auto st = retry_or_fail(verdict, budget, where); !st) return st;
        break;
    }
    url.clear();
  }
}

}  // namespace mews_export::detail
