# Helpers that give every module and test the same shape.
#
# km_library(<name> SRCS <files...> DEPS <targets...>)
#   A static library `km_<name>`, aliased `keymeter::<name>`, compiled with warnings as
#   errors. Headers are included from the repository root ("engine/store.h").
#
# km_test(<name> SRCS <files...> DEPS <targets...> LABELS <labels...> [TIMEOUT <s>])
#   A Boost.Test executable registered with ctest under the given labels
#   (unit, integration, recovery).

set(KM_WARNINGS -Wall -Wextra -Wpedantic -Werror -Wno-unused-parameter
                -Wno-missing-field-initializers)

function(km_library name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_library(km_${name} STATIC ${ARG_SRCS})
  add_library(keymeter::${name} ALIAS km_${name})
  target_include_directories(km_${name} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_compile_options(km_${name} PRIVATE ${KM_WARNINGS})
  target_link_libraries(km_${name} PUBLIC ${ARG_DEPS})
endfunction()

function(km_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_compile_options(${name} PRIVATE ${KM_WARNINGS})
  target_compile_definitions(${name} PRIVATE BOOST_TEST_DYN_LINK)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} Boost::unit_test_framework)
  add_test(NAME ${name} COMMAND ${name} --log_level=test_suite --report_level=short)
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT})
endfunction()
