// A scripted HttpTransport for unit tests: routes requests to handlers by URL
// substring and records every request. Thread-safe (parallel downloads).
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "mews_export/http.hpp"

namespace mews_export::testing {

// Builds a response the way a real transport delivers it: the head goes to
// `sink` first; when it asks to receive the body, `body` follows in chunks of
// `chunk` bytes (a sink that stops yields an Io error); otherwise the body is
// collected (capped at kMaxCollectedBody), or the transfer aborted.
inline Result<HttpResponse> respond(const BodySink* sink, int status, std::string body,
                                    std::map<std::string, std::string> headers = {}, std::size_t chunk = 16 * 1024) {
  HttpResponse response;
  response.status = status;
  response.headers = std::move(headers);
  const BodyAction action = sink != nullptr ? sink->decide(response) : BodyAction::Collect;
  if (action == BodyAction::Abort) return std::unexpected(Error{.kind = ErrorKind::Io, .message = "sink aborted"});
  if (action == BodyAction::Collect) {
    response.body = body.substr(0, kMaxCollectedBody);
    return response;
  }
  for (std::size_t at = 0; at < body.size(); at += chunk) {
    if (!sink->on_data(std::string_view(body).substr(at, chunk))) {
      return std::unexpected(Error{.kind = ErrorKind::Io, .message = "sink aborted"});
    }
  }
  return response;
}

// Answers a request for `body` as a file host does: with a Range (bytes=N-
// or N-M), 206 and Content-Range, or 416 beyond the end; without, 200.
inline Result<HttpResponse> respond_file(const HttpRequest& r, const BodySink* sink, const std::string& body,
                                         std::size_t chunk) {
  if (!r.range_from) return respond(sink, 200, body, {}, chunk);
  const auto from = *r.range_from;
  const auto total = std::to_string(body.size());
  if (from >= body.size()) return respond(sink, 416, "", {{"content-range", "bytes */" + total}});
  const auto last = std::min<std::uint64_t>(r.range_to.value_or(body.size() - 1), body.size() - 1);
  return respond(sink, 206, body.substr(from, last - from + 1),
                 {{"content-range", "bytes " + std::to_string(from) + "-" + std::to_string(last) + "/" + total}},
                 chunk);
}

// Delivers a 200 head and then only `part` of a body to `sink`, and fails like
// a reset connection (as a transfer cut off in the middle).
inline Result<HttpResponse> respond_cut(const BodySink* sink, std::string_view part,
                                        std::map<std::string, std::string> headers = {}) {
  HttpResponse head;
  head.status = 200;
  head.headers = std::move(headers);
  if (sink->decide(head) == BodyAction::Receive) sink->on_data(part);
  return std::unexpected(Error{.kind = ErrorKind::Network, .message = "connection reset by peer"});
}

class FakeTransport final : public HttpTransport {
 public:
  using Handler = std::function<Result<HttpResponse>(const HttpRequest&, const BodySink*)>;

  // Requests whose URL contains `url_part` go to `handler`; routes added later win.
  void on(std::string url_part, Handler handler) {
    std::lock_guard lock(mutex_);
    routes_.insert(routes_.begin(), {std::move(url_part), std::move(handler)});
  }

  Result<HttpResponse> perform(const HttpRequest& request, const BodySink* sink) override {
    Handler handler;
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(request);
      for (const auto& [part, h] : routes_) {
        if (request.url.find(part) != std::string::npos) {
          handler = h;
          break;
        }
      }
    }
    if (!handler) return respond(sink, 404, R"({"Message":"no route in FakeTransport"})");
    return handler(request, sink);
  }

  std::vector<HttpRequest> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

  // Requests whose URL contains `url_part`.
  std::size_t count(const std::string& url_part) const {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (const auto& r : requests_) n += r.url.find(url_part) != std::string::npos ? 1 : 0;
    return n;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::pair<std::string, Handler>> routes_;
  std::vector<HttpRequest> requests_;
};

}  // namespace mews_export::testing
