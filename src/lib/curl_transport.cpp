// HttpTransport over libcurl. Each thread keeps one easy handle, reset between
// requests, so that connections are reused (keep-alive) across API calls and
// file transfers of the same thread.
#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <mutex>
#include <string>

#include "mews_export/cancel.hpp"
#include "mews_export/http.hpp"

namespace mews_export {
namespace {

// Larger than libcurl's 16 KiB default: fewer callbacks per MiB (BlockWriter
// gathers the pieces into blocks); 256 KiB cost 1.5 MiB more with 8 files and
// was no faster. A request may ask for another size (receive_buffer), within
// what libcurl takes.
constexpr long kReceiveBuffer = 64 * 1024;
constexpr long kMinReceiveBuffer = 1024;
constexpr long kMaxReceiveBuffer = 512 * 1024;

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct HandleDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};

CURL* thread_handle() {
  thread_local std::unique_ptr<CURL, HandleDeleter> handle;
  if (!handle) {
    handle.reset(curl_easy_init());
  } else {
    curl_easy_reset(handle.get());
  }
  return handle.get();
}

struct Transfer {
  CURL* handle = nullptr;
  const BodySink* sink = nullptr;
  HttpResponse response;
  bool head_done = false;  // the final response's head was seen (and given to the sink)
  BodyAction action = BodyAction::Collect;
  bool sink_aborted = false;
  bool collected_enough = false;  // a collected body reached kMaxCollectedBody: stop reading
  // Stall detection: when bytes last arrived, and the limit.
  std::chrono::steady_clock::time_point last_data = std::chrono::steady_clock::now();
  curl_off_t last_dlnow = 0;
  std::chrono::milliseconds stall_limit{0};
  bool stalled = false;
};

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

// The blank line after a response's headers: the head is complete. Interim
// (1xx) responses are skipped; the final one goes to the sink.
void finish_head(Transfer& t) {
  long code = 0;
  curl_easy_getinfo(t.handle, CURLINFO_RESPONSE_CODE, &code);
  if (code >= 100 && code < 200) {
    t.response.headers.clear();
    return;
  }
  t.response.status = static_cast<int>(code);
  t.head_done = true;
  if (t.sink != nullptr) {
    t.action = t.sink->decide(t.response);
  } else {
    t.action = BodyAction::Collect;
  }
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string_view line(data, size * count);
  if (t->head_done) return line.size();  // trailers
  if (line.starts_with("HTTP/")) {
    t->response.headers.clear();
    return line.size();
  }
  if (trim(line).empty()) {
    finish_head(*t);
    return t->action == BodyAction::Abort ? 0 : line.size();
  }
  const auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    t->response.headers[trim(name)] = trim(line.substr(colon + 1));
  }
  return line.size();
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string_view chunk(data, size * count);
  if (!t->head_done) finish_head(*t);
  if (t->action == BodyAction::Receive) {
    if (!t->sink->on_data(chunk)) {
      t->sink_aborted = true;
      return CURL_WRITEFUNC_ERROR;
    }
    return chunk.size();
  }
  if (t->action == BodyAction::Abort) return CURL_WRITEFUNC_ERROR;
  const auto room = kMaxCollectedBody - std::min(kMaxCollectedBody, t->response.body.size());
  t->response.body.append(chunk.substr(0, room));
  if (chunk.size() > room) {
    t->collected_enough = true;  // what we keep is complete; the rest is not read
    return CURL_WRITEFUNC_ERROR;
  }
  return chunk.size();
}

// Called by libcurl at least about once a second, also while nothing arrives.
int on_progress(void* user, curl_off_t, curl_off_t dlnow, curl_off_t, curl_off_t) {
  if (cancel_requested()) return 1;
  auto* t = static_cast<Transfer*>(user);
  const auto now = std::chrono::steady_clock::now();
  if (dlnow != t->last_dlnow) {
    t->last_dlnow = dlnow;
    t->last_data = now;
  } else if (t->stall_limit.count() > 0 && now - t->last_data >= t->stall_limit) {
    t->stalled = true;
    return 1;
  }
  return 0;
}

// The request's headers as a curl list, freed (and unset) when done.
class HeaderList {
 public:
  HeaderList(CURL* handle, const HttpRequest& request) : handle_(handle) {
    for (const auto& [name, value] : request.headers) list_ = curl_slist_append(list_, (name + ": " + value).c_str());
    // No "Expect: 100-continue" round trip before a body.
    if (request.method == "POST" || request.method == "PUT") list_ = curl_slist_append(list_, "Expect:");
    curl_easy_setopt(handle_, CURLOPT_HTTPHEADER, list_);
  }
  ~HeaderList() {
    curl_easy_setopt(handle_, CURLOPT_HTTPHEADER, nullptr);
    curl_slist_free_all(list_);
  }
  HeaderList(const HeaderList&) = delete;
  HeaderList& operator=(const HeaderList&) = delete;

