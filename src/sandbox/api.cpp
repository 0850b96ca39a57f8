#include "api.hpp"

#include <algorithm>

#include "add_request.hpp"
#include "api_faults.hpp"
#include "export_json.hpp"
#include "responses.hpp"
#include "util.hpp"

namespace mews_sandbox {
namespace {

using json = nlohmann::json;

constexpr std::size_t kMaxIds = 1000;

std::string string_field(const json& body, const char* name) {
  return body.contains(name) && body[name].is_string() ? body[name].get<std::string>() : std::string();
}

template <class T>
std::size_t index_in(const std::vector<T>& list, const T& value) {
  return static_cast<std::size_t>(std::find(list.begin(), list.end(), value) - list.begin());
}

// ExportIds of a getAll body, or the message of the 400 answer.
std::expected<std::vector<std::string>, std::string> export_ids(const json& body) {
  if (!body.contains("ExportIds") || !body["ExportIds"].is_array())
    return std::unexpected("Invalid request: ExportIds is required.");
  const json& ids = body["ExportIds"];
  if (ids.empty() || ids.size() > kMaxIds)
    return std::unexpected("Invalid request: ExportIds must contain 1 to 1000 ids.");
  std::vector<std::string> out;
  for (const auto& id : ids) {
    if (!id.is_string()) return std::unexpected("Invalid request: ExportIds must contain strings.");
    out.push_back(id.get<std::string>());
  }
  return out;
}

}  // namespace

ApiHandlers::ApiHandlers(const Scenario& scenario, ExportStore& store, FaultBook& faults, Stats& stats,
                         const UrlSigner& signer, const std::string& default_host)
    : sc_(scenario),
      store_(store),
      faults_(faults),
      stats_(stats),
      signer_(signer),
      default_host_(default_host),
      limiter_(scenario.rate_limit_requests, scenario.rate_limit_window_seconds) {}

void ApiHandlers::route(httplib::Server& http) {
  http.Post("/api/connector/v1/exports/add",
            [this](const httplib::Request& req, httplib::Response& res) { handle(Action::Add, req, res); });
  http.Post("/api/connector/v1/exports/getAll",
            [this](const httplib::Request& req, httplib::Response& res) { handle(Action::GetAll, req, res); });
}

// Order of checks: fault, JSON object, tokens, rate limit, Client, action.
void ApiHandlers::handle(Action action, const httplib::Request& req, httplib::Response& res) {
  json body = json::parse(req.body, nullptr, false);
  const bool add = action == Action::Add;
  stats_.update([&](StatsData& s) { s.api_requests[add ? "add" : "getAll"]++; });
  const std::string entity_hint = body.is_object() ? string_field(body, "EntityType") : "";
  auto fault = faults_.hit(add ? FaultTarget::Add : FaultTarget::GetAll, FaultPhase::Response, entity_hint, {});
  if (fault && apply_answer_fault(*fault, req, res)) return;
  if (body.is_discarded() || !body.is_object())
    return bad_request(res, "Invalid request: the body is not a JSON object.");
  auto token_index = authenticate(body, res);
  if (!token_index || !admit(*token_index, res)) return;
  if (string_field(body, "Client").empty()) return bad_request(res, "Invalid request: Client is required.");
  if (add) return handle_add(body, *token_index, req, res, fault);
  handle_get_all(body, *token_index, req, res, fault);
}

// The index of the body's AccessToken when both tokens are known; else a 401.
std::optional<std::size_t> ApiHandlers::authenticate(const json& body, httplib::Response& res) {
  const std::string client_token = string_field(body, "ClientToken");
  const std::string access_token = string_field(body, "AccessToken");
  const std::size_t ct = index_in(sc_.client_tokens, client_token);
  const std::size_t at = index_in(sc_.access_tokens, access_token);
  if (!client_token.empty() && !access_token.empty() && ct < sc_.client_tokens.size() && at < sc_.access_tokens.size())
    return at;
  stats_.update([](StatsData& s) { s.unauthorized++; });
  send_error(res, 401, "Invalid ClientToken or AccessToken.");
  return std::nullopt;
}

bool ApiHandlers::admit(std::size_t token_index, httplib::Response& res) {
  auto wait = limiter_.admit(token_index);
  if (!wait) return true;
  stats_.update([](StatsData& s) { s.rate_limited++; });
  res.set_header("Retry-After", std::to_string(*wait));
  send_error(res, 429, "Too many requests; retry after " + std::to_string(*wait) + " seconds.");
  return false;
}

void ApiHandlers::bad_request(httplib::Response& res, const std::string& message) {
  stats_.update([](StatsData& s) { s.bad_requests++; });
  send_error(res, 400, message);
}

ExportJsonOptions ApiHandlers::json_options(const httplib::Request& req) const {
  return ExportJsonOptions{signer_, host_of(req, default_host_), now_unix() + sc_.url_ttl_seconds, sc_.unknown_fields,
                           sc_.files_base_url};
}

void ApiHandlers::handle_add(const json& body, std::size_t token_index, const httplib::Request& req,
                             httplib::Response& res, const std::optional<Fault>& fault) {
  auto request = parse_add_request(body, token_index, now_unix());
  if (!request) return bad_request(res, request.error());
  auto created = store_.create(*request);
  if (!created) return bad_request(res, "An export of this entity type is already pending.");
  res.status = 200;
  json answer = response_json(json{{"Export", export_json(*created, json_options(req))}}, sc_.unknown_fields);
  res.set_content(render_answer(std::move(answer), fault), "application/json");
}

// getAll; an omit fault answers as if no id were known (and counts no poll).
void ApiHandlers::handle_get_all(const json& body, std::size_t token_index, const httplib::Request& req,
                                 httplib::Response& res, const std::optional<Fault>& fault) {
  auto ids = export_ids(body);
  if (!ids) return bad_request(res, ids.error());
  stats_.update([](StatsData& s) { s.getall_calls++; });
  const ExportJsonOptions options = json_options(req);
  json list = json::array();
  if (!omits_exports(fault))
    for (const auto& view : store_.poll(*ids, token_index)) {
      list.push_back(export_json(view, options));
      apply_file_url(fault, list.back());
    }
  res.status = 200;
  res.set_content(render_answer(response_json(json{{"Exports", list}}, sc_.unknown_fields), fault), "application/json");
}

}  // namespace mews_sandbox
