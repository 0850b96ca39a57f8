#include "server.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <variant>

#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <zlib.h>

#include "datagen.hpp"

namespace mews_sandbox {
namespace {

using json = nlohmann::json;
using SteadyTime = std::chrono::steady_clock::time_point;

constexpr std::size_t kMaxIds = 1000;
constexpr std::int64_t kMinEndAgeSeconds = 5 * 60;
constexpr std::int64_t kMaxSpanSeconds = 180LL * 24 * 3600;
constexpr std::size_t kChunkBytes = 64 * 1024;
constexpr const char* kJsonLines = "application/x-ndjson";

std::int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string hex(const unsigned char* data, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 15];
  }
  return out;
}

std::string random_uuid() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) {
    static std::atomic<std::uint64_t> counter{0};
    std::uint64_t v = ++counter ^ static_cast<std::uint64_t>(now_unix());
    for (std::size_t i = 0; i < sizeof b; ++i) b[i] = static_cast<unsigned char>(v >> ((i % 8) * 8));
  }
  b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);
  std::string h = hex(b, sizeof b);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

std::optional<std::uint64_t> to_u64(std::string_view s) {
  std::uint64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc{} || r.ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

// Closes the client connection of `req` with a TCP reset and without a response:
// the accepted socket is found by its ports, given SO_LINGER 0 and replaced by
// /dev/null so that httplib's response goes nowhere.
bool reset_connection(const httplib::Request& req) {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return false;
  int found = -1;
  while (dirent* ent = readdir(dir)) {
    auto fd_value = to_u64(ent->d_name);
    if (!fd_value) continue;
    int fd = static_cast<int>(*fd_value);
    sockaddr_storage local{}, peer{};
    socklen_t llen = sizeof local, plen = sizeof peer;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &llen) != 0) continue;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &plen) != 0) continue;
    auto port_of = [](const sockaddr_storage& a) -> int {
      if (a.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&a)->sin_port);
      if (a.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&a)->sin6_port);
      return -1;
    };
    if (port_of(local) == req.local_port && port_of(peer) == req.remote_port) {
      found = fd;
      break;
    }
  }
  closedir(dir);
  if (found < 0) return false;
  linger lg{1, 0};
  setsockopt(found, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0) {
    shutdown(found, SHUT_RDWR);
    return true;
  }
  dup2(devnull, found);  // closes the socket (RST) atomically
  close(devnull);
  return true;
}

enum class Status { Pending, Processing, Success, Failed, Expired };

const char* status_name(Status s) {
  switch (s) {
    case Status::Pending: return "Pending";
    case Status::Processing: return "Processing";
    case Status::Success: return "Success";
    case Status::Failed: return "Failed";
    case Status::Expired: return "Expired";
  }
  return "Pending";
}

struct ExportState {
  std::string id;
  std::string entity;
  std::size_t token_index = 0;
  json scope;
  json filters;
  SteadyTime created_steady;
  std::int64_t created_unix = 0;
  std::uint64_t polls = 0;
  bool failed = false;
  std::vector<FileSpec> specs;
  std::vector<bool> drop_final_newline;
  std::vector<std::shared_ptr<const FileIndex>> indexes;  // filled by the indexer
  bool indexed = false;
  std::optional<std::int64_t> completed_unix;

  std::uint64_t served_size(std::size_t i) const {
    std::uint64_t size = indexes[i]->size;
    return drop_final_newline[i] && size > 0 ? size - 1 : size;
  }
};

struct Stats {
  std::map<std::string, std::uint64_t> api_requests;
  std::map<std::string, std::uint64_t> adds_created;
  std::uint64_t getall_calls = 0;
  std::uint64_t file_gets = 0;
  std::uint64_t range_gets = 0;
  std::vector<std::string> ranges;
  std::uint64_t heads = 0;
  std::uint64_t forbidden = 0;
  std::uint64_t not_found = 0;
  std::uint64_t rate_limited = 0;
  std::uint64_t unauthorized = 0;
  std::uint64_t bad_requests = 0;
  std::uint64_t redirected_gets = 0;    // GET/HEAD of /redirected/files/...
  std::uint64_t gzip_responses = 0;     // file bodies sent with Content-Encoding: gzip
  std::uint64_t chunked_responses = 0;  // file bodies sent with Transfer-Encoding: chunked
  std::map<std::string, std::uint64_t> faults_triggered;

  json to_json() const {
    std::uint64_t total = 0;
    for (const auto& [k, v] : api_requests) total += v;
    return json{{"api_requests", api_requests},
                {"api_requests_total", total},
                {"adds_created", adds_created},
                {"getall_calls", getall_calls},
                {"file_gets", file_gets},
                {"range_gets", range_gets},
                {"ranges", ranges},
                {"heads", heads},
                {"forbidden", forbidden},
                {"not_found", not_found},
                {"rate_limited", rate_limited},
                {"unauthorized", unauthorized},
                {"bad_requests", bad_requests},
                {"redirected_gets", redirected_gets},
                {"gzip_responses", gzip_responses},
                {"chunked_responses", chunked_responses},
                {"faults_triggered", faults_triggered}};
  }
};

