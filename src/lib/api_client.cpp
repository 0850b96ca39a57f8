#include "mews_export/api_client.hpp"

#include <charconv>

#include "mews_export/cancel.hpp"
#include "mews_export/untrusted.hpp"
#include "mews_export/url.hpp"

namespace mews_export {
namespace {

using nlohmann::json;

std::string join_url(std::string base, std::string_view action) {
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/api/connector/v1/exports/" + std::string(action);
}

// A sink that keeps a successful answer whole, up to kMaxApiAnswerBytes, in
// one buffer sized from Content-Length: the parser reads it there.
struct AnswerSink {
  explicit AnswerSink(std::size_t limit) : max_bytes(limit) {}
  AnswerSink(const AnswerSink&) = delete;
  AnswerSink& operator=(const AnswerSink&) = delete;

  std::size_t max_bytes;
  std::string body;
  bool too_large = false;
  BodySink sink{
      .on_head = [this](const HttpResponse& head) { return on_head(head); },
      .on_data = [this](std::string_view chunk) { return on_data(chunk); },
  };

  BodyAction on_head(const HttpResponse& head) {
    if (head.status < 200 || head.status >= 300) return BodyAction::Collect;
    if (const auto length = head.header("content-length")) {
      std::size_t announced = 0;
      const auto [end, ec] = std::from_chars(length->data(), length->data() + length->size(), announced);
      if (ec == std::errc{} && end == length->data() + length->size()) {
        if (announced > max_bytes) {
          too_large = true;
          return BodyAction::Abort;
        }
        body.reserve(announced);
      }
    }
    return BodyAction::Receive;
  }
  bool on_data(std::string_view chunk) {
    if (body.size() + chunk.size() > max_bytes) {
      too_large = true;
      return false;
    }
    body.append(chunk);
    return true;
  }
};

std::string mebibytes(std::size_t bytes) {
  if (bytes % (1 << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  return std::to_string(bytes) + " bytes";
}

// The error for a redirect answered by the API: never followed, since the
// request body carries both tokens.
Error redirect_error(std::string_view action, const HttpResponse& response, const std::string& url) {
  std::string target = "an unnamed place";
  if (const auto location = response.header("location")) {
    const auto resolved = resolve_url(url, *location);
    const auto parts = resolved ? parse_url(*resolved) : Result<UrlParts>(std::unexpected(resolved.error()));
    target = parts ? "host '" + parts->host + "'" : "'" + *location + "'";
  }
  return Error{.kind = ErrorKind::Api,
               .message = "exports/" + std::string(action) + " answered HTTP " + std::to_string(response.status) +
                          " redirecting to " + target +
                          "; API calls never follow redirects (the tokens go only to the API host): check --platform",
               .http_status = response.status,
               .request_id = response.header("request-id").value_or("")};
}

}  // namespace

Error api_error_from_response(int status, const HttpResponse& response, UtcTime now) {
  Error error;
  error.http_status = status;
  error.kind = (status == 401 || status == 403) ? ErrorKind::Refused : ErrorKind::Api;
  error.request_id = response.header("request-id").value_or("");
  std::string message;
  const auto parsed = parse_untrusted_json(response.body);
  const json body = parsed ? *parsed : json();
  if (body.is_object()) {
    if (const auto it = body.find("Message"); it != body.end() && it->is_string()) message = it->get<std::string>();
    if (const auto it = body.find("RequestId"); it != body.end() && it->is_string() && error.request_id.empty()) {
      error.request_id = it->get<std::string>();
    }
  }
  if (const auto after = response.header("retry-after")) {
    if (const auto seconds = parse_retry_after(*after, now)) {
      error.retry_after_seconds = static_cast<long>(seconds->count());
    }
  }
  switch (status) {
    case 401: error.message = "the API refused the tokens (401)"; break;
    case 403: error.message = "the API refused the request (403)"; break;
    case 404: error.message = "the API address was not found (404): check --platform"; break;
    case 429: error.message = "rate limited by the API (429)"; break;
    default: error.message = "the API rejected the request";
  }
  if (!message.empty()) error.message += ": " + message;
  return error;
}

ApiClient::ApiClient(HttpTransport& transport, Clock& clock, ApiClientOptions options)
    : transport_(transport), clock_(clock), options_(std::move(options)) {}

HttpRequest ApiClient::make_request(std::string_view action, json body) const {
  body["ClientToken"] = options_.credentials.client_token;
  body["AccessToken"] = options_.credentials.access_token;
  body["Client"] = options_.credentials.client;
  HttpRequest request;
  request.method = "POST";
  request.url = join_url(options_.base_url, action);
  request.headers["Content-Type"] = "application/json";
  request.headers["Accept"] = "application/json";
  request.body = body.dump();
  request.timeout = options_.request_timeout;
  return request;
}

// One request: the answer as a JSON object, or the error that says why not.
Result<json> ApiClient::attempt(std::string_view action, const HttpRequest& request) {
  if (options_.budget && !options_.budget->acquire(clock_)) return std::unexpected(interrupted_error());
  AnswerSink answer(options_.max_answer_bytes);
  auto response = transport_.perform(request, &answer.sink);
  const std::string what = "exports/" + std::string(action);
  if (answer.too_large) {
    return fail(ErrorKind::Protocol,
                what + " answered with more than " + mebibytes(options_.max_answer_bytes) + "; refusing to read it");
  }
  if (!response) {
    Error error = response.error();
    if (error.kind != ErrorKind::Interrupted) error.message = what + ": " + error.message;
    return std::unexpected(error);
  }
  const int status = response->status;
  if (status >= 300 && status < 400) return std::unexpected(redirect_error(action, *response, request.url));
  if (status < 200 || status >= 300)
    return std::unexpected(api_error_from_response(status, *response, utc_now(clock_)));
  auto parsed = parse_untrusted_json(answer.body);
  if (!parsed || !parsed->is_object()) {
    return std::unexpected(Error{
        .kind = ErrorKind::Protocol,
        .message = what + ": " + (parsed ? std::string("the answer is not a JSON object") : parsed.error().message),
        .http_status = status,
        .request_id = response->header("request-id").value_or("")});
  }
  return parsed;
}

Result<json> ApiClient::call(std::string_view action, json body) {
  const HttpRequest request = make_request(action, std::move(body));
  RetryBudget budget(options_.retry, clock_);
  for (;;) {
    auto answer = attempt(action, request);
    if (answer) return answer;
    if (auto error =
            budget.retry_or_give_up(std::move(answer.error()), "exports/" + std::string(action), options_.on_retry)) {
      return std::unexpected(std::move(*error));
    }
  }
}

Result<Export> ApiClient::add_export(const AddExportRequest& request) {
  auto body = call("add", to_json(request));
  if (!body) return std::unexpected(body.error());
  const auto it = body->find("Export");
  if (it == body->end()) return fail(ErrorKind::Protocol, "exports/add answered without an Export");
  auto created = parse_export(*it);
  if (created && !is_valid_export_id(created->id)) {
    // Its id would name the journal entry and the output directory.
    return fail(ErrorKind::Protocol,
                "exports/add answered with an id that is not an export id (a UUID): '" + created->id + "'");
  }
  return created;
}

Result<std::vector<Export>> ApiClient::get_exports(std::span<const std::string> ids) {
  std::vector<Export> out;
  for (std::size_t at = 0; at < ids.size(); at += kMaxIdsPerGetAll) {
    const auto batch = ids.subspan(at, std::min(kMaxIdsPerGetAll, ids.size() - at));
    auto body = call("getAll", json{{"ExportIds", std::vector<std::string>(batch.begin(), batch.end())}});
    if (!body) return std::unexpected(body.error());
    const auto it = body->find("Exports");
    if (it == body->end() || !it->is_array()) {
      return fail(ErrorKind::Protocol, "exports/getAll answered without an Exports array");
    }
    for (const auto& item : *it) {
      auto parsed = parse_export(item);
      if (!parsed) return std::unexpected(parsed.error());
      out.push_back(std::move(*parsed));
    }
  }
  return out;
}

}  // namespace mews_export
