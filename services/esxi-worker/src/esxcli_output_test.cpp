// esxcli's tables and records read by name, whatever the widths; builds found in profile
// names and VIB lists, ambiguity refused.
#include "esxcli_output.hpp"

#include <catch2/catch.hpp>

namespace dcops::esxi {
namespace {

TEST_CASE("esxcli tables are read by the dashes' columns, the last column taking the rest", "[esxcli]") {
  const std::string text =
      "Name                           Vendor        Acceptance Level  Creation Time        Modification Time\n"
      "-----------------------------  ------------  ----------------  -------------------  -------------------\n"
      "ESXi-8.0U2b-23305546-standard  VMware, Inc.  PartnerSupported  2024-02-29T00:00:00  2024-02-29T00:00:00\n"
      "ESXi-8.0U2b-23305546-no-tools  VMware, Inc.  PartnerSupported  2024-02-29T00:00:00  2024-02-29T00:00:00 (extra)\n"
      "\n";
  auto rows = ParseEsxcliTable(text);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 2);
  CHECK((*rows)[0].at("Name") == "ESXi-8.0U2b-23305546-standard");
  CHECK((*rows)[0].at("Vendor") == "VMware, Inc.");
  CHECK((*rows)[1].at("Modification Time") == "2024-02-29T00:00:00 (extra)");
  CHECK_FALSE(ParseEsxcliTable("Error: Unknown command or namespace software sources profile lists\n").ok());
  auto empty = ParseEsxcliTable("Name  Vendor\n----  ------\n");
  REQUIRE(empty.ok());
  CHECK(empty->empty());
}

TEST_CASE("A filesystem table with right-aligned columns and a last column narrower than its values", "[esxcli]") {
  // As ESXi 7/8 print it (tests/sim/esxcli/README.md): Mounted, Size and Free right-aligned.
  const std::string text =
      "Mount Point                                        Volume Name                                 UUID                                 Mounted  Type            Size          Free\n"
      "-------------------------------------------------  ------------------------------------------  -----------------------------------  -------  ------  ------------  ------------\n"
      "/vmfs/volumes/5fa1c2af-46adb800-eb60-24b6fdff0ec2  datastore1                                  5fa1c2af-46adb800-eb60-24b6fdff0ec2     true  VMFS-6  471909531648  469474738176\n"
      "/vmfs/volumes/66aa25b4-80eeca2a-d6dd-1e00f7000340  OSDATA-66aa25b4-80eeca2a-d6dd-1e00f7000340  66aa25b4-80eeca2a-d6dd-1e00f7000340     true  VMFSOS    8321499136    5360320512\n";
  auto rows = ParseEsxcliTable(text);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 2);
  CHECK((*rows)[1].at("Volume Name") == "OSDATA-66aa25b4-80eeca2a-d6dd-1e00f7000340");
  CHECK((*rows)[1].at("Type") == "VMFSOS");
  CHECK((*rows)[1].at("Mounted") == "true");
  CHECK(EsxcliBytes((*rows)[1].at("Free")) == std::optional<long long>(5360320512LL));
  CHECK(EsxcliBytes((*rows)[0].at("Size")) == std::optional<long long>(471909531648LL));
}

TEST_CASE("esxcli records are read by field name", "[esxcli]") {
  auto version = ParseEsxcliRecord("   Product: VMware ESXi\n   Version: 8.0.2\n   Build: Releasebuild-22380479\n   Update: 2\n   Patch: 0\n");
  CHECK(version["Version"] == "8.0.2");
  CHECK(BuildOf(version["Build"]) == std::optional<std::string>("22380479"));
  auto update = ParseEsxcliRecord(
      "Update Result\n"
      "   Message: The update completed successfully, but the system needs to be rebooted for the changes to be effective.\n"
      "   Reboot Required: true\n"
      "   VIBs Installed: VMware_bootbank_bmcal_8.0.2-0.25.23305546, VMware_bootbank_esx-base_8.0.2-0.25.23305546\n"
      "   VIBs Removed: VMware_bootbank_esx-base_8.0.2-0.0.22380479\n"
      "   VIBs Skipped:\n");
  CHECK(update["Reboot Required"] == "true");
  CHECK(update["VIBs Skipped"].empty());
  CHECK(EsxBaseBuild(update["VIBs Installed"]) == std::optional<std::string>("23305546"));
  CHECK_FALSE(EsxBaseBuild(update["VIBs Removed"].substr(0, 10)).has_value());
}

TEST_CASE("A profile's build comes from its name only when the name holds exactly one", "[esxcli]") {
  CHECK(BuildInProfileName("ESXi-8.0U2b-23305546-standard") == std::optional<std::string>("23305546"));
  CHECK(BuildInProfileName("DEL-ESXi_802.22380479-A04") == std::optional<std::string>("22380479"));
  CHECK_FALSE(BuildInProfileName("ESXi-8.0U2b-standard").has_value());
  CHECK_FALSE(BuildInProfileName("Custom-21495797-to-23305546").has_value());
  CHECK(EsxcliBytes("126508597248") == std::optional<long long>(126508597248LL));
  CHECK_FALSE(EsxcliBytes("1.2 GB").has_value());
}

}  // namespace
}  // namespace dcops::esxi