const char* action_name(FaultAction a) {
  switch (a) {
    case FaultAction::Status: return "status";
    case FaultAction::Reset: return "reset";
    case FaultAction::Truncate: return "truncate";
    case FaultAction::Stall: return "stall";
    case FaultAction::DropFinalNewline: return "drop_final_newline";
    case FaultAction::ExtraBytes: return "extra_bytes";
    case FaultAction::Redirect: return "redirect";
    case FaultAction::Gzip: return "gzip";
    case FaultAction::Chunked: return "chunked";
    case FaultAction::Trickle: return "trickle";
  }
  return "status";
}

// Streaming gzip (RFC 1952) compression of one response body.
class GzipStream {
 public:
  GzipStream() { ok_ = deflateInit2(&z_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK; }
  ~GzipStream() {
    if (ok_) deflateEnd(&z_);
  }
  GzipStream(const GzipStream&) = delete;
  GzipStream& operator=(const GzipStream&) = delete;

  // Compresses `in` (finishing the stream when `last`) and returns the output so far.
  std::optional<std::string> compress(std::string_view in, bool last) {
    if (!ok_) return std::nullopt;
    std::string out;
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_.avail_in = static_cast<uInt>(in.size());
    char buf[16384];
    int rc = Z_OK;
    do {
      z_.next_out = reinterpret_cast<Bytef*>(buf);
      z_.avail_out = sizeof buf;
      rc = deflate(&z_, last ? Z_FINISH : Z_NO_FLUSH);
      if (rc == Z_STREAM_ERROR) return std::nullopt;
      out.append(buf, sizeof buf - z_.avail_out);
    } while (z_.avail_out == 0 || (last && rc != Z_STREAM_END));
    return out;
  }

 private:
  z_stream z_{};
  bool ok_ = false;
};

bool accepts_gzip(const httplib::Request& req) {
  std::string value = req.get_header_value("Accept-Encoding");
  std::transform(value.begin(), value.end(), value.begin(), [](unsigned char c) { return std::tolower(c); });
  // "gzip" listed without q=0 (a plain substring check is enough for the clients we test).
  auto pos = value.find("gzip");
  if (pos == std::string::npos) return false;
  auto end = value.find(',', pos);
  std::string item = value.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
  auto q = item.find("q=");
  return q == std::string::npos || std::strtod(item.c_str() + q + 2, nullptr) > 0;
}

}  // namespace

struct Server::Impl {
  Scenario sc;
  httplib::Server http;
  std::string bound_host = "127.0.0.1";
  int bound_port = 0;
  unsigned char key[32]{};

  std::mutex mu;
  std::map<std::string, std::shared_ptr<ExportState>> exports;
  std::vector<std::shared_ptr<ExportState>> order;
  std::map<std::size_t, std::deque<SteadyTime>> windows;
  std::vector<std::uint64_t> fault_seen;
  Stats stats;

  std::atomic<bool> stopping{false};
  std::mutex stop_mu;
  std::condition_variable stop_cv;
  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<Worker> workers;  // guarded by mu

  explicit Impl(Scenario s) : sc(std::move(s)), fault_seen(sc.faults.size(), 0) {
    if (RAND_bytes(key, sizeof key) != 1) {
      std::uint64_t v = static_cast<std::uint64_t>(now_unix()) ^ reinterpret_cast<std::uintptr_t>(this);
      for (std::size_t i = 0; i < sizeof key; ++i) key[i] = static_cast<unsigned char>(v >> ((i % 8) * 8));
    }
    setup();
  }

  ~Impl() {
    stopping = true;
    stop_cv.notify_all();
    std::vector<Worker> all;
    {
      std::lock_guard lock(mu);
      all.swap(workers);
    }
    for (auto& w : all)
      if (w.thread.joinable()) w.thread.join();
  }

  // --- helpers -------------------------------------------------------------

  static std::string request_id(const httplib::Response& res) { return res.get_header_value("Request-Id"); }

  void error(httplib::Response& res, int status, const std::string& message) {
    res.status = status;
    res.set_content(json{{"Message", message}, {"RequestId", request_id(res)}}.dump(), "application/json");
  }

  std::string sign(const std::string& path, std::int64_t expires) {
    std::string data = path + "\n" + std::to_string(expires);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key, sizeof key, reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
    return hex(mac, len);
  }

