#include "mews_export/api_client.hpp"

#include <random>

#include "mews_export/cancel.hpp"

namespace mews_export {
namespace {

using nlohmann::json;

double random01() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

std::string join_url(std::string base, std::string_view action) {
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/api/connector/v1/exports/" + std::string(action);
}

Error interrupted() {
  return Error{.kind = ErrorKind::Interrupted, .message = "interrupted", .signal = cancel_signal()};
}

}  // namespace

Error api_error_from_response(int status, const HttpResponse& response) {
  Error error;
  error.http_status = status;
  error.kind = (status == 401 || status == 403) ? ErrorKind::Refused : ErrorKind::Api;
  error.request_id = response.header("request-id").value_or("");
  std::string message;
  const auto body = json::parse(response.body, nullptr, false);
  if (body.is_object()) {
    if (const auto it = body.find("Message"); it != body.end() && it->is_string()) message = it->get<std::string>();
    if (const auto it = body.find("RequestId"); it != body.end() && it->is_string() && error.request_id.empty()) {
      error.request_id = it->get<std::string>();
    }
  }
  if (const auto after = response.header("retry-after")) {
    if (const auto seconds =
            parse_retry_after(*after, std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()))) {
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

Result<json> ApiClient::call(std::string_view action, json body) {
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

  const auto started = clock_.now();
  for (int attempt = 1;; ++attempt) {
    Error error;
    auto response = transport_.perform(request, nullptr);
    if (response && response->status >= 200 && response->status < 300) {
      auto parsed = json::parse(response->body, nullptr, false);
      if (parsed.is_discarded() || !parsed.is_object()) {
        error = Error{.kind = ErrorKind::Protocol,
                      .message = "exports/" + std::string(action) + " answered with a body that is not a JSON object",
                      .http_status = response->status,
                      .request_id = response->header("request-id").value_or("")};
        return std::unexpected(error);
      }
      return parsed;
    }
    if (response) {
      error = api_error_from_response(response->status, *response);
    } else {
      error = response.error();
      if (error.kind == ErrorKind::Interrupted) return std::unexpected(error);
      error.message = "exports/" + std::string(action) + ": " + error.message;
    }
    if (!is_retryable(error) || attempt >= options_.retry.max_attempts) {
      if (attempt > 1) error.message += " (after " + std::to_string(attempt) + " attempts)";
      return std::unexpected(error);
    }
    std::optional<std::chrono::seconds> retry_after;
    if (error.retry_after_seconds >= 0) retry_after = std::chrono::seconds{error.retry_after_seconds};
    const auto delay = next_delay(options_.retry, attempt, retry_after, random01());
    if (clock_.now() - started + delay > options_.retry.max_total) {
      error.message += " (retry budget of " + std::to_string(options_.retry.max_total.count() / 1000) + "s spent)";
      return std::unexpected(error);
    }
    if (options_.on_retry) options_.on_retry(attempt, error, delay);
    if (!clock_.sleep_for(delay)) return std::unexpected(interrupted());
  }
}

Result<Export> ApiClient::add_export(const AddExportRequest& request) {
  auto body = call("add", to_json(request));
  if (!body) return std::unexpected(body.error());
  const auto it = body->find("Export");
  if (it == body->end()) return fail(ErrorKind::Protocol, "exports/add answered without an Export");
  return parse_export(*it);
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
