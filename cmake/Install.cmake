# Installation layout (docs/operations.md, product contract "Installation layout"),
# under the install prefix:
#
#   bin/mews-export, bin/mews-sandbox
#   share/man/man1/mews-export.1
#   share/bash-completion/completions/mews-export
#   share/zsh/site-functions/_mews-export
#   share/fish/vendor_completions.d/mews-export.fish
#   include/mews_export/*.hpp
#   lib/libmews_export.a                       (the library; static by default)
#   lib/cmake/mews_export/mews_exportConfig.cmake, ...ConfigVersion.cmake,
#                          mews_export_targets*.cmake
#
# `lib` is ${CMAKE_INSTALL_LIBDIR}: `lib` for the default prefix (/usr/local),
# `lib/<multiarch>` when configured with -DCMAKE_INSTALL_PREFIX=/usr on Debian.
# The .deb (cmake/Packaging.cmake) installs the same files under /usr.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(MEWS_EXPORT_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/mews_export
  CACHE STRING "Where the CMake package of mews_export is installed (relative to the prefix)")
mark_as_advanced(MEWS_EXPORT_INSTALL_CMAKEDIR)

# The public headers need C++23 (<expected>): say so in the exported target, so
# that consumers get -std=c++23 without setting CMAKE_CXX_STANDARD themselves.
target_compile_features(mews_export INTERFACE cxx_std_23)

# --- programs ---------------------------------------------------------------
install(TARGETS mews-export mews-sandbox
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT Runtime)

# --- man page and shell completions -----------------------------------------
install(FILES ${PROJECT_SOURCE_DIR}/docs/mews-export.1
  DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT Runtime)
install(FILES ${PROJECT_SOURCE_DIR}/completions/mews-export.bash
  DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
  RENAME mews-export COMPONENT Runtime)
install(FILES ${PROJECT_SOURCE_DIR}/completions/_mews-export
  DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/site-functions COMPONENT Runtime)
install(FILES ${PROJECT_SOURCE_DIR}/completions/mews-export.fish
  DESTINATION ${CMAKE_INSTALL_DATADIR}/fish/vendor_completions.d COMPONENT Runtime)

# --- library, headers and CMake package -------------------------------------
# Only the library is exported. mews_export_warnings, mews_export_sanitizers and
# mews_export_codegen are build-only interface targets: the library links them
# through $<BUILD_INTERFACE:...>, so they vanish from the installed link
# interface (no -Wall/-fsanitize/-Os forced on consumers) and must not be
# installed.
install(TARGETS mews_export
  EXPORT mews_export_targets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT Development
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT Runtime NAMELINK_COMPONENT Development
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT Runtime
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# `cmake --install --strip` and the packages (CPACK_STRIP_FILES) strip the
# programs; also drop the debug information of a static library (-g builds make
# it ~40 MB), keeping its symbols.
if(CMAKE_STRIP)
  install(CODE "
    if(CMAKE_INSTALL_DO_STRIP)
      set(_archive \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/$<TARGET_FILE_NAME:mews_export>\")
      if(\"$<TARGET_PROPERTY:mews_export,TYPE>\" STREQUAL \"STATIC_LIBRARY\" AND EXISTS \"\${_archive}\")
        execute_process(COMMAND \"${CMAKE_STRIP}\" --strip-debug \"\${_archive}\")
      endif()
    endif()" COMPONENT Development)
endif()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/mews_export
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT Development
  FILES_MATCHING PATTERN "*.hpp")
install(EXPORT mews_export_targets
  NAMESPACE mews_export::
  FILE mews_export_targets.cmake
  DESTINATION ${MEWS_EXPORT_INSTALL_CMAKEDIR} COMPONENT Development)

# The Config file's find_dependency() calls, derived from what the library
# links, so that a dependency added in src/lib/CMakeLists.txt cannot be
# forgotten here. PUBLIC dependencies are always needed; PRIVATE ones only for a
# static library, which carries them as $<LINK_ONLY:...> link dependencies.
# BUILD_INTERFACE-only targets (warnings, sanitizers) are not exported.
set(_mews_export_find_args_CURL "CURL 7.68")
set(_mews_export_find_args_OpenSSL "OpenSSL 3 COMPONENTS Crypto")
set(_mews_export_find_args_spdlog "spdlog 1.10")
set(_mews_export_find_args_nlohmann_json "nlohmann_json 3.10")
set(_mews_export_find_args_tomlplusplus "tomlplusplus 3")
set(_mews_export_find_args_pugixml "pugixml 1.11")
set(_mews_export_find_args_simdjson "simdjson 3")
set(_mews_export_find_args_Threads "Threads")
get_target_property(_mews_export_type mews_export TYPE)
get_target_property(_mews_export_public mews_export INTERFACE_LINK_LIBRARIES)
get_target_property(_mews_export_all mews_export LINK_LIBRARIES)
set(_mews_export_deps "")
foreach(_lib IN LISTS _mews_export_public _mews_export_all)
  if(NOT _lib OR _lib MATCHES "^\\$<(BUILD_INTERFACE|LINK_ONLY:\\$<BUILD_INTERFACE):")
    continue()
  endif()
  string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" _lib "${_lib}")
  if(NOT _lib IN_LIST _mews_export_public AND NOT _mews_export_type STREQUAL "STATIC_LIBRARY")
    continue()  # a private dependency of a shared library
  endif()
  if(_lib MATCHES "^([A-Za-z0-9_]+)::")
    set(_pkg ${CMAKE_MATCH_1})
    if(NOT DEFINED _mews_export_find_args_${_pkg})
      message(FATAL_ERROR "cmake/Install.cmake: mews_export links ${_lib}; add how to find package ${_pkg} "
                          "(_mews_export_find_args_${_pkg}) so that the installed CMake package finds it")
    endif()
    list(APPEND _mews_export_deps "find_dependency(${_mews_export_find_args_${_pkg}})")
  elseif(TARGET ${_lib})
    get_target_property(_imported ${_lib} IMPORTED)
    if(_imported)
      message(FATAL_ERROR "cmake/Install.cmake: mews_export links the imported target ${_lib}, "
                          "which the installed CMake package cannot recreate")
    endif()
  endif()
endforeach()
list(REMOVE_DUPLICATES _mews_export_deps)
list(JOIN _mews_export_deps "\n" MEWS_EXPORT_FIND_DEPENDENCIES)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/mews_exportConfig.cmake.in
  ${PROJECT_BINARY_DIR}/mews_exportConfig.cmake
  INSTALL_DESTINATION ${MEWS_EXPORT_INSTALL_CMAKEDIR}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR)
# 0.x: minor versions may break the API, so 0.1 does not satisfy 0.2 and back.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/mews_exportConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/mews_exportConfig.cmake
  ${PROJECT_BINARY_DIR}/mews_exportConfigVersion.cmake
  DESTINATION ${MEWS_EXPORT_INSTALL_CMAKEDIR} COMPONENT Development)
