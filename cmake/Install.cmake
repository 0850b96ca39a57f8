include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS mews_export mews_export_warnings mews_export_sanitizers
  EXPORT mews_export_targets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/mews_export DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS mews-export mews-sandbox RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT mews_export_targets NAMESPACE mews_export::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mews_export)
configure_package_config_file(cmake/mews_exportConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/mews_exportConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mews_export)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/mews_exportConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/mews_exportConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/mews_exportConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mews_export)
