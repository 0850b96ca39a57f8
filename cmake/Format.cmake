# `format` rewrites the C++ sources with clang-format; `format-check` fails
# when one differs (what CI's lint job runs through scripts/lint).
find_program(CLANG_FORMAT NAMES clang-format clang-format-16 clang-format-14)
if(CLANG_FORMAT)
  file(GLOB_RECURSE MEWS_EXPORT_FORMAT_FILES CONFIGURE_DEPENDS
    ${PROJECT_SOURCE_DIR}/include/*.hpp ${PROJECT_SOURCE_DIR}/src/*.cpp ${PROJECT_SOURCE_DIR}/src/*.hpp
    ${PROJECT_SOURCE_DIR}/tests/*.cpp ${PROJECT_SOURCE_DIR}/tests/*.hpp)
  add_custom_target(format COMMAND ${CLANG_FORMAT} -i ${MEWS_EXPORT_FORMAT_FILES}
    COMMENT "clang-format -i" VERBATIM)
  add_custom_target(format-check COMMAND ${CLANG_FORMAT} --dry-run --Werror ${MEWS_EXPORT_FORMAT_FILES}
    COMMENT "clang-format --dry-run --Werror" VERBATIM)
endif()
