// dcops_zfs_standin --state DIR zfs|zpool|admin ARGS...
#include <filesystem>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "cmds.hpp"
#include "util.hpp"

int main(int argc, char** argv) {
  std::vector<std::string> a(argv + 1, argv + argc);
  if (a.size() < 3 || a[0] != "--state") {
    std::fputs("usage: dcops_zfs_standin --state DIR zfs|zpool|admin ARGS...\n", stderr);
    return 2;
  }
  const std::string dir = a[1], family = a[2];
  std::vector<std::string> args(a.begin() + 3, a.end());
  std::error_code ec;
  std::filesystem::create_directories(dir + "/blobs", ec);
  int rc = 0;
  try {
    if (family == "zfs") rc = zsim::zfs_main(dir, args);
    else if (family == "zpool") rc = zsim::zpool_main(dir, args);
    else if (family == "admin") rc = zsim::admin_main(dir, args);
    else {
      std::fputs("usage: dcops_zfs_standin --state DIR zfs|zpool|admin ARGS...\n", stderr);
      rc = 2;
    }
  } catch (const zsim::Exit& e) {
    rc = e.code;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "internal error: %s\n", e.what());
    rc = 1;
  }
  std::fflush(stdout);
  return rc;
}
