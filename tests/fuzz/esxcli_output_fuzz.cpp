// esxcli's output as the esxi-worker reads it over SSH: tables, records, builds and sizes.
#include "esxcli_output.hpp"
#include "fuzz_target.hpp"

FUZZ_TARGET {
  using namespace dcops::esxi;
  const std::string text = dcops::fuzz::Text(data, size);
  (void)ParseEsxcliTable(text);
  (void)ParseEsxcliRecord(text);
  if (auto build = BuildOf(text)) {
    dcops::fuzz::Expect(build->size() >= 5 && build->size() <= 12 &&
                            build->find_first_not_of("0123456789") == std::string::npos,
                        "a build is 5 to 12 digits");
  }
  (void)BuildInProfileName(text);
  (void)EsxBaseBuild(text);
  (void)EsxcliBytes(text);
  const std::size_t half = text.size() / 2;
  const std::string a = text.substr(0, half), b = text.substr(half);
  if (a.find_first_not_of("0123456789") == std::string::npos && b.find_first_not_of("0123456789") == std::string::npos) {
    const int ab = CompareBuilds(a, b), ba = CompareBuilds(b, a);
    dcops::fuzz::Expect((ab < 0 && ba > 0) || (ab > 0 && ba < 0) || (ab == 0 && ba == 0), "build order is antisymmetric");
  }
  return 0;
}
