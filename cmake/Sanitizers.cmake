# AddressSanitizer + UBSan for the whole tree. Any UBSan report aborts the test
# (-fno-sanitize-recover=all), so nothing is only printed and missed.
if(DCOPS_SANITIZE)
  set(_san -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    # clang's UBSan flags RapidJSON's internal stack (null pointer + offset); see TOOLCHAIN.md.
    list(APPEND _san -fsanitize-ignorelist=${CMAKE_SOURCE_DIR}/cmake/ubsan-ignore.txt)
  endif()
  add_compile_options(${_san})
  add_link_options(-fsanitize=address,undefined)
endif()

# ThreadSanitizer, for the library and agent unit tests (scripts/tsan). Not with ASan (they
# exclude each other), and not for the tests that load gRPC or libpq: those are not built
# with TSan here and report their own internals.
if(DCOPS_SANITIZE_THREAD)
  if(DCOPS_SANITIZE)
    message(FATAL_ERROR "DCOPS_SANITIZE and DCOPS_SANITIZE_THREAD exclude each other")
  endif()
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
endif()

# libFuzzer (scripts/fuzz, clang only): every object instrumented for coverage and built with
# ASan+UBSan, so a finding anywhere a fuzz target reaches stops the run. Only the fuzz targets
# are built in such a tree (the `fuzzers` target).
if(DCOPS_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "DCOPS_FUZZ needs clang (CMAKE_CXX_COMPILER=clang++)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
                      -fsanitize-ignorelist=${CMAKE_SOURCE_DIR}/cmake/ubsan-ignore.txt
                      # Debian's RapidJSON 1.1.0 declares its iterators' == so that C++20's
                      # reversed candidates make every `FindMember(..) == MemberEnd()` ambiguous to clang.
                      -Wno-ambiguous-reversed-operator)
  add_link_options(-fsanitize=address,undefined)
endif()
