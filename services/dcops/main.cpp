// dcops: wiring only. Its behaviour arrives with its issue (see docs/ROADMAP.md); until then
// the binary exists so packaging, compose files and CI have the full set of names.
#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--version") == 0) {
    std::printf("dcops %s\n", DCOPS_VERSION);
    return 0;
  }
  std::fprintf(stderr, "dcops %s: not implemented yet (see docs/ROADMAP.md)\n", DCOPS_VERSION);
  return 2;
}
