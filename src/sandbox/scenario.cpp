#include "scenario.hpp"

#include <algorithm>
#include <fstream>
#include <stdexcept>

#include "datagen.hpp"

namespace mews_sandbox {
namespace {

// cpp-httplib refuses request lines over 8192 bytes (414); a signed
// /redirected/files/ URL without padding needs about 190 of them.
constexpr std::size_t kMaxUrlPadding = 7900;
// Seeded exports are built at startup, before the sandbox is ready.
constexpr std::uint64_t kMaxSeedExports = 1'000'000;
constexpr std::int64_t kMaxDatasetSpan = 100LL * 366 * 86400;

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

constexpr unsigned kAdd = 1, kGetAll = 2, kFile = 4, kAnyTarget = kAdd | kGetAll | kFile;

struct ActionInfo {
  const char* name;
  FaultAction action;
  unsigned targets;  // the targets it applies to (kAdd | kGetAll | kFile)
};

constexpr ActionInfo kActions[] = {
    {"status", FaultAction::Status, kAnyTarget},
    {"reset", FaultAction::Reset, kAnyTarget},
    {"truncate", FaultAction::Truncate, kFile},
    {"stall", FaultAction::Stall, kFile},
    {"drop_final_newline", FaultAction::DropFinalNewline, kFile},
    {"bad_json", FaultAction::BadJson, kFile},
    {"extra_bytes", FaultAction::ExtraBytes, kFile},
    {"redirect", FaultAction::Redirect, kAnyTarget},
    {"gzip", FaultAction::Gzip, kFile},
    {"chunked", FaultAction::Chunked, kFile},
    {"trickle", FaultAction::Trickle, kFile},
    {"nested", FaultAction::Nested, kAdd | kGetAll},
    {"pad", FaultAction::Pad, kAdd | kGetAll},
    {"omit", FaultAction::Omit, kGetAll},
    {"file_url", FaultAction::FileUrl, kGetAll},
    {"control_chars", FaultAction::ControlChars, kAdd | kGetAll},
    {"mutate", FaultAction::Mutate, kFile},
};

// nested: depth x count is capped so that an answer stays below ~100 MB.
constexpr std::uint64_t kMaxNestedLevels = 10'000'000;
constexpr std::uint64_t kDefaultPadBytes = 1 << 20;

unsigned target_bit(FaultTarget t) {
  switch (t) {
    case FaultTarget::Add: return kAdd;
    case FaultTarget::GetAll: return kGetAll;
    case FaultTarget::File: return kFile;
  }
  return 0;
}

FaultTarget parse_target(const nlohmann::json& j, const std::string& where) {
  std::string target = get<std::string>(j, "target", "");
  if (target == "add") return FaultTarget::Add;
  if (target == "getAll") return FaultTarget::GetAll;
  if (target == "file") return FaultTarget::File;
  bad(where + ".target must be add, getAll or file");
}

// The action of fault `j`, checked against its target.
FaultAction parse_action(const nlohmann::json& j, FaultTarget target, const std::string& where) {
  std::string name = get<std::string>(j, "action", "status");
  for (const ActionInfo& info : kActions) {
    if (name != info.name) continue;
    if ((info.targets & target_bit(target)) == 0) {
      bad(where + ": " + name +
          (info.targets == kFile ? " applies to target file only" : " does not apply to this target"));
    }
    return info.action;
  }
  bad(where + ".action unknown: " + name);
}

// after, times, entity and file_index: which occurrences the fault hits.
void parse_occurrences(const nlohmann::json& j, Fault& f, const std::string& where) {
  f.after = get<std::uint64_t>(j, "after", 0);
  if (j.contains("times") && j["times"].is_null()) {
    f.times = std::nullopt;
  } else {
    auto times = get<std::int64_t>(j, "times", 1);
    f.times = times < 0 ? std::nullopt : std::optional<std::uint64_t>(static_cast<std::uint64_t>(times));
  }
  if (j.contains("entity")) {
    f.entity = get<std::string>(j, "entity", "");
    if (!is_entity_type(*f.entity)) bad(where + ".entity unknown: " + *f.entity);
  }
  if (j.contains("file_index")) f.file_index = get<std::uint32_t>(j, "file_index", 0);
}

bool is_redirect_status(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// status, retry_after and body: what a status or redirect fault answers.
void parse_answer(const nlohmann::json& j, Fault& f, const std::string& where) {
  if (f.action == FaultAction::Redirect) {
    f.status = get<int>(j, "status", f.target == FaultTarget::File ? 302 : 307);
    if (!is_redirect_status(f.status)) bad(where + ".status of a redirect must be 301, 302, 303, 307 or 308");
    if (j.contains("location")) f.location = get<std::string>(j, "location", "");
    if (!f.location && f.target != FaultTarget::File) bad(where + ": a redirect of add or getAll needs a location");
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
}

// bytes and seconds: how much a body fault sends and how slowly.
void parse_timing(const nlohmann::json& j, Fault& f, const std::string& where) {
  if (j.contains("bytes")) f.bytes = get<std::uint64_t>(j, "bytes", 0);
  if (f.action == FaultAction::Trickle) {
    f.seconds = get<double>(j, "seconds", 0.1);
    if (!f.bytes) f.bytes = 1024;
    if (*f.bytes == 0) bad(where + ".bytes of a trickle must be positive");
  } else {
    f.seconds = get<double>(j, "seconds", f.seconds);
  }
  if (f.seconds < 0) bad(where + ".seconds must not be negative");
}

// depth, count, bytes and url: what nested, pad and file_url add to an answer.
void parse_shaping(const nlohmann::json& j, Fault& f, const std::string& where) {
  if (f.action == FaultAction::Nested) {
    f.depth = get<std::uint64_t>(j, "depth", f.depth);
    f.count = get<std::uint64_t>(j, "count", f.count);
    if (f.depth == 0 || f.count == 0) bad(where + ": depth and count of nested must be positive");
    if (f.depth > kMaxNestedLevels / f.count) bad(where + ": depth x count of nested is too large");
  }
  if (f.action == FaultAction::Pad && !f.bytes) f.bytes = kDefaultPadBytes;
  if (f.action == FaultAction::FileUrl) {
    if (!j.contains("url") || !j["url"].is_string()) bad(where + ": file_url needs a url string");
    f.url = j["url"].get<std::string>();
  }
}

Fault parse_fault(const nlohmann::json& j, std::size_t n) {
  std::string where = "faults[" + std::to_string(n) + "]";
  if (!j.is_object()) bad(where + " must be an object");
  Fault f;
  f.target = parse_target(j, where);
  f.action = parse_action(j, f.target, where);
  parse_occurrences(j, f, where);
  parse_answer(j, f, where);
  parse_timing(j, f, where);
  parse_shaping(j, f, where);
  return f;
}

// clang-format off
const std::vector<std::string> kKnownKeys = {
    "client_token", "client_tokens", "access_tokens", "seed", "progression", "url_ttl_seconds",
    "expires_after_seconds", "rate_limit", "entities", "failed_entities", "faults", "checkpoint_every",
    "cache_limit_bytes", "threads", "comment", "unknown_fields", "url_padding", "seed_exports", "dataset",
    "files_base_url"};
// clang-format on

void check_known_keys(const nlohmann::json& j) {
  for (const auto& [key, value] : j.items())
    if (std::find(kKnownKeys.begin(), kKnownKeys.end(), key) == kKnownKeys.end()) bad("unknown key \"" + key + "\"");
}

// The member `key` of `j`, which must be an object.
const nlohmann::json& object_at(const nlohmann::json& j, const char* key) {
  const auto& member = j[key];
  if (!member.is_object()) bad(std::string(key) + " must be an object");
  return member;
}

void parse_tokens(const nlohmann::json& j, Scenario& s) {
  if (j.contains("client_token")) s.client_tokens = {get<std::string>(j, "client_token", "")};
  if (j.contains("client_tokens")) s.client_tokens = get<std::vector<std::string>>(j, "client_tokens", {});
  for (const auto& t : get<std::vector<std::string>>(j, "access_tokens", {}))
    if (std::find(s.access_tokens.begin(), s.access_tokens.end(), t) == s.access_tokens.end())
      s.access_tokens.push_back(t);
}

void parse_progression(const nlohmann::json& j, Scenario& s) {
  if (!j.contains("progression")) return;
  const auto& p = object_at(j, "progression");
  if (p.contains("pending_seconds") || p.contains("processing_seconds")) {
    s.by_seconds = true;
    s.pending_seconds = get<double>(p, "pending_seconds", 0);
    s.processing_seconds = get<double>(p, "processing_seconds", 0);
  }
  s.pending_polls = get<std::uint64_t>(p, "pending_polls", s.pending_polls);
  s.processing_polls = get<std::uint64_t>(p, "processing_polls", s.processing_polls);
}

void parse_rate_limit(const nlohmann::json& j, Scenario& s) {
  if (!j.contains("rate_limit")) return;
  const auto& r = object_at(j, "rate_limit");
  s.rate_limit_requests = get<std::uint64_t>(r, "requests", s.rate_limit_requests);
  s.rate_limit_window_seconds = get<double>(r, "window_seconds", s.rate_limit_window_seconds);
}

void parse_entities(const nlohmann::json& j, Scenario& s) {
  if (j.contains("entities")) {
    const auto& e = object_at(j, "entities");
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
}

SeedExports parse_seed(const nlohmann::json& j, std::size_t n, const Scenario& s) {
  const std::string where = "seed_exports[" + std::to_string(n) + "]";
  if (!j.is_object()) bad(where + " must be an object");
  for (const auto& [key, value] : j.items())
    if (key != "entity" && key != "count" && key != "token_index") bad(where + ": unknown key \"" + key + "\"");
  SeedExports seed{get<std::string>(j, "entity", ""), get<std::uint64_t>(j, "count", 0),
                   get<std::size_t>(j, "token_index", 0)};
  if (!is_entity_type(seed.entity)) bad(where + ".entity unknown: " + seed.entity);
  if (seed.count > kMaxSeedExports) bad(where + ".count may be at most " + std::to_string(kMaxSeedExports));
  if (seed.token_index >= s.access_tokens.size()) bad(where + ".token_index has no access token");
  return seed;
}

void parse_seed_exports(const nlohmann::json& j, Scenario& s) {
  if (!j.contains("seed_exports")) return;
  if (!j["seed_exports"].is_array()) bad("seed_exports must be an array");
  std::size_t n = 0;
  for (const auto& seed : j["seed_exports"]) s.seed_exports.push_back(parse_seed(seed, n++, s));
}

void parse_dataset(const nlohmann::json& j, Scenario& s) {
  if (!j.contains("dataset")) return;
  const auto& d = object_at(j, "dataset");
  for (const auto& [key, value] : d.items())
    if (key != "span_seconds" && key != "step_seconds") bad("dataset: unknown key \"" + key + "\"");
  DatasetConfig config;
  config.span_seconds = get<std::int64_t>(d, "span_seconds", config.span_seconds);
  config.step_seconds = get<std::int64_t>(d, "step_seconds", config.step_seconds);
  if (config.span_seconds <= 0 || config.step_seconds <= 0) bad("dataset: span_seconds and step_seconds must be > 0");
  if (config.span_seconds > kMaxDatasetSpan) bad("dataset: span_seconds may be at most 100 years");
  s.dataset = config;
}

// "http://host:port/prefix" or "https://…", without query or fragment; a
// trailing '/' is dropped.
void parse_files_base_url(const nlohmann::json& j, Scenario& s) {
  if (!j.contains("files_base_url") || j["files_base_url"].is_null()) return;
  std::string base = get<std::string>(j, "files_base_url", "");
  const bool scheme = base.starts_with("http://") || base.starts_with("https://");
  const std::size_t host_start = base.find("//") + 2;
  if (!scheme || base.size() <= host_start || base[host_start] == '/' || base.find_first_of("?# ") != std::string::npos)
    bad("files_base_url must be an http:// or https:// URL with a host and without query or fragment");
  while (base.ends_with('/')) base.pop_back();
  s.files_base_url = base;
}

void parse_faults(const nlohmann::json& j, Scenario& s) {
  if (!j.contains("faults")) return;
  if (!j["faults"].is_array()) bad("faults must be an array");
  std::size_t n = 0;
  for (const auto& f : j["faults"]) s.faults.push_back(parse_fault(f, n++));
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
  check_known_keys(j);
  parse_tokens(j, s);
  s.seed = get<std::uint64_t>(j, "seed", s.seed);
  parse_progression(j, s);
  s.url_ttl_seconds = get<std::int64_t>(j, "url_ttl_seconds", s.url_ttl_seconds);
  s.expires_after_seconds = get<std::int64_t>(j, "expires_after_seconds", s.expires_after_seconds);
  parse_rate_limit(j, s);
  parse_entities(j, s);
  parse_faults(j, s);
  parse_seed_exports(j, s);
  parse_dataset(j, s);
  s.unknown_fields = get<bool>(j, "unknown_fields", false);
  s.url_padding = get<std::size_t>(j, "url_padding", 0);
  if (s.url_padding > kMaxUrlPadding) bad("url_padding may be at most " + std::to_string(kMaxUrlPadding));
  parse_files_base_url(j, s);
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
