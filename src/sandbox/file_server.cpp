#include "file_server.hpp"

#include <algorithm>
#include <variant>

#include <nlohmann/json.hpp>

#include "file_body.hpp"
#include "gzip_stream.hpp"
#include "responses.hpp"
#include "utc.hpp"
#include "util.hpp"

namespace mews_sandbox {
namespace {

struct WholeFile {};
struct Unsatisfiable {};
struct ByteRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive
};
using RangeRequest = std::variant<WholeFile, ByteRange, Unsatisfiable>;

// A single "bytes=N-", "bytes=N-M" or "bytes=-N" against a file of `total`
// bytes; anything else (multi-range, malformed) means the whole file.
RangeRequest parse_range(const std::string& range, std::uint64_t total) {
  if (range.rfind("bytes=", 0) != 0 || range.find(',') != std::string::npos) return WholeFile{};
  const std::string spec = range.substr(6);
  const auto dash = spec.find('-');
  if (dash == std::string::npos) return WholeFile{};
  auto a = to_u64(spec.substr(0, dash));
  auto b = to_u64(spec.substr(dash + 1));
  const bool open_end = dash + 1 == spec.size();
  if (a && (open_end || (b && *b >= *a))) {
    if (*a >= total) return Unsatisfiable{};
    return ByteRange{*a, open_end ? total - 1 : std::min(*b, total - 1)};
  }
  if (dash == 0 && b) {  // suffix range: the last N bytes
    if (*b == 0 || total == 0) return Unsatisfiable{};
    return ByteRange{total - std::min(*b, total), total - 1};
  }
  return WholeFile{};
}

// True unless `if_range` names another version of `file` than the current one:
// a strong ETag must equal the current one (a weak one never matches), a date
// must equal Last-Modified; an empty value always holds.
bool if_range_holds(const std::string& if_range, const FileRef& file) {
  if (if_range.empty()) return true;
  if (if_range.front() == '"' || if_range.rfind("W/", 0) == 0) return if_range == file.etag;
  auto date = parse_http_date(if_range);
  return date && *date == file.last_modified;
}

}  // namespace

FileServer::FileServer(ExportStore& store, FaultBook& faults, Stats& stats, const UrlSigner& signer, Stopper& stopper,
                       const std::string& default_host)
    : store_(store), faults_(faults), stats_(stats), signer_(signer), stopper_(stopper), default_host_(default_host) {}

void FileServer::route(httplib::Server& http) {
  http.Get(R"(/files/([0-9a-fA-F-]+)/([0-9]+))",
           [this](const httplib::Request& req, httplib::Response& res) { handle(req, res, false); });
  http.Get(R"(/redirected/files/([0-9a-fA-F-]+)/([0-9]+))",
           [this](const httplib::Request& req, httplib::Response& res) { handle(req, res, true); });
}

void FileServer::count_request(const httplib::Request& req, const std::string& range, bool redirected) {
  stats_.update([&](StatsData& s) {
    (req.method == "HEAD" ? s.heads : s.file_gets)++;
    if (redirected) s.redirected_gets++;
    if (range.empty()) return;
    s.range_gets++;
    s.ranges.push_back(range);
  });
}

// True when the URL's expires and signature are valid for `path`; else a 403.
bool FileServer::check_signature(const httplib::Request& req, const std::string& path, httplib::Response& res) {
  auto expires = to_u64(req.get_param_value("expires"));
  const bool signed_ok =
      expires && req.get_param_value("signature") == signer_.sign(path, static_cast<std::int64_t>(*expires));
  if (signed_ok && static_cast<std::int64_t>(*expires) >= now_unix()) return true;
  stats_.update([](StatsData& s) { s.forbidden++; });
  send_error(res, 403, signed_ok ? "The URL has expired; call exports/getAll for a fresh one." : "Invalid signature.");
  return false;
}