  // The index of the first fault of `target` that hits this occurrence, counting
  // it for every matching fault. Call with `mu` held.
  std::optional<std::size_t> match_fault(FaultTarget target, const std::string& entity,
                                         std::optional<std::uint32_t> file_index, bool include_drop = false) {
    std::optional<std::size_t> hit;
    for (std::size_t i = 0; i < sc.faults.size(); ++i) {
      const Fault& f = sc.faults[i];
      if (f.target != target) continue;
      if ((f.action == FaultAction::DropFinalNewline) != include_drop) continue;
      if (f.entity && *f.entity != entity) continue;
      if (f.file_index && file_index && *f.file_index != *file_index) continue;
      std::uint64_t n = fault_seen[i]++;
      bool in = n >= f.after && (!f.times || n < f.after + *f.times);
      if (in && !hit) hit = i;
    }
    if (hit) stats.faults_triggered[action_name(sc.faults[*hit].action)]++;
    return hit;
  }

  // Applies a status or reset fault. Returns true when the response is decided.
  bool apply_request_fault(const Fault& f, const httplib::Request& req, httplib::Response& res) {
    if (f.action == FaultAction::Reset) {
      reset_connection(req);
      res.status = 500;
      return true;
    }
    if (f.action == FaultAction::Status) {
      res.status = f.status;
      if (f.retry_after) res.set_header("Retry-After", *f.retry_after);
      if (f.body) {
        res.set_content(f.body->is_string() ? f.body->get<std::string>() : f.body->dump(), "application/json");
      } else {
        res.set_content(
            json{{"Message", "Injected fault: HTTP " + std::to_string(f.status)}, {"RequestId", request_id(res)}}
                .dump(),
            "application/json");
      }
      return true;
    }
    return false;
  }

  // Status of `e` now; `observe` counts this as a poll. Call with `mu` held.
  Status status_of(ExportState& e, bool observe) {
    bool done = false;
    Status base = Status::Pending;
    if (sc.by_seconds) {
      double age = std::chrono::duration<double>(std::chrono::steady_clock::now() - e.created_steady).count();
      if (age < sc.pending_seconds)
        base = Status::Pending;
      else if (age < sc.pending_seconds + sc.processing_seconds)
        base = Status::Processing;
      else
        done = true;
    } else {
      if (e.polls < sc.pending_polls)
        base = Status::Pending;
      else if (e.polls < sc.pending_polls + sc.processing_polls)
        base = Status::Processing;
      else
        done = true;
    }
    if (observe) ++e.polls;
    if (!done) return base;
    if (e.failed) return Status::Failed;
    if (!e.indexed) return Status::Processing;
    std::int64_t now = now_unix();
    if (!e.completed_unix) e.completed_unix = now;
    if (now >= *e.completed_unix + sc.expires_after_seconds) return Status::Expired;
    return Status::Success;
  }

  json export_json(ExportState& e, Status status, const std::string& host) {
    json files = json::array();
    json expires = nullptr;
    if (status == Status::Success || status == Status::Expired)
      expires = format_utc(*e.completed_unix + sc.expires_after_seconds);
    if (status == Status::Success) {
      std::int64_t url_expires = now_unix() + sc.url_ttl_seconds;
      for (std::size_t i = 0; i < e.specs.size(); ++i) {
        std::string path = "/files/" + e.id + "/" + std::to_string(i);
        json file{{"Url", "http://" + host + path + "?expires=" + std::to_string(url_expires) +
                              "&signature=" + sign(path, url_expires)},
                  {"SizeInBytes", e.served_size(i)}};
        if (sc.unknown_fields) {
          file["Checksum"] = "x";
          file["FutureFileField"] = json{{"Compression", "none"}, {"Parts", json::array({1, 2})}};
        }
        files.push_back(std::move(file));
      }
    }
    json out{{"Id", e.id},     {"Status", status_name(status)}, {"EntityType", e.entity}, {"Scope", e.scope},
             {"Files", files}, {"ExpiresUtc", expires},         {"Filters", e.filters}};
    if (sc.unknown_fields) {
      out["FutureField"] = json{{"Nested", json{{"A", json::array({1, "two", nullptr})}}}, {"Flag", true}};
      out["CreatedUtc"] = format_utc(e.created_unix);
      out["Progress"] = 0.5;
    }
    return out;
  }

  // The response object of add/getAll, with an unknown top-level key when asked.
  json response_json(json object) const {
    if (sc.unknown_fields) object["FutureTopLevel"] = json{{"Version", 2}, {"Hint", "ignore me"}};
    return object;
  }

  std::string host_of(const httplib::Request& req) {
    std::string host = req.get_header_value("Host");
    if (host.empty()) host = bound_host + ":" + std::to_string(bound_port);
    return host;
  }

  void reap_workers() {  // with mu held
    for (auto it = workers.begin(); it != workers.end();) {
      if (it->done->load()) {
        it->thread.join();
        it = workers.erase(it);
      } else {
        ++it;
      }
    }
  }

