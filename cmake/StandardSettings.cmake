# Warnings and sanitizers as interface targets, linked by every target we build.
add_library(mews_export_warnings INTERFACE)
target_compile_options(mews_export_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
  -Wcast-align -Woverloaded-virtual -Wformat=2
  -Wno-missing-field-initializers)
if(MEWS_EXPORT_WERROR)
  target_compile_options(mews_export_warnings INTERFACE -Werror)
endif()

add_library(mews_export_sanitizers INTERFACE)
if(MEWS_EXPORT_SANITIZE)
  target_compile_options(mews_export_sanitizers INTERFACE
    -fsanitize=${MEWS_EXPORT_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(mews_export_sanitizers INTERFACE -fsanitize=${MEWS_EXPORT_SANITIZE})
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