// GET/HEAD of a signed file URL. `redirected`: the /redirected/files/ twin that
// a redirect fault points to (same bytes, own signature, never faulted).
void FileServer::handle(const httplib::Request& req, httplib::Response& res, bool redirected) {
  const std::string range = req.get_header_value("Range");
  // We interpret Range ourselves; keep httplib from applying it a second time.
  const_cast<httplib::Request&>(req).ranges.clear();
  count_request(req, range, redirected);
  const std::string id = req.matches[1];
  const std::string file_path = "/files/" + id + "/" + std::string(req.matches[2]);
  if (!check_signature(req, (redirected ? "/redirected" : "") + file_path, res)) return;
  auto file = store_.file(id, req.matches[2], true);
  if (!file) {
    stats_.update([&](StatsData& s) { (file.error().status == 403 ? s.forbidden : s.not_found)++; });
    return send_error(res, file.error().status, file.error().message);
  }
  if (!redirected) apply_mutation(*file);
  auto fault = fault_for(*file, redirected);
  if (fault && apply_answer_fault(*fault, req, res)) return;
  if (fault && fault->action == FaultAction::Redirect) return redirect(req, res, *fault, *file, id);
  serve_range(req, res, *file, range, fault);
}

// Counts the request for mutate faults; when one hits, the file gets its next
// content version, which this request already receives.
void FileServer::apply_mutation(FileRef& file) {
  if (!faults_.hit(FaultTarget::File, FaultPhase::Content, file.entity, file.file_index)) return;
  if (auto changed = store_.mutate(file.export_id, file.file_index)) file = std::move(*changed);
}

std::optional<Fault> FileServer::fault_for(const FileRef& file, bool redirected) {
  if (redirected) return std::nullopt;
  return faults_.hit(FaultTarget::File, FaultPhase::Response, file.entity, file.file_index);
}

// Answers the fault's status with Location: the /redirected/files/ twin of the
// URL (same expiry, signed for that path). A redirect fault with its own
// location was answered by apply_answer_fault().
void FileServer::redirect(const httplib::Request& req, httplib::Response& res, const Fault& fault, const FileRef& file,
                          const std::string& export_id) {
  const std::string target = "/redirected/files/" + export_id + "/" + std::to_string(file.file_index);
  const auto expires = static_cast<std::int64_t>(*to_u64(req.get_param_value("expires")));
  res.status = fault.status;
  res.set_header("Location", signer_.url(host_of(req, default_host_), target, expires));
  res.set_content(nlohmann::json{{"Message", "Moved."}, {"RequestId", request_id(res)}}.dump(), "application/json");
}

void FileServer::serve_range(const httplib::Request& req, httplib::Response& res, const FileRef& file,
                             const std::string& range, const std::optional<Fault>& fault) {
  res.set_header("Accept-Ranges", "bytes");
  res.set_header("ETag", file.etag);
  res.set_header("Last-Modified", format_http_date(file.last_modified));
  const std::uint64_t total = file.size;
  // If-Range naming an older version: the whole (current) file instead of a range.
  const RangeRequest parsed =
      if_range_holds(req.get_header_value("If-Range"), file) ? parse_range(range, total) : RangeRequest{WholeFile{}};
  if (std::holds_alternative<Unsatisfiable>(parsed)) {
    res.set_header("Content-Range", "bytes */" + std::to_string(total));
    return send_error(res, 416, "Range Not Satisfiable.");
  }
  if (const auto* r = std::get_if<ByteRange>(&parsed)) {
    res.status = 206;
    res.set_header("Content-Range",
                   "bytes " + std::to_string(r->first) + "-" + std::to_string(r->last) + "/" + std::to_string(total));
    return serve(res, file, r->first, r->last - r->first + 1, body_shape(fault, r->last - r->first + 1, false));
  }
  res.status = 200;
  // gzip: only whole-file answers, only when the client accepts it; a HEAD
  // gets the plain headers.
  const bool gzip_allowed = req.method != "HEAD" && accepts_gzip(req);
  serve(res, file, 0, total, body_shape(fault, total, gzip_allowed));
}

void FileServer::serve(httplib::Response& res, const FileRef& file, std::uint64_t start, std::uint64_t length,
                       const BodyShape& shape) {
  if (shape.chunked)
    stats_.update([&](StatsData& s) {
      s.chunked_responses++;
      if (shape.gzip) s.gzip_responses++;
    });
  send_file_body(res, file, start, length, shape, stopper_);
}

}  // namespace mews_sandbox
