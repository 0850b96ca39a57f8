# Warnings and sanitizers as interface targets, linked by every target we build.
add_library(mews_export_warnings INTERFACE)
target_compile_options(mews_export_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
  -Wcast-align -Woverloaded-virtual -Wformat=2
  -Wno-missing-field-initializers)
if(MEWS_EXPORT_WERROR)
  target_compile_options(mews_export_warnings INTERFACE -Werror)
endif()

# Code size: in optimised builds our own code is built with -Os. The bytes of a
# download are moved by libc (memcpy, memchr), OpenSSL (SHA-256), libcurl and
# the kernel, so -Os costs no speed there (rows 1-3 of scripts/bench measured
# the same within noise), while it shrinks our binary's text (2.0 -> 1.2 MB) and
# with it the pages every run maps: 0.7-0.9 MiB less peak RSS for every
# command (docs/performance.md, row 4).
option(MEWS_EXPORT_OPTIMIZE_SIZE "Build mews-export's own code with -Os in optimised builds" ON)
add_library(mews_export_codegen INTERFACE)
if(MEWS_EXPORT_OPTIMIZE_SIZE)
  target_compile_options(mews_export_codegen INTERFACE $<$<CONFIG:Release,RelWithDebInfo>:-Os>)
endif()
# The sources every received byte passes through keep -O2: under -Os GCC turns
# a memcpy of unknown size into `rep movsb` and inlines less on the per-piece
# path. They skip the precompiled header in those builds (it was made with
# -Os, which GCC would refuse for them anyway).
function(mews_export_hot_sources)
  if(NOT MEWS_EXPORT_OPTIMIZE_SIZE)
    return()
  endif()
  set_source_files_properties(${ARGN} PROPERTIES COMPILE_OPTIONS $<$<CONFIG:Release,RelWithDebInfo>:-O2>)
  if(CMAKE_BUILD_TYPE MATCHES "^(Release|RelWithDebInfo)$")
    set_source_files_properties(${ARGN} PROPERTIES SKIP_PRECOMPILE_HEADERS ON)
  endif()
endfunction()

# Sanitizers. Our code (library, CLI, sandbox) is built with all of
# MEWS_EXPORT_SANITIZE; the tests' own code (mews_export_test_sanitizers)
# without UndefinedBehaviorSanitizer, whose checks on every operation of
# GoogleTest's and the fixtures' templates made a test file take half as long
# again to compile, for code that is not the product. Every executable still
# links the whole runtime, so the product's checks run in every test.
#
# Sanitized executables other than ThreadSanitizer's are linked -no-pie: the
# test suite starts the 130 MB sanitized binaries once per test and more, and
# the dynamic loader spent 0.2 s of each start relocating a position-
# independent one (0.45 s against 0.25 s for `mews-export --version`; the
# whole suite 580 s against 408 s on 2 cores).
add_library(mews_export_sanitizers INTERFACE)
add_library(mews_export_test_sanitizers INTERFACE)
if(MEWS_EXPORT_SANITIZE)
  set(_sanitizer_compile -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_compile_options(mews_export_sanitizers INTERFACE -fsanitize=${MEWS_EXPORT_SANITIZE} ${_sanitizer_compile})
  string(REPLACE "," ";" _test_sanitizers "${MEWS_EXPORT_SANITIZE}")
  list(REMOVE_ITEM _test_sanitizers undefined)
  list(JOIN _test_sanitizers "," _test_sanitizers)
  if(_test_sanitizers)
    target_compile_options(mews_export_test_sanitizers INTERFACE -fsanitize=${_test_sanitizers} ${_sanitizer_compile})
  endif()
  set(_sanitizer_link -fsanitize=${MEWS_EXPORT_SANITIZE})
  if(NOT MEWS_EXPORT_SANITIZE MATCHES "thread")
    list(APPEND _sanitizer_link -no-pie)
  endif()
  target_link_options(mews_export_sanitizers INTERFACE ${_sanitizer_link})
  target_link_options(mews_export_test_sanitizers INTERFACE ${_sanitizer_link})
endif()

# Precompiled headers: nlohmann/json, CLI11, spdlog, httplib and GoogleTest are
# most of every translation unit's compile time; each target parses them once.
option(MEWS_EXPORT_PCH "Precompile the heavy third-party headers" ON)
function(mews_export_precompile target)
  if(MEWS_EXPORT_PCH AND NOT MEWS_EXPORT_FUZZ)
    target_precompile_headers(${target} PRIVATE <nlohmann/json.hpp> <string> <vector> <map> <filesystem>
                                                <functional> <chrono> <expected> <optional> ${ARGN})
  endif()
endfunction()