 private:
  CURL* handle_;
  curl_slist* list_ = nullptr;
};

void set_security(CURL* h, const CurlOptions& options) {
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  // Never followed here: the API client refuses redirects (tokens go only to
  // the API host) and the downloader checks each target before fetching it.
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options.ca_bundle.empty()) {
    // Adds to the system's trust store rather than replacing it: the file
    // as CAINFO, the system's hashed certificate directory as CAPATH.
    curl_easy_setopt(h, CURLOPT_CAINFO, options.ca_bundle.c_str());
    curl_easy_setopt(h, CURLOPT_CAPATH, "/etc/ssl/certs");
  }
}

void set_callbacks(CURL* h, Transfer& t) {
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, &t);
}

// Method, body, range and limits of `request`; `range` holds the Range text
// for as long as the transfer runs.
void set_request(CURL* h, const HttpRequest& request, std::string& range) {
  curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.connect_timeout.count()));
  const long buffer =
      request.receive_buffer == 0
          ? kReceiveBuffer
          : static_cast<long>(std::clamp<std::size_t>(request.receive_buffer, kMinReceiveBuffer, kMaxReceiveBuffer));
  curl_easy_setopt(h, CURLOPT_BUFFERSIZE, buffer);
  if (request.method == "POST") {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  } else if (request.method == "PUT") {
    // A body from memory, sent as is (CURLOPT_UPLOAD would need a read callback).
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  } else if (request.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (request.method == "DELETE") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
  } else {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  }
  if (request.range_from) {
    range = std::to_string(*request.range_from) + "-";
    if (request.range_to) range += std::to_string(*request.range_to);
    curl_easy_setopt(h, CURLOPT_RANGE, range.c_str());
  }
}

// Why a transfer that ended with `code` brought no complete response.
Error transfer_error(CURLcode code, const Transfer& t, const HttpRequest& request, const char* error_buffer) {
  const std::string detail = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
  if (t.stalled) {
    return Error{.kind = ErrorKind::Timeout,
                 .message = "no data received for " + std::to_string(request.low_speed_time.count()) + "s (stalled)"};
  }
  if (code == CURLE_ABORTED_BY_CALLBACK || (cancel_requested() && code == CURLE_WRITE_ERROR)) {
    return interrupted_error();
  }
  if (t.sink_aborted || t.action == BodyAction::Abort || code == CURLE_WRITE_ERROR) {
    return Error{.kind = ErrorKind::Io, .message = "the transfer was stopped by its receiver"};
  }
  if (code == CURLE_OPERATION_TIMEDOUT) return Error{.kind = ErrorKind::Timeout, .message = "timed out: " + detail};
  return Error{.kind = ErrorKind::Network, .message = detail};
}

class CurlTransport final : public HttpTransport {
 public:
  explicit CurlTransport(CurlOptions options) : options_(std::move(options)) { global_init(); }

  Result<HttpResponse> perform(const HttpRequest& request, const BodySink* sink) override {
    Transfer t;
    t.handle = thread_handle();
    t.sink = sink;
    // A stall is "no byte for low_speed_time": measured in on_progress rather
    // than with CURLOPT_LOW_SPEED_*, whose averaging over ~5 s delays detection.
    t.stall_limit = request.low_speed_time;
    CURL* h = t.handle;
    if (h == nullptr) return fail(ErrorKind::Network, "cannot initialise libcurl");

    char error_buffer[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");  // every encoding libcurl can decode
    if (!options_.user_agent.empty()) curl_easy_setopt(h, CURLOPT_USERAGENT, options_.user_agent.c_str());
    set_security(h, options_);
    set_callbacks(h, t);
    std::string range;
    set_request(h, request, range);
    CURLcode code = CURLE_OK;
    {
      HeaderList headers(h, request);
      code = curl_easy_perform(h);
    }
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);

    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    t.response.status = static_cast<int>(status);
    if (code == CURLE_OK || (t.collected_enough && !cancel_requested())) return std::move(t.response);
    return std::unexpected(transfer_error(code, t, request, error_buffer));
  }

 private:
  CurlOptions options_;
};

}  // namespace

std::unique_ptr<HttpTransport> make_curl_transport(const CurlOptions& options) {
  return std::make_unique<CurlTransport>(options);
}

}  // namespace mews_export
