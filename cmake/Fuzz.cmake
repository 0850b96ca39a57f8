# libFuzzer targets (tests/fuzz/*.cpp), built only with -DMEWS_EXPORT_FUZZ=ON and
# Clang >= 16 (GCC has no libFuzzer). scripts/fuzz configures build-fuzz with
# CC=clang-16 CXX=clang++-16 and runs every target. With the option OFF (the
# default) this file does nothing, so GCC builds are unaffected.
#
# The library target itself is instrumented (-fsanitize=fuzzer-no-link,address,
# undefined) so the fuzz targets exercise the real mews_export code, whatever
# sources src/lib/CMakeLists.txt lists; each fuzz_<name> executable links
# -fsanitize=fuzzer,address,undefined. Configure fuzz builds with
# -DMEWS_EXPORT_BUILD_TESTS=OFF and build only the `fuzzers` target: the CLI
# and sandbox are not needed (they still configure, they are just not built).
option(MEWS_EXPORT_FUZZ "Build the libFuzzer targets in tests/fuzz (needs Clang >= 16)" OFF)

if(MEWS_EXPORT_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang" OR CMAKE_CXX_COMPILER_VERSION VERSION_LESS 16)
    message(FATAL_ERROR "MEWS_EXPORT_FUZZ needs Clang >= 16 (libFuzzer; libstdc++ 12's <expected>), "
                        "found ${CMAKE_CXX_COMPILER_ID} ${CMAKE_CXX_COMPILER_VERSION}. "
                        "Configure with CC=clang-16 CXX=clang++-16, or use scripts/fuzz.")
  endif()

  set(_fuzz_sanitizers -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  # libstdc++ 12 only declares std::expected when __cpp_concepts >= 202002L. Clang
  # implements what that check is for (P0848, conditionally trivial special
  # members) since 16 but reports 201907L until Clang 19; raise the macro.
  set(_fuzz_compat)
  if(CMAKE_CXX_COMPILER_VERSION VERSION_LESS 19)
    set(_fuzz_compat -U__cpp_concepts -D__cpp_concepts=202002L)
  endif()

  add_library(mews_export_fuzzing INTERFACE)
  target_compile_options(mews_export_fuzzing INTERFACE ${_fuzz_compat} ${_fuzz_sanitizers} -g)

  # Instrument the library (and, via the interface, anything else that links it).
  target_compile_options(mews_export PRIVATE ${_fuzz_compat} -fsanitize=fuzzer-no-link ${_fuzz_sanitizers} -g)
  target_compile_options(mews_export PUBLIC ${_fuzz_compat})

  add_custom_target(fuzzers)
  file(GLOB _fuzz_sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/fuzz/fuzz_*.cpp)
  foreach(_source IN LISTS _fuzz_sources)
    get_filename_component(_name ${_source} NAME_WE)
    add_executable(${_name} ${_source})
    target_include_directories(${_name} PRIVATE ${PROJECT_SOURCE_DIR}/tests/fuzz)
    target_link_libraries(${_name} PRIVATE mews_export::mews_export mews_export_fuzzing mews_export_warnings)
    target_compile_options(${_name} PRIVATE -fsanitize=fuzzer)
    target_link_options(${_name} PRIVATE -fsanitize=fuzzer ${_fuzz_sanitizers})
    add_dependencies(fuzzers ${_name})
    # Regression: replay the checked-in corpus (no mutation) as a ctest test.
    set(_corpus ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/${_name})
    if(MEWS_EXPORT_BUILD_TESTS AND IS_DIRECTORY ${_corpus})
      add_test(NAME ${_name}_corpus COMMAND ${_name} -runs=0 ${_corpus})
      set_tests_properties(${_name}_corpus PROPERTIES LABELS fuzz)
    endif()
  endforeach()
elseif(MEWS_EXPORT_BUILD_TESTS)
  # Without libFuzzer: each target linked with a small driver that replays its
  # checked-in corpus once (ctest fuzz_<name>_corpus), under whatever
  # sanitizers this build uses.
  file(GLOB _fuzz_sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/fuzz/fuzz_*.cpp)
  foreach(_source IN LISTS _fuzz_sources)
    get_filename_component(_name ${_source} NAME_WE)
    set(_corpus ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/${_name})
    if(NOT IS_DIRECTORY ${_corpus})
      continue()
    endif()
    add_executable(${_name}_replay ${_source} ${PROJECT_SOURCE_DIR}/tests/fuzz/replay_main.cpp)
    target_include_directories(${_name}_replay PRIVATE ${PROJECT_SOURCE_DIR}/tests/fuzz)
    target_link_libraries(${_name}_replay PRIVATE mews_export::mews_export mews_export_warnings
      mews_export_sanitizers)
    add_test(NAME ${_name}_corpus COMMAND ${_name}_replay ${_corpus})
    set_tests_properties(${_name}_corpus PROPERTIES LABELS fuzz)
  endforeach()
endif()
