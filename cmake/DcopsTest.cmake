# Where the private PostgreSQL fixture writes its connection facts (see tests/pg/).
set(DCOPS_TEST_PG_INFO "${CMAKE_BINARY_DIR}/pg-fixture.env")

# dcops_unit_test(NAME SOURCES... LIBS ... [FIXTURES ...] [LABELS ...])
#
# Adds a Catch2 test executable that sits beside the code it tests, links the given
# libraries, and registers every TEST_CASE with CTest. FIXTURES names CTest fixtures the
# tests require (e.g. `postgres`, which starts the private PostgreSQL of this run).
function(dcops_unit_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;FIXTURES;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} Catch2::Catch2WithMain)
  set(_props LABELS "${ARG_LABELS}")
  if(ARG_FIXTURES)
    list(APPEND _props FIXTURES_REQUIRED "${ARG_FIXTURES}"
         ENVIRONMENT "DCOPS_TEST_PG_INFO=${DCOPS_TEST_PG_INFO}")
  endif()
  # Discovery runs the binary once after each build; keep it away from the database.
  # -w NoTests: a filter that matches nothing fails instead of passing vacuously.
  catch_discover_tests(${name} EXTRA_ARGS -w NoTests PROPERTIES ${_props})
endfunction()
