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
  set(_env "")
  if(ARG_FIXTURES)
    set(_env FIXTURES_REQUIRED "${ARG_FIXTURES}" ENVIRONMENT "DCOPS_TEST_PG_INFO=${DCOPS_TEST_PG_INFO}")
  endif()
  # Discovery runs the binary once after each build; keep it away from the database.
  # -w NoTests: a filter that matches nothing fails instead of passing vacuously.
  # Test cases tagged [attack] (the adversarial suite: each repeats an attack and asserts the
  # refusal) carry the label "<label>-attack" ("db-attack", "e2e-attack"), so `ctest -L attack`
  # runs them all and `-L db` / `-LE e2e` still select them. One label, because Catch's
  # discovery flattens a list of labels into separate properties.
  set(_attack_label "")
  if(ARG_LABELS)
    list(JOIN ARG_LABELS "-" _attack_label)
    string(APPEND _attack_label "-")
  endif()
  string(APPEND _attack_label "attack")
  catch_discover_tests(${name} TEST_SPEC "~[attack]" EXTRA_ARGS -w NoTests
                       PROPERTIES LABELS "${ARG_LABELS}" ${_env})
  catch_discover_tests(${name} TEST_SPEC "[attack]" EXTRA_ARGS -w NoTests
                       PROPERTIES LABELS "${_attack_label}" ${_env})
endfunction()
