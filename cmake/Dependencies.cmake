# Every third-party package, found the way TOOLCHAIN.md says works on Debian 12.
# Later issues add gRPC/protobuf/httplib/curl/pugixml here; only what is linked is found.
find_package(PkgConfig REQUIRED)
find_package(fmt CONFIG REQUIRED)
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
# Debian's gRPC targets name the full protobuf runtime, which libgrpc++ itself does not need
# (ldd shows it); our .proto files are LITE_RUNTIME, so every process maps libprotobuf-lite
# alone (1.8 -> ~0.4 MiB resident, issue 23).
foreach(_grpc_target gRPC::grpc++ gRPC::grpc++_unsecure)
  if(TARGET ${_grpc_target})
    get_target_property(_grpc_links ${_grpc_target} INTERFACE_LINK_LIBRARIES)
    list(TRANSFORM _grpc_links REPLACE "^protobuf::libprotobuf$" "protobuf::libprotobuf-lite")
    set_target_properties(${_grpc_target} PROPERTIES INTERFACE_LINK_LIBRARIES "${_grpc_links}")
  endif()
endforeach()
find_package(RapidJSON CONFIG REQUIRED)
find_package(PostgreSQL REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(CURL REQUIRED)
find_package(pugixml CONFIG REQUIRED)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
pkg_check_modules(LIBSSH REQUIRED IMPORTED_TARGET libssh)
find_package(Catch2 CONFIG REQUIRED)
include(Catch)

# RapidJSON ships no target; wrap its include dir so targets link it like any other.
if(NOT TARGET dcops_rapidjson)
  add_library(dcops_rapidjson INTERFACE)
  target_include_directories(dcops_rapidjson SYSTEM INTERFACE ${RAPIDJSON_INCLUDE_DIRS})
  target_compile_definitions(dcops_rapidjson INTERFACE RAPIDJSON_HAS_STDSTRING=1)
endif()
