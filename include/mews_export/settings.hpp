// Where the CLI's effective settings come from: the platform address, the
// tokens (never from the command line) and the client name.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "mews_export/error.hpp"
#include "mews_export/url.hpp"

namespace mews_export {

inline constexpr const char* kDemoAddress = "https://api.mews-demo.com";
inline constexpr const char* kProductionAddress = "https://api.mews.com";

// "demo", "production" or an http(s) URL -> the base address without a trailing
// slash. Plain http:// is accepted only for loopback hosts (127.0.0.0/8, ::1,
// localhost) unless `allow_insecure_http`. Errors are Usage.
Result<std::string> resolve_platform(const std::string& platform, bool allow_insecure_http);

// A token file larger than this is refused (a token is a few hundred bytes).
inline constexpr std::size_t kMaxTokenFileBytes = 16 * 1024;

// Reads a token from `path` ("~/" expanded; symbolic links followed, as for
// secrets mounted by Kubernetes), trimming surrounding whitespace. Errors
// (Usage) name the path: missing, unreadable, not a regular file, larger than
// kMaxTokenFileBytes, empty, or more than one line.
// Sets `*world_readable` when the file's mode lets group or others read it.
Result<std::string> read_token_file(const std::filesystem::path& path, bool* world_readable = nullptr);

// "~/x" -> "$HOME/x"; other paths unchanged.
std::filesystem::path expand_home(const std::string& path);

}  // namespace mews_export
