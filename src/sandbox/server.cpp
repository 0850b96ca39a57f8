#include "server.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "api.hpp"
#include "dataset.hpp"
#include "export_store.hpp"
#include "faults.hpp"
#include "file_server.hpp"
#include "introspection.hpp"
#include "responses.hpp"
#include "signer.hpp"
#include "stats.hpp"
#include "stopper.hpp"
#include "util.hpp"

namespace mews_sandbox {
namespace {

constexpr std::size_t kMaxPayloadBytes = 16 * 1024 * 1024;

bool is_introspection(const httplib::Request& req) { return req.path.rfind("/_sandbox/", 0) == 0; }

// Errors without a body (e.g. httplib's own 400 for a malformed request) get the
// API's JSON error body.
httplib::Server::HandlerResponse error_body(const httplib::Request&, httplib::Response& res) {
  if (!res.has_header("Request-Id")) res.set_header("Request-Id", random_uuid());
  if (res.body.empty() && res.status != 416) {
    std::string message = res.status == 404 ? "Not found." : "HTTP " + std::to_string(res.status);
    res.set_content(nlohmann::json{{"Message", message}, {"RequestId", request_id(res)}}.dump(), "application/json");
  }
  // Handled makes httplib compute Content-Length for the body set here.
  return httplib::Server::HandlerResponse::Handled;
}

}  // namespace

struct Server::Impl {
  Scenario sc;
  std::string default_host = "127.0.0.1:0";  // host:port once bound
  Stats stats;
  Stopper stopper;
  FaultBook faults{sc.faults, stats};
  std::optional<Dataset> dataset =
      sc.dataset ? std::optional<Dataset>(Dataset(*sc.dataset, now_unix())) : std::nullopt;  // started now
  const Dataset* dataset_ptr() const { return dataset ? &*dataset : nullptr; }
  ExportStore store{sc, dataset_ptr(), faults, stats, stopper};
  UrlSigner signer{sc.url_padding};
  ApiHandlers api{sc, store, faults, stats, signer, default_host};
  FileServer files{store, faults, stats, signer, stopper, default_host};
  Introspection introspection{sc, dataset_ptr(), store, stats, stopper};
  httplib::Server http;

  explicit Impl(Scenario s) : sc(std::move(s)) {
    store.seed(sc.seed_exports);
    setup();
  }
  ~Impl() { stopper.stop(); }

  void setup() {
    const std::size_t threads = sc.threads;
    http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    http.set_keep_alive_max_count(1000);
    http.set_tcp_nodelay(true);  // headers and body go out in separate writes: no 40 ms Nagle stall per response
    http.set_keep_alive_timeout(10);
    http.set_read_timeout(30, 0);
    http.set_write_timeout(30, 0);
    http.set_payload_max_length(kMaxPayloadBytes);
    http.set_pre_routing_handler(
        [this](const httplib::Request& req, httplib::Response& res) { return before_routing(req, res); });
    http.set_error_handler(httplib::Server::HandlerWithResponse(error_body));
    api.route(http);
    files.route(http);
    introspection.route(http);
    route_others();
  }

  // httplib compresses answers with Brotli at quality 11 when the client
  // accepts it: a few hundred KB/s, seconds per large getAll. Offer gzip only.
  static void without_brotli(httplib::Request& req) {
    auto it = req.headers.find("Accept-Encoding");
    if (it == req.headers.end()) return;
    std::string value = it->second;
    for (auto at = value.find("br"); at != std::string::npos; at = value.find("br", at)) value.replace(at, 2, "x-none");
    it->second = value;
  }

  // Every response gets a fresh Request-Id; every request outside /_sandbox/ is counted.
  httplib::Server::HandlerResponse before_routing(const httplib::Request& req, httplib::Response& res) {
    res.set_header("Request-Id", random_uuid());
    without_brotli(const_cast<httplib::Request&>(req));
    if (!is_introspection(req)) stats.update([](StatsData& s) { s.requests_total++; });
    return httplib::Server::HandlerResponse::Unhandled;
  }

  // Registered last: whatever no other route took is a counted 404.
  void route_others() {
    auto other = [this](const httplib::Request&, httplib::Response& res) {
      stats.update([](StatsData& s) { s.other_requests++; });
      send_error(res, 404, "Not found.");
    };
    http.Get(".*", other);
    http.Post(".*", other);
    http.Put(".*", other);
    http.Delete(".*", other);
    http.Options(".*", other);
    http.Patch(".*", other);
  }
};

Server::Server(Scenario scenario) : impl_(std::make_unique<Impl>(std::move(scenario))) {}
Server::~Server() = default;

int Server::bind(const std::string& host, int port) {
  int bound = -1;
  if (port == 0)
    bound = impl_->http.bind_to_any_port(host);
  else if (impl_->http.bind_to_port(host, port))
    bound = port;
  impl_->default_host = host + ":" + std::to_string(bound);
  return bound;
}

bool Server::run() { return impl_->http.listen_after_bind(); }

void Server::stop() {
  impl_->stopper.stop();
  impl_->http.stop();
}

}  // namespace mews_sandbox
