// Shared helper for the libFuzzer targets: a property check that aborts with a
// message (libFuzzer then saves the input as crash-<sha1> and fails the run).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

#define MEWS_FUZZ_CHECK(cond)                                                            \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (false)

inline std::string_view fuzz_text(const unsigned char* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}