  void start_indexer(std::shared_ptr<ExportState> e) {  // with mu held
    auto done = std::make_shared<std::atomic<bool>>(false);
    std::vector<FileSpec> specs = e->specs;
    std::thread t([this, e, done, specs = std::move(specs)] {
      std::vector<std::shared_ptr<const FileIndex>> indexes;
      for (const auto& spec : specs) {
        auto index = index_file(spec, &stopping, sc.checkpoint_every, sc.cache_limit_bytes);
        if (!index) {
          *done = true;
          return;
        }
        indexes.push_back(std::make_shared<const FileIndex>(std::move(*index)));
      }
      {
        std::lock_guard lock(mu);
        e->indexes = std::move(indexes);
        e->indexed = true;
      }
      *done = true;
    });
    workers.push_back(Worker{std::move(t), done});
  }

  // --- API -----------------------------------------------------------------

  void handle_api(const std::string& action, const httplib::Request& req, httplib::Response& res) {
    json body = json::parse(req.body, nullptr, false);
    std::string entity_hint;
    if (body.is_object() && body.contains("EntityType") && body["EntityType"].is_string())
      entity_hint = body["EntityType"].get<std::string>();
    {
      std::lock_guard lock(mu);
      stats.api_requests[action]++;
      auto fault = match_fault(action == "add" ? FaultTarget::Add : FaultTarget::GetAll, entity_hint, std::nullopt);
      if (fault && apply_request_fault(sc.faults[*fault], req, res)) return;
    }
    if (body.is_discarded() || !body.is_object()) {
      count_bad();
      return error(res, 400, "Invalid request: the body is not a JSON object.");
    }
    auto token = [&](const char* name) -> std::string {
      return body.contains(name) && body[name].is_string() ? body[name].get<std::string>() : std::string();
    };
    std::string client_token = token("ClientToken");
    std::string access_token = token("AccessToken");
    auto ct = std::find(sc.client_tokens.begin(), sc.client_tokens.end(), client_token);
    auto at = std::find(sc.access_tokens.begin(), sc.access_tokens.end(), access_token);
    if (client_token.empty() || access_token.empty() || ct == sc.client_tokens.end() || at == sc.access_tokens.end()) {
      std::lock_guard lock(mu);
      stats.unauthorized++;
      return error(res, 401, "Invalid ClientToken or AccessToken.");
    }
    std::size_t token_index = static_cast<std::size_t>(at - sc.access_tokens.begin());
    if (!rate_limit_ok(token_index, res)) return;
    if (!body.contains("Client") || !body["Client"].is_string() || body["Client"].get<std::string>().empty()) {
      count_bad();
      return error(res, 400, "Invalid request: Client is required.");
    }
    if (action == "add") return handle_add(body, token_index, req, res);
    return handle_get_all(body, token_index, req, res);
  }

  void count_bad() {
    std::lock_guard lock(mu);
    stats.bad_requests++;
  }

