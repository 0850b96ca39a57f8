# CPack: a Debian package (and a .tar.gz) of what cmake/Install.cmake installs.
#
#   cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
#   cmake --build build
#   (cd build && cpack -G DEB)          # -> build/mews-export_0.1.0_amd64.deb
#   dpkg -c build/mews-export_*.deb
#
# One package, `mews-export`, installed under /usr: the programs, the man page,
# the shell completions, and the library with its headers and CMake package.
# `Depends` is computed by dpkg-shlibdeps (Debian package dpkg-dev) from the
# programs' shared libraries. Building the package needs dpkg-deb (dpkg) and
# dpkg-shlibdeps (dpkg-dev); the tests in tests/package skip without them.
set(MEWS_EXPORT_PACKAGE_MAINTAINER "The mews-export authors <mews-export@users.noreply.github.com>"
  CACHE STRING "Maintainer field of the .deb (\"Name <email>\")")
set(MEWS_EXPORT_PACKAGE_RELEASE "1" CACHE STRING "Debian revision of the .deb (the part after the -)")

set(CPACK_PACKAGE_NAME "mews-export")
set(CPACK_PACKAGE_VENDOR "The mews-export authors")
set(CPACK_PACKAGE_CONTACT "${MEWS_EXPORT_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Bulk Data export client for the Mews Connector API")
set(CPACK_PACKAGE_HOMEPAGE_URL "https://mews-systems.gitbook.io/connector-api/")
set(CPACK_RESOURCE_FILE_LICENSE "${PROJECT_SOURCE_DIR}/LICENSE")
set(CPACK_RESOURCE_FILE_README "${PROJECT_SOURCE_DIR}/README.md")
set(CPACK_PACKAGE_CHECKSUM SHA256)
set(CPACK_STRIP_FILES ON)  # strips the programs (static archives are left alone)
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_GENERATOR "TGZ")
find_program(MEWS_EXPORT_DPKG_DEB dpkg-deb)
mark_as_advanced(MEWS_EXPORT_DPKG_DEB)
if(MEWS_EXPORT_DPKG_DEB)
  list(APPEND CPACK_GENERATOR "DEB")
endif()

# --- Debian -----------------------------------------------------------------
set(CPACK_DEBIAN_PACKAGE_NAME "mews-export")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${MEWS_EXPORT_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_RELEASE "${MEWS_EXPORT_PACKAGE_RELEASE}")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # mews-export_<version>-<release>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION "utils")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "${CPACK_PACKAGE_HOMEPAGE_URL}")
# The extended description (CPack puts CPACK_PACKAGE_DESCRIPTION_SUMMARY first).
set(CPACK_PACKAGE_DESCRIPTION "mews-export starts an export of the Mews Connector API (Data export), polls
it until it finishes, and downloads every JSON Lines file of the result to a
directory (verified against the announced sizes, resumable, with a manifest)
or to standard output, for cron jobs, systemd timers and jq pipelines. It
remembers its own exports in a local journal, so an interrupted run resumes
instead of starting another.
.
This package also contains mews-sandbox, a local server that behaves like
the export endpoints with synthetic data, and the C++ library with its
headers and CMake package (find_package(mews_export)).")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # Depends: from dpkg-shlibdeps
# Not needed to run the programs, but by what the package ships for:
#  - the shell completions (bash-completion),
#  - jq pipelines (jq) and the CA certificates for HTTPS (ca-certificates),
#  - building against the static library (its link dependencies' -dev packages).
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "ca-certificates")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS
  "bash-completion, jq, libcurl4-openssl-dev | libcurl-dev, libssl-dev, libspdlog-dev, libtomlplusplus-dev, nlohmann-json3-dev")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

# --- source package (cpack --config CPackSourceConfig.cmake) ----------------
set(CPACK_SOURCE_GENERATOR "TGZ")
set(CPACK_SOURCE_PACKAGE_FILE_NAME "mews-export-${PROJECT_VERSION}")
set(CPACK_SOURCE_IGNORE_FILES
  "/\\\\.git/" "/\\\\.cache/" "/build[^/]*/" "/_CPack_Packages/" "\\\\.deb$" "\\\\.swp$" "~$")

include(CPack)
