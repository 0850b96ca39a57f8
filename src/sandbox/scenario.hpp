// The sandbox's behaviour, read from an optional JSON scenario file: tokens,
// status progression, URL and export lifetimes, rate limit, file layout per
// entity type, failing entity types and injected faults. docs/sandbox.md
// documents every key.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mews_sandbox {

inline constexpr const char* kDefaultClientToken = "sandbox-client-token";
inline constexpr const char* kDefaultAccessToken = "sandbox-access-token";

// How many files an export of one entity type has and how big each is.
struct FileLayout {
  std::uint32_t files = 2;
  std::uint64_t records_per_file = 1000;
  std::uint64_t bytes_per_file = 0;  // > 0: size-defined files (wins over records)
};

enum class FaultTarget { Add, GetAll, File };
enum class FaultAction {
  Status,
  Reset,
  Truncate,
  Stall,
  DropFinalNewline,
  BadJson,  // file: the first record starts with '[' instead of '{' (same size; fixed at creation)
  ExtraBytes,
  Redirect,      // file: 302/307 to `location` or /redirected/files/<id>/<i>?expires&signature (same bytes);
                 // add/getAll: 307 (or `status`) to `location`
  Gzip,          // file: Content-Encoding: gzip (streamed, chunked) when Accept-Encoding allows it; not for Range
  Chunked,       // file: Transfer-Encoding: chunked, no Content-Length
  Trickle,       // file: `bytes` every `seconds`
  Nested,        // add/getAll: each Export object gets "Nested", `count` values `depth` levels deep
  Pad,           // add/getAll: a top-level "Padding" string of `bytes` characters
  Omit,          // getAll: the answer lists no export
  FileUrl,       // getAll: every file Url is `url`, verbatim
  ControlChars,  // add/getAll: 400 with control characters in Message and the Request-Id header
  Mutate,        // file: from this request on the file has new content of the same length (and a new ETag)
};

// One injected fault. It hits matching requests number after .. after+times-1
// (counted from 0 among the requests that match target, entity and file_index).
struct Fault {
  FaultTarget target = FaultTarget::Add;
  FaultAction action = FaultAction::Status;
  std::uint64_t after = 0;
  std::optional<std::uint64_t> times = 1;   // nullopt = every occurrence from `after` on
  std::optional<std::string> entity;        // only exports/requests of this entity type
  std::optional<std::uint32_t> file_index;  // target file only
  int status = 500;                         // status: the HTTP status; redirect: 301/302/303/307/308 (default 302)
  std::optional<std::string> retry_after;
  std::optional<nlohmann::json> body;
  std::optional<std::uint64_t> bytes;   // truncate/stall: bytes sent first (default: half);
                                        // extra_bytes: bytes served beyond the file (default 16);
                                        // trickle: bytes per interval (default 1024)
  double seconds = 5;                   // stall: how long to send nothing; trickle: the interval (default 0.1)
  std::optional<std::string> location;  // redirect: the Location (required for add/getAll)
  std::uint64_t depth = 100;            // nested: levels of nesting
  std::uint64_t count = 1;              // nested: values side by side
  std::optional<std::string> url;       // file_url: the Url every file gets
};

// Dataset mode: per access token and entity type a fixed population of
// records, record k updated at (start - span_seconds) + k * step_seconds.
struct DatasetConfig {
  std::int64_t span_seconds = 3600;
  std::int64_t step_seconds = 1;
};

// Exports that exist from the start, already Success (seed_exports).
struct SeedExports {
  std::string entity;
  std::uint64_t count = 0;
  std::size_t token_index = 0;  // whose exports they are
};

struct Scenario {
  std::vector<std::string> client_tokens{kDefaultClientToken};
  std::vector<std::string> access_tokens{kDefaultAccessToken};
  std::uint64_t seed = 42;

  // Progression: by polls (default) or, when by_seconds, by seconds since add.
  bool by_seconds = false;
  std::uint64_t pending_polls = 1;
  std::uint64_t processing_polls = 1;
  double pending_seconds = 0;
  double processing_seconds = 0;

  std::int64_t url_ttl_seconds = 600;
  std::int64_t expires_after_seconds = 7 * 24 * 3600;
  std::uint64_t rate_limit_requests = 200;
  double rate_limit_window_seconds = 30;

  std::map<std::string, FileLayout> entities;  // by entity type; "*" = default
  FileLayout default_layout;
  std::vector<std::string> failed_entities;
  std::vector<Fault> faults;
  std::vector<SeedExports> seed_exports;
  std::optional<DatasetConfig> dataset;
  // Adds fields this client does not know to every Export object, file entry
  // and API response (forward compatibility).
  bool unknown_fields = false;
  // Characters of the "pad" query parameter appended to every signed file URL.
  std::size_t url_padding = 0;
  // When not empty ("http://127.0.0.1:PORT/prefix", no trailing '/'), getAll's
  // file URLs point at another server: "<files_base_url>/<id>/<index>?expires=…&signature=…".
  std::string files_base_url;

  std::uint64_t checkpoint_every = 1000;
  std::uint64_t cache_limit_bytes = 1 << 20;
  std::size_t threads = 32;

  const FileLayout& layout_for(const std::string& entity) const;
  bool fails(const std::string& entity) const;
};

// Parses a scenario; throws std::runtime_error naming the bad key.
Scenario parse_scenario(const nlohmann::json& j);
Scenario load_scenario_file(const std::string& path);

}  // namespace mews_sandbox