  bool rate_limit_ok(std::size_t token_index, httplib::Response& res) {
    std::lock_guard lock(mu);
    auto now = std::chrono::steady_clock::now();
    auto window = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(sc.rate_limit_window_seconds));
    auto& q = windows[token_index];
    while (!q.empty() && q.front() + window <= now) q.pop_front();
    if (q.size() >= sc.rate_limit_requests) {
      double wait = std::chrono::duration<double>(q.front() + window - now).count();
      long seconds = std::max(1L, static_cast<long>(wait + 0.999));
      stats.rate_limited++;
      res.set_header("Retry-After", std::to_string(seconds));
      error(res, 429, "Too many requests; retry after " + std::to_string(seconds) + " seconds.");
      return false;
    }
    q.push_back(now);
    return true;
  }

  // Validates Scope; returns an error message or "".
  static std::string check_id_list(const json& scope, const char* key, json& out) {
    out = nullptr;
    if (!scope.contains(key) || scope[key].is_null()) return "";
    const json& list = scope[key];
    if (!list.is_array()) return std::string("Scope.") + key + " must be an array.";
    if (list.size() > kMaxIds) return std::string("Scope.") + key + " may contain at most 1000 ids.";
    for (const auto& id : list)
      if (!id.is_string()) return std::string("Scope.") + key + " must contain strings.";
    out = list;
    return "";
  }

  void handle_add(const json& body, std::size_t token_index, const httplib::Request& req, httplib::Response& res) {
    if (!body.contains("EntityType") || !body["EntityType"].is_string())
      return count_bad(), error(res, 400, "Invalid request: EntityType is required.");
    std::string entity = body["EntityType"].get<std::string>();
    if (!is_entity_type(entity)) return count_bad(), error(res, 400, "Invalid EntityType: " + entity + ".");

    json enterprise_ids = nullptr, chain_ids = nullptr;
    if (body.contains("Scope") && !body["Scope"].is_null()) {
      const json& scope = body["Scope"];
      if (!scope.is_object()) return count_bad(), error(res, 400, "Invalid Scope.");
      for (auto [name, out] : {std::pair{"EnterpriseIds", &enterprise_ids}, std::pair{"ChainIds", &chain_ids}}) {
        std::string msg = check_id_list(scope, name, *out);
        if (!msg.empty()) return count_bad(), error(res, 400, msg);
      }
    }

    FileSpec base;
    base.entity = entity;
    base.seed = sc.seed;
    if (enterprise_ids.is_array())
      for (const auto& id : enterprise_ids) base.enterprise_ids.push_back(id.get<std::string>());
    json filters = nullptr;
    if (body.contains("Filters") && !body["Filters"].is_null()) {
      filters = body["Filters"];
      if (!filters.is_object()) return count_bad(), error(res, 400, "Invalid Filters.");
      if (filters.contains("UpdatedUtc") && !filters["UpdatedUtc"].is_null()) {
        const json& u = filters["UpdatedUtc"];
        std::optional<std::int64_t> start, end;
        if (u.is_object() && u.contains("StartUtc") && u["StartUtc"].is_string())
          start = parse_utc(u["StartUtc"].get<std::string>());
        if (u.is_object() && u.contains("EndUtc") && u["EndUtc"].is_string())
          end = parse_utc(u["EndUtc"].get<std::string>());
        if (!start || !end)
          return count_bad(), error(res, 400, "Invalid Filters.UpdatedUtc: StartUtc and EndUtc are required.");
        if (*start > *end) return count_bad(), error(res, 400, "Invalid Filters.UpdatedUtc: StartUtc is after EndUtc.");
        if (*end > now_unix() - kMinEndAgeSeconds)
          return count_bad(),
                 error(res, 400, "Invalid Filters.UpdatedUtc: EndUtc must be at least 5 minutes in the past.");
        if (*end - *start > kMaxSpanSeconds)
          return count_bad(), error(res, 400, "Invalid Filters.UpdatedUtc: the interval may span at most 180 days.");
        base.updated = std::pair{*start, *end};
      }
      if (filters.contains("LedgerEntryFilters") && !filters["LedgerEntryFilters"].is_null()) {
        const json& l = filters["LedgerEntryFilters"];
        if (!l.is_object()) return count_bad(), error(res, 400, "Invalid Filters.LedgerEntryFilters.");
        if (l.contains("Posting") && !l["Posting"].is_null()) {
          const json& p = l["Posting"];
          std::optional<std::int64_t> start, end;
          if (p.is_object() && p.contains("Start") && p["Start"].is_string())
            start = parse_date(p["Start"].get<std::string>());
          if (p.is_object() && p.contains("End") && p["End"].is_string()) end = parse_date(p["End"].get<std::string>());
          if (!start || !end)
            return count_bad(),
                   error(res, 400, "Invalid Filters.LedgerEntryFilters.Posting: Start and End dates are required.");
          if (*start > *end)
            return count_bad(), error(res, 400, "Invalid Filters.LedgerEntryFilters.Posting: Start is after End.");
          base.posting = std::pair{*start, *end};
        }
      }
    }
    if (entity == "LedgerEntry" && !base.posting)
      return count_bad(), error(res, 400, "Filters.LedgerEntryFilters.Posting is required for LedgerEntry exports.");

    std::lock_guard lock(mu);
    for (auto& other : order) {
      if (other->entity != entity || other->token_index != token_index) continue;
      Status s = status_of(*other, false);
      if (s == Status::Pending || s == Status::Processing) {
        stats.bad_requests++;
        return error(res, 400, "An export of this entity type is already pending.");
      }
    }
    auto e = std::make_shared<ExportState>();
    e->id = random_uuid();
    e->entity = entity;
    e->token_index = token_index;
    e->scope = json{{"EnterpriseIds", enterprise_ids}, {"ChainIds", chain_ids}};
    e->filters = filters;
    e->created_steady = std::chrono::steady_clock::now();
    e->created_unix = now_unix();
    e->failed = sc.fails(entity);
    if (!e->failed) {
      const FileLayout& layout = sc.layout_for(entity);
      for (std::uint32_t i = 0; i < layout.files; ++i) {
        FileSpec spec = base;
        spec.file_index = i;
        spec.records = layout.records_per_file;
        spec.target_bytes = layout.bytes_per_file;
        e->specs.push_back(std::move(spec));
        e->drop_final_newline.push_back(false);
      }
      // drop_final_newline faults count the exports created (of their entity type).
      if (auto hit = match_fault(FaultTarget::File, entity, std::nullopt, true)) {
        const Fault& f = sc.faults[*hit];
        for (std::uint32_t k = 0; k < layout.files; ++k)
          if (!f.file_index || *f.file_index == k) e->drop_final_newline[k] = true;
      }
      reap_workers();
      start_indexer(e);
    }
    exports[e->id] = e;
    order.push_back(e);
    stats.adds_created[entity]++;
    res.status = 200;
    res.set_content(response_json(json{{"Export", export_json(*e, Status::Pending, host_of(req))}}).dump(),
                    "application/json");
  }

  void handle_get_all(const json& body, std::size_t token_index, const httplib::Request& req, httplib::Response& res) {
    if (!body.contains("ExportIds") || !body["ExportIds"].is_array())
      return count_bad(), error(res, 400, "Invalid request: ExportIds is required.");
    const json& ids = body["ExportIds"];
    if (ids.empty() || ids.size() > kMaxIds)
      return count_bad(), error(res, 400, "Invalid request: ExportIds must contain 1 to 1000 ids.");
    for (const auto& id : ids)
      if (!id.is_string()) return count_bad(), error(res, 400, "Invalid request: ExportIds must contain strings.");
    std::string host = host_of(req);
    std::lock_guard lock(mu);
    stats.getall_calls++;
    json list = json::array();
    std::vector<std::string> seen;
    for (const auto& id_json : ids) {
      std::string id = id_json.get<std::string>();
      if (std::find(seen.begin(), seen.end(), id) != seen.end()) continue;
      seen.push_back(id);
      auto it = exports.find(id);
      if (it == exports.end() || it->second->token_index != token_index) continue;
      ExportState& e = *it->second;
      list.push_back(export_json(e, status_of(e, true), host));
    }
    res.status = 200;
    res.set_content(response_json(json{{"Exports", list}}).dump(), "application/json");
  }

  // --- files ---------------------------------------------------------------

  struct Lookup {
    std::shared_ptr<ExportState> e;
    std::size_t index = 0;
    std::shared_ptr<const FileIndex> file;
    std::uint64_t size = 0;
  };

  // The export file at `id`/`index` when it exists and is downloadable, or an error status.
  std::variant<Lookup, std::pair<int, std::string>> lookup(const std::string& id, const std::string& index_text,
                                                           bool require_live) {
    auto index = to_u64(index_text);
    std::lock_guard lock(mu);
    auto it = exports.find(id);
    if (it == exports.end() || !index) return std::pair{404, std::string("No such export file.")};
    auto& e = it->second;
    if (!e->indexed || *index >= e->specs.size()) return std::pair{404, std::string("No such export file.")};
    if (require_live) {
      Status s = status_of(*e, false);
      if (s == Status::Expired) return std::pair{403, std::string("The export has expired.")};
      if (s != Status::Success) return std::pair{404, std::string("The export is not ready.")};
    }
    auto i = static_cast<std::size_t>(*index);
    return Lookup{e, i, e->indexes[i], e->served_size(i)};
  }

  // Waits `seconds` unless the server stops first; false when stopping.
  bool pause(double seconds) {
    std::unique_lock lock(stop_mu);
    return !stop_cv.wait_for(lock, std::chrono::duration<double>(seconds), [this] { return stopping.load(); });
  }

  // Streams bytes [start, start+length) of the file, applying a truncate, stall,
  // extra_bytes, trickle or chunked fault; `gzip` compresses the body on the fly.
  void serve_content(httplib::Response& res, const Lookup& l, std::uint64_t start, std::uint64_t length,
                     std::optional<Fault> fault, bool gzip = false) {
    auto reader = std::make_shared<FileReader>(l.e->specs[l.index], l.file);
    auto buffer = std::make_shared<std::string>();
    if (gzip || (fault && fault->action == FaultAction::Chunked)) {
      // No Content-Length: chunked transfer encoding, optionally gzip-compressed.
      {
        std::lock_guard lock(mu);
        stats.chunked_responses++;
        if (gzip) stats.gzip_responses++;
      }
      if (gzip) res.set_header("Content-Encoding", "gzip");
      auto z = gzip ? std::make_shared<GzipStream>() : nullptr;
      auto pos = std::make_shared<std::uint64_t>(0);
      auto finished = std::make_shared<bool>(false);
      res.set_chunked_content_provider(
          kJsonLines, [reader, buffer, start, length, z, pos, finished](std::size_t, httplib::DataSink& sink) {
            if (*finished) return false;
            buffer->clear();
            if (*pos < length) {
              auto n = static_cast<std::size_t>(std::min<std::uint64_t>(kChunkBytes, length - *pos));
              reader->read(start + *pos, n, *buffer);
              if (buffer->empty()) return false;
              *pos += buffer->size();
            }
            const bool last = *pos >= length;
            if (z) {
              auto out = z->compress(*buffer, last);
              if (!out) return false;
              *buffer = std::move(*out);
            }
            if (!buffer->empty() && !sink.write(buffer->data(), buffer->size())) return false;
            if (last) {
              *finished = true;
              sink.done();
            }
            return true;
          });
      return;
    }
    if (length == 0) {
      res.set_header("Content-Length", "0");
      res.set_content("", kJsonLines);
      return;
    }
    // extra_bytes: the body is longer than the SizeInBytes getAll announced.
    const std::uint64_t real_length = length;
    if (fault && fault->action == FaultAction::ExtraBytes) length += fault->bytes.value_or(16);
    std::uint64_t limit = length;
    if (fault && (fault->action == FaultAction::Truncate || fault->action == FaultAction::Stall))
      limit = std::min<std::uint64_t>(length, fault->bytes.value_or(length / 2));
    std::uint64_t step = kChunkBytes;  // bytes per provider call
    double interval = 0;               // trickle: pause between steps
    if (fault && fault->action == FaultAction::Trickle) {
      step = std::max<std::uint64_t>(1, fault->bytes.value_or(1024));
      interval = fault->seconds;
    }
    res.set_content_provider(
        static_cast<std::size_t>(length), kJsonLines,
        [this, reader, buffer, start, limit, real_length, fault, step, interval](std::size_t offset, std::size_t max,
                                                                                 httplib::DataSink& sink) {
          if (offset >= real_length && offset < limit) {
            const std::string junk(static_cast<std::size_t>(std::min<std::uint64_t>(max, limit - offset)), 'x');
            return sink.write(junk.data(), junk.size());
          }
          if (offset >= limit) {
            if (fault && fault->action == FaultAction::Stall) pause(fault->seconds);
            return false;  // close the connection before the announced length
          }
          if (interval > 0 && offset > 0 && !pause(interval)) return false;
          std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>({max, step, limit - offset}));
          buffer->clear();
          reader->read(start + offset, n, *buffer);
          if (buffer->empty()) return false;
          return sink.write(buffer->data(), buffer->size());
        });
  }

  // GET/HEAD of a signed file URL. `redirected`: the /redirected/files/ twin that
  // a redirect fault points to (same bytes, own signature, never faulted).
  void handle_file(const httplib::Request& req, httplib::Response& res, bool redirected = false) {
    bool head = req.method == "HEAD";
    std::string range = req.get_header_value("Range");
    // We interpret Range ourselves; keep httplib from applying it a second time.
    const_cast<httplib::Request&>(req).ranges.clear();
    {
      std::lock_guard lock(mu);
      (head ? stats.heads : stats.file_gets)++;
      if (redirected) stats.redirected_gets++;
      if (!range.empty()) {
        stats.range_gets++;
        stats.ranges.push_back(range);
      }
    }
    const std::string id = req.matches[1];
    const std::string index_text = req.matches[2];
    const std::string file_path = "/files/" + id + "/" + index_text;
    const std::string path = (redirected ? "/redirected" : "") + file_path;
    auto expires = to_u64(req.get_param_value("expires"));
    std::string signature = req.get_param_value("signature");
    if (!expires || signature != sign(path, static_cast<std::int64_t>(*expires)) ||
        static_cast<std::int64_t>(*expires) < now_unix()) {
      std::lock_guard lock(mu);
      stats.forbidden++;
      return error(res, 403,
                   expires && signature == sign(path, static_cast<std::int64_t>(*expires))
                       ? "The URL has expired; call exports/getAll for a fresh one."
                       : "Invalid signature.");
    }
    auto found = lookup(id, index_text, true);
    if (auto* err = std::get_if<std::pair<int, std::string>>(&found)) {
      std::lock_guard lock(mu);
      (err->first == 403 ? stats.forbidden : stats.not_found)++;
      return error(res, err->first, err->second);
    }
    const Lookup& l = std::get<Lookup>(found);
    std::optional<Fault> fault;
    if (!redirected) {
      std::lock_guard lock(mu);
      if (auto hit = match_fault(FaultTarget::File, l.e->entity, static_cast<std::uint32_t>(l.index)))
        fault = sc.faults[*hit];
    }
    if (fault && apply_request_fault(*fault, req, res)) return;
    if (fault && fault->action == FaultAction::Redirect) {
      std::string target_path = "/redirected" + file_path;
      res.status = fault->status;
      res.set_header("Location", "http://" + host_of(req) + target_path + "?expires=" + std::to_string(*expires) +
                                     "&signature=" + sign(target_path, static_cast<std::int64_t>(*expires)));
      res.set_content(json{{"Message", "Moved."}, {"RequestId", request_id(res)}}.dump(), "application/json");
      return;
    }
    serve_range(req, res, l, range, fault);
  }

  void serve_range(const httplib::Request& req, httplib::Response& res, const Lookup& l, const std::string& range,
                   std::optional<Fault> fault) {
    res.set_header("Accept-Ranges", "bytes");
    std::uint64_t total = l.size;
    std::uint64_t first = 0, last = total == 0 ? 0 : total - 1;
    bool partial = false;
    if (range.rfind("bytes=", 0) == 0 && range.find(',') == std::string::npos) {
      std::string spec = range.substr(6);
      auto dash = spec.find('-');
      if (dash != std::string::npos) {
        auto a = to_u64(spec.substr(0, dash));
        auto b = to_u64(spec.substr(dash + 1));
        bool open_end = dash + 1 == spec.size();
        if (a && (open_end || (b && *b >= *a))) {
          if (*a >= total) {
            res.set_header("Content-Range", "bytes */" + std::to_string(total));
            return error(res, 416, "Range Not Satisfiable.");
          }
          first = *a;
          last = open_end ? total - 1 : std::min(*b, total - 1);
          partial = true;
        } else if (dash == 0 && b) {  // suffix range: the last N bytes
          if (*b == 0 || total == 0) {
            res.set_header("Content-Range", "bytes */" + std::to_string(total));
            return error(res, 416, "Range Not Satisfiable.");
          }
          first = total - std::min(*b, total);
          last = total - 1;
          partial = true;
        }
      }
    }
    if (partial) {
      res.status = 206;
      res.set_header("Content-Range",
                     "bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" + std::to_string(total));
      serve_content(res, l, first, last - first + 1, fault);
    } else {
      res.status = 200;
      // gzip: only whole-file answers, only when the client accepts it; a HEAD
      // gets the plain headers.
      bool gzip = fault && fault->action == FaultAction::Gzip && req.method != "HEAD" && accepts_gzip(req);
      serve_content(res, l, 0, total, fault, gzip);
    }
  }

  // --- setup ---------------------------------------------------------------

  void setup() {
    std::size_t threads = sc.threads;
    http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    http.set_keep_alive_max_count(1000);
    http.set_keep_alive_timeout(10);
    http.set_read_timeout(30, 0);
    http.set_write_timeout(30, 0);
    http.set_payload_max_length(16 * 1024 * 1024);

    http.set_pre_routing_handler([](const httplib::Request&, httplib::Response& res) {
      res.set_header("Request-Id", random_uuid());
      return httplib::Server::HandlerResponse::Unhandled;
    });
    http.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
      if (!res.has_header("Request-Id")) res.set_header("Request-Id", random_uuid());
      if (res.body.empty() && res.status != 416) {
        std::string message = res.status == 404 ? "Not found." : "HTTP " + std::to_string(res.status);
        res.set_content(json{{"Message", message}, {"RequestId", request_id(res)}}.dump(), "application/json");
      }
      // Handled makes httplib compute Content-Length for the body set here.
      return httplib::Server::HandlerResponse::Handled;
    }));

    http.Post("/api/connector/v1/exports/add",
              [this](const httplib::Request& req, httplib::Response& res) { handle_api("add", req, res); });
    http.Post("/api/connector/v1/exports/getAll",
              [this](const httplib::Request& req, httplib::Response& res) { handle_api("getAll", req, res); });
    http.Get(R"(/files/([0-9a-fA-F-]+)/([0-9]+))",
             [this](const httplib::Request& req, httplib::Response& res) { handle_file(req, res); });
    http.Get(R"(/redirected/files/([0-9a-fA-F-]+)/([0-9]+))",
             [this](const httplib::Request& req, httplib::Response& res) { handle_file(req, res, true); });

    http.Get("/_sandbox/stats", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(mu);
      res.set_content(stats.to_json().dump(2), "application/json");
    });
    http.Post("/_sandbox/reset-stats", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(mu);
      stats = Stats{};
      res.set_content("{}", "application/json");
    });
    http.Get("/_sandbox/exports", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(mu);
      json list = json::array();
      for (auto& e : order) {
        Status s = status_of(*e, false);
        json files = json::array();
        if (e->indexed)
          for (std::size_t i = 0; i < e->specs.size(); ++i)
            files.push_back(json{{"SizeInBytes", e->served_size(i)}, {"Records", e->indexes[i]->records}});
        list.push_back(json{{"Id", e->id},
                            {"EntityType", e->entity},
                            {"Status", status_name(s)},
                            {"TokenIndex", e->token_index},
                            {"Polls", e->polls},
                            {"CreatedUtc", format_utc(e->created_unix)},
                            {"Indexed", e->indexed},
                            {"Files", files}});
      }
      res.set_content(list.dump(2), "application/json");
    });
    http.Get(R"(/_sandbox/files/([0-9a-fA-F-]+)/([0-9]+))",
             [this](const httplib::Request& req, httplib::Response& res) {
               const_cast<httplib::Request&>(req).ranges.clear();
               auto found = lookup(req.matches[1], req.matches[2], false);
               if (auto* err = std::get_if<std::pair<int, std::string>>(&found))
                 return error(res, err->first, err->second);
               const Lookup& l = std::get<Lookup>(found);
               res.status = 200;
               serve_content(res, l, 0, l.size, std::nullopt);
             });
  }
};

Server::Server(Scenario scenario) : impl_(std::make_unique<Impl>(std::move(scenario))) {}
Server::~Server() = default;

int Server::bind(const std::string& host, int port) {
  impl_->bound_host = host;
  int bound = -1;
  if (port == 0)
    bound = impl_->http.bind_to_any_port(host);
  else if (impl_->http.bind_to_port(host, port))
    bound = port;
  impl_->bound_port = bound;
  return bound;
}

bool Server::run() { return impl_->http.listen_after_bind(); }

void Server::stop() {
  impl_->stopping = true;
  impl_->stop_cv.notify_all();
  impl_->http.stop();
}

}  // namespace mews_sandbox
