// The simulated iDRAC's logs, configuration profiles and pushed packages without a network.
#include <catch2/catch.hpp>

#include "test_bmc.hpp"

namespace dcops::sim {
namespace {

TEST_CASE("Logs grow newest first, the SEL wraps at 1,024 records, and the BMC logs its own events", "[sim]") {
  Bmc bmc = MakeTestBmc();
  const SimTime t0{};
  REQUIRE(bmc.Log("sel").size() == 1);  // "Log cleared."
  for (int i = 0; i < 1100; ++i) bmc.AddLogEntry("sel", {"", "", "Warning", "", "Fan " + std::to_string(i), "Fan", "Deassert"});
  const auto sel = bmc.Log("sel");
  CHECK(sel.size() == 1024);
  CHECK(sel.front().id == "1101");
  CHECK(sel.front().message == "Fan 1099");
  CHECK(sel.back().id == "78");
  REQUIRE(bmc.CreateSession("root", t0));
  REQUIRE(bmc.Reset("ForceRestart", t0).status == 204);
  const auto lc = bmc.Log("lifecycle");
  REQUIRE(lc.size() == 2);
  CHECK(lc[0].message_id == "SYS1003");
  CHECK(lc[1].message_id == "USR0030");
  CHECK(lc[0].created.size() == 25);  // 2026-11-27T10:00:05+00:00
}

TEST_CASE("An exported profile holds the chosen components and never a password", "[sim]") {
  Bmc bmc = MakeTestBmc();
  const SimTime t0{};
  std::string job;
  REQUIRE(bmc.ExportProfile("XML", "BIOS", t0, &job).status == 202);
  auto done = bmc.Job(job, t0 + milliseconds(1000));
  REQUIRE(done->state == "Completed");
  CHECK(done->message_id == "SYS043");
  CHECK(done->output.find(R"(<Component FQDD="BIOS.Setup.1-1">)") != std::string::npos);
  CHECK(done->output.find(R"(<Attribute Name="BootMode">Uefi</Attribute>)") != std::string::npos);
  CHECK(done->output.find("iDRAC.Embedded.1") == std::string::npos);
  REQUIRE(bmc.ExportProfile("JSON", "ALL", t0 + milliseconds(2000), &job).status == 202);
  done = bmc.Job(job, t0 + milliseconds(3000));
  CHECK(done->output.find(R"("FQDD":"iDRAC.Embedded.1")") != std::string::npos);
  CHECK(done->output.find(R"("Name":"NTPConfigGroup.1#NTPEnable")") != std::string::npos);
  CHECK(done->output.find("Password") == std::string::npos);
  CHECK(bmc.ExportProfile("YAML", "ALL", t0, &job).status == 400);
}

TEST_CASE("A profile import previews without changing anything, then applies through a reboot", "[sim]") {
  Bmc bmc = MakeTestBmc();
  const SimTime t0{};
  const std::string profile = R"(<SystemConfiguration ServiceTag="OTHER01">
<Component FQDD="iDRAC.Embedded.1"><Attribute Name="NTPConfigGroup.1#NTP1">pool.example</Attribute>
<!-- <Attribute Name="Users.2#Password">******</Attribute> --></Component>
<Component FQDD="BIOS.Setup.1-1"><Attribute Name="BootMode">Bios</Attribute><Attribute Name="NumLock">On</Attribute></Component>
</SystemConfiguration>)";
  std::string job;
  REQUIRE(bmc.ImportProfile(profile, "", "", true, t0, &job).status == 202);
  CHECK(bmc.Job(job, t0 + milliseconds(1000))->message_id == "SYS081");
  CHECK(bmc.BiosAttributes()["BootMode"] == "\"Uefi\"");

  REQUIRE(bmc.ImportProfile(profile, "Graceful", "On", false, t0 + milliseconds(1000), &job).status == 202);
  // The host restarts now; the job runs while it POSTs (from 2000) for 1000.
  CHECK(bmc.Job(job, t0 + milliseconds(2500))->state == "Running");
  auto done = bmc.Job(job, t0 + milliseconds(3000));
  CHECK(done->state == "Completed");
  CHECK(done->message_id == "SYS053");
  CHECK(bmc.BiosAttributes()["BootMode"] == "\"Bios\"");
  CHECK(bmc.IdracAttributes()["NTPConfigGroup.1.NTP1"] == "\"pool.example\"");
  // The same profile again changes nothing.
  REQUIRE(bmc.ImportProfile(profile, "Graceful", "On", false, t0 + milliseconds(5000), &job).status == 202);
  CHECK(bmc.Job(job, t0 + milliseconds(6000))->message_id == "SYS069");

  SECTION("a truncated profile fails its job with the iDRAC's message") {
    REQUIRE(bmc.ImportProfile(profile.substr(0, 80), "Graceful", "On", true, t0 + milliseconds(7000), &job).status == 202);
    auto failed = bmc.Job(job, t0 + milliseconds(8000));
    CHECK(failed->state == "Failed");
    CHECK(failed->message_id == "SYS041");
  }
  SECTION("NoReboot leaves the BIOS part waiting for the next reboot") {
    const std::string bios_only = R"({"SystemConfiguration":{"Components":[{"FQDD":"BIOS.Setup.1-1","Attributes":[{"Name":"NumLock","Value":"Off"}]}]}})";
    REQUIRE(bmc.ImportProfile(bios_only, "NoReboot", "On", false, t0 + milliseconds(7000), &job).status == 202);
    CHECK(bmc.Job(job, t0 + milliseconds(9000))->state == "Scheduled");
    CHECK(bmc.PendingBios()["NumLock"] == "\"Off\"");
  }
}

TEST_CASE("A pushed package is updated like SimpleUpdate, and one that is not a Dell package fails", "[sim]") {
  Bmc bmc = MakeTestBmc();
  const SimTime t0{};
  std::string job;
  REQUIRE(bmc.PushUpdate("BIOS_8T4P1_WN64_1.13.2.EXE", "MZ....", t0, &job).status == 202);
  CHECK(bmc.Job(job, t0)->state == "Scheduled");
  CHECK(bmc.Job(job, t0)->component == kBiosComponent);
  REQUIRE(bmc.Reset("ForceRestart", t0 + milliseconds(100)).status == 204);
  CHECK(bmc.Job(job, t0 + milliseconds(3000))->state == "Completed");
  REQUIRE(bmc.PushUpdate("BIOS_8T4P1_WN64_1.14.0.EXE", "<html>not a package</html>", t0 + milliseconds(4000), &job).status == 202);
  auto failed = bmc.Job(job, t0 + milliseconds(5000));
  CHECK(failed->state == "Failed");
  CHECK(failed->message_id == "RED004");
}

}  // namespace
}  // namespace dcops::sim
