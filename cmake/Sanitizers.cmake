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
