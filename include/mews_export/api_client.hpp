// The Connector API client for the Data export operations (exports/add and
// exports/getAll), over an HttpTransport, with retries through a Clock.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "mews_export/clock.hpp"
#include "mews_export/error.hpp"
#include "mews_export/http.hpp"
#include "mews_export/model.hpp"
#include "mews_export/rate_limit.hpp"
#include "mews_export/retry.hpp"
#include "mews_export/untrusted.hpp"

namespace mews_export {

// The most ids one getAll call takes; larger requests are split.
inline constexpr std::size_t kMaxIdsPerGetAll = 1000;

struct ApiCredentials {
  std::string client_token;  // secret
  std::string access_token;  // secret
  std::string client;        // "mews-export 0.1.0"
};

struct ApiClientOptions {
  std::string base_url;  // "https://api.mews.com", no trailing slash needed
  ApiCredentials credentials;
  RetryPolicy retry;
  std::chrono::milliseconds request_timeout{std::chrono::seconds{100}};
  // The largest successful answer read (kMaxApiAnswerBytes; smaller in tests).
  std::size_t max_answer_bytes = kMaxApiAnswerBytes;
  // Called before each retry sleep (for logs).
  RetryCallback on_retry;
  // Shared by every client of the same access token (may be null): each
  // request waits for its token first, so together they stay under the limit.
  std::shared_ptr<RequestBudget> budget;
};

class ApiClient {
 public:
  ApiClient(HttpTransport& transport, Clock& clock, ApiClientOptions options);

  // exports/add. Returns the new Export. Errors: Refused (401/403),
  // Api (400 and others, with the API's Message and Request-Id), Network...
  // Retries only what is_retryable() allows; note that add is not idempotent.
  Result<Export> add_export(const AddExportRequest& request);

  // exports/getAll for `ids`, split into calls of at most kMaxIdsPerGetAll.
  // Ids the API does not know are absent from the result. An answer larger
  // than kMaxApiAnswerBytes or nested deeper than kMaxJsonDepth is a Protocol
  // error; a redirect is an Api error (never followed: the body holds the tokens).
  Result<std::vector<Export>> get_exports(std::span<const std::string> ids);

  const ApiClientOptions& options() const { return options_; }

 private:
  HttpRequest make_request(std::string_view action, nlohmann::json body) const;
  Result<nlohmann::json> attempt(std::string_view action, const HttpRequest& request);
  Result<nlohmann::json> call(std::string_view action, nlohmann::json body);

  HttpTransport& transport_;
  Clock& clock_;
  ApiClientOptions options_;
};

// Turns a non-2xx API response into an Error (Refused for 401/403, Api otherwise),
// taking Message and RequestId from the JSON body when present, and the
// Retry-After header (an HTTP-date relative to `now`).
Error api_error_from_response(int status, const HttpResponse& response, UtcTime now);

}  // namespace mews_export
