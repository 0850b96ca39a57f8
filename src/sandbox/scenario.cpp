#include "scenario.hpp"

#include <algorithm>
#include <fstream>
#include <stdexcept>

#include "datagen.hpp"

namespace mews_sandbox {
namespace {

[[noreturn]] void bad(const std::string& what) { throw std::runtime_error("scenario: " + what); }

template <class T>
T get(const nlohmann::json& j, const char* key, T fallback) {
  if (!j.contains(key) || j.at(key).is_null()) return fallback;
  try {
    return j.at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
    bad(std::string("wrong type for \"") + key + "\"");
  }
}

FileLayout parse_layout(const nlohmann::json& j, const FileLayout& base, const std::string& name) {
  if (!j.is_object()) bad("entities." + name + " must be an object");
  FileLayout l = base;
  l.files = get<std::uint32_t>(j, "files", l.files);
  if (j.contains("records_per_file")) {
    l.records_per_file = get<std::uint64_t>(j, "records_per_file", l.records_per_file);
    l.bytes_per_file = 0;
  }
  if (j.contains("bytes_per_file")) l.bytes_per_file = get<std::uint64_t>(j, "bytes_per_file", 0);
  return l;
}

Fault parse_fault(const nlohmann::json& j, std::size_t n) {
  std::string where = "faults[" + std::to_string(n) + "]";
  if (!j.is_object()) bad(where + " must be an object");
  Fault f;
  std::string target = get<std::string>(j, "target", "");
  if (target == "add")
    f.target = FaultTarget::Add;
  else if (target == "getAll")
    f.target = FaultTarget::GetAll;
  else if (target == "file")
    f.target = FaultTarget::File;
  else
    bad(where + ".target must be add, getAll or file");
  std::string action = get<std::string>(j, "action", "status");
  if (action == "status")
    f.action = FaultAction::Status;
  else if (action == "reset")
    f.action = FaultAction::Reset;
  else if (action == "truncate")
    f.action = FaultAction::Truncate;
  else if (action == "stall")
    f.action = FaultAction::Stall;
  else if (action == "drop_final_newline")
    f.action = FaultAction::DropFinalNewline;
  else if (action == "extra_bytes")
    f.action = FaultAction::ExtraBytes;
  else if (action == "redirect")
    f.action = FaultAction::Redirect;
  else if (action == "gzip")
    f.action = FaultAction::Gzip;
  else if (action == "chunked")
    f.action = FaultAction::Chunked;
  else if (action == "trickle")
    f.action = FaultAction::Trickle;
  else
    bad(where + ".action unknown: " + action);
  if ((f.action == FaultAction::Truncate || f.action == FaultAction::Stall ||
       f.action == FaultAction::DropFinalNewline || f.action == FaultAction::ExtraBytes ||
       f.action == FaultAction::Redirect || f.action == FaultAction::Gzip || f.action == FaultAction::Chunked ||
       f.action == FaultAction::Trickle) &&
      f.target != FaultTarget::File)
    bad(where + ": " + action + " applies to target file only");
  f.after = get<std::uint64_t>(j, "after", 0);
  if (j.contains("times") && j["times"].is_null())
    f.times = std::nullopt;
  else {
    auto times = get<std::int64_t>(j, "times", 1);
    f.times = times < 0 ? std::nullopt : std::optional<std::uint64_t>(static_cast<std::uint64_t>(times));
  }
  if (j.contains("entity")) {
    f.entity = get<std::string>(j, "entity", "");
    if (!is_entity_type(*f.entity)) bad(where + ".entity unknown: " + *f.entity);
  }
  if (j.contains("file_index")) f.file_index = get<std::uint32_t>(j, "file_index", 0);
  if (f.action == FaultAction::Redirect) {
    f.status = get<int>(j, "status", 302);
    if (f.status != 301 && f.status != 302 && f.status != 303 && f.status != 307 && f.status != 308)
      bad(where + ".status of a redirect must be 301, 302, 303, 307 or 308");
  } else {
    f.status = get<int>(j, "status", f.status);
    if (f.status < 100 || f.status > 599) bad(where + ".status out of range");
  }
  if (j.contains("retry_after")) {
    const auto& ra = j["retry_after"];
    if (ra.is_string())
      f.retry_after = ra.get<std::string>();
    else if (ra.is_number())
      f.retry_after = std::to_string(ra.get<std::int64_t>());
    else
      bad(where + ".retry_after must be a string");
  }
  if (j.contains("body")) f.body = j["body"];
  if (j.contains("bytes")) f.bytes = get<std::uint64_t>(j, "bytes", 0);
  if (f.action == FaultAction::Trickle) {
    f.seconds = get<double>(j, "seconds", 0.1);
    if (!f.bytes) f.bytes = 1024;
    if (*f.bytes == 0) bad(where + ".bytes of a trickle must be positive");
  } else {
    f.seconds = get<double>(j, "seconds", f.seconds);
  }
  if (f.seconds < 0) bad(where + ".seconds must not be negative");
  return f;
}

}  // namespace

const FileLayout& Scenario::layout_for(const std::string& entity) const {
  auto it = entities.find(entity);
  return it == entities.end() ? default_layout : it->second;
}

bool Scenario::fails(const std::string& entity) const {
  return std::find(failed_entities.begin(), failed_entities.end(), entity) != failed_entities.end();
}

Scenario parse_scenario(const nlohmann::json& j) {
  Scenario s;
  if (j.is_null()) return s;
  if (!j.is_object()) bad("the top level must be an object");
  static const std::vector<std::string> kKnown = {
      "client_token",    "client_tokens",         "access_tokens",     "seed",     "progression",
      "url_ttl_seconds", "expires_after_seconds", "rate_limit",        "entities", "failed_entities",
      "faults",          "checkpoint_every",      "cache_limit_bytes", "threads",  "comment",
      "unknown_fields"};
  for (const auto& [key, value] : j.items())
    if (std::find(kKnown.begin(), kKnown.end(), key) == kKnown.end()) bad("unknown key \"" + key + "\"");

  if (j.contains("client_token")) s.client_tokens = {get<std::string>(j, "client_token", "")};
  if (j.contains("client_tokens")) s.client_tokens = get<std::vector<std::string>>(j, "client_tokens", {});
  for (const auto& t : get<std::vector<std::string>>(j, "access_tokens", {}))
    if (std::find(s.access_tokens.begin(), s.access_tokens.end(), t) == s.access_tokens.end())
      s.access_tokens.push_back(t);
  s.seed = get<std::uint64_t>(j, "seed", s.seed);

  if (j.contains("progression")) {
    const auto& p = j["progression"];
    if (!p.is_object()) bad("progression must be an object");
    if (p.contains("pending_seconds") || p.contains("processing_seconds")) {
      s.by_seconds = true;
      s.pending_seconds = get<double>(p, "pending_seconds", 0);
      s.processing_seconds = get<double>(p, "processing_seconds", 0);
    }
    s.pending_polls = get<std::uint64_t>(p, "pending_polls", s.pending_polls);
    s.processing_polls = get<std::uint64_t>(p, "processing_polls", s.processing_polls);
  }
  s.url_ttl_seconds = get<std::int64_t>(j, "url_ttl_seconds", s.url_ttl_seconds);
  s.expires_after_seconds = get<std::int64_t>(j, "expires_after_seconds", s.expires_after_seconds);
  if (j.contains("rate_limit")) {
    const auto& r = j["rate_limit"];
    if (!r.is_object()) bad("rate_limit must be an object");
    s.rate_limit_requests = get<std::uint64_t>(r, "requests", s.rate_limit_requests);
    s.rate_limit_window_seconds = get<double>(r, "window_seconds", s.rate_limit_window_seconds);
  }
  if (j.contains("entities")) {
    const auto& e = j["entities"];
    if (!e.is_object()) bad("entities must be an object");
    if (e.contains("*")) s.default_layout = parse_layout(e["*"], s.default_layout, "*");
    for (const auto& [name, value] : e.items()) {
      if (name == "*") continue;
      if (!is_entity_type(name)) bad("entities: unknown entity type " + name);
      s.entities[name] = parse_layout(value, s.default_layout, name);
    }
  }
  for (const auto& name : get<std::vector<std::string>>(j, "failed_entities", {})) {
    if (!is_entity_type(name)) bad("failed_entities: unknown entity type " + name);
    s.failed_entities.push_back(name);
  }
  if (j.contains("faults")) {
    if (!j["faults"].is_array()) bad("faults must be an array");
    std::size_t n = 0;
    for (const auto& f : j["faults"]) s.faults.push_back(parse_fault(f, n++));
  }
  s.unknown_fields = get<bool>(j, "unknown_fields", false);
  s.checkpoint_every = std::max<std::uint64_t>(1, get<std::uint64_t>(j, "checkpoint_every", s.checkpoint_every));
  s.cache_limit_bytes = get<std::uint64_t>(j, "cache_limit_bytes", s.cache_limit_bytes);
  s.threads = std::max<std::size_t>(16, get<std::size_t>(j, "threads", s.threads));
  return s;
}

Scenario load_scenario_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open scenario file " + path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error("scenario " + path + ": " + e.what());
  }
  return parse_scenario(j);
}

}  // namespace mews_sandbox
