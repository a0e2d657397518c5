// The simulated iDRAC's operations without a network: the job queue, firmware updates that
// wait for a reboot or restart the iDRAC, boot overrides, virtual media and BIOS settings.
#include <catch2/catch.hpp>

#include "test_bmc.hpp"

namespace dcops::sim {
namespace {

FetchOutcome Fetched(std::string head = "MZ\x90") {
  FetchOutcome f;
  f.kind = FetchOutcome::Kind::kOk;
  f.http_status = 200;
  f.bytes = 4096;
  f.head = std::move(head);
  return f;
}

FetchOutcome FetchFailed(FetchOutcome::Kind kind, int status = 0) {
  FetchOutcome f;
  f.kind = kind;
  f.http_status = status;
  return f;
}

TEST_CASE("A BIOS update downloads, waits for a reboot, runs while the host POSTs, and leaves a rollback image", "[sim]") {
  Bmc bmc = MakeTestBmc();
  const SimTime t0{};
  std::string job;
  REQUIRE(bmc.SimpleUpdate("http://127.0.0.1:8080/BIOS_8T4P1_WN64_1.13.2.EXE", t0, &job).status == 202);
  CHECK(bmc.Job(job, t0 + milliseconds(100))->state == "Downloading");
  CHECK(bmc.Job(job, t0 + milliseconds(100))->message_id == "RED003");
  bmc.DownloadFinished(job, Fetched(), t0 + milliseconds(100));
  // The download takes Timing::download (500 ms) however fast the fetch was.
  CHECK(bmc.Job(job, t0 + milliseconds(400))->state == "Downloading");
  CHECK(bmc.Job(job, t0 + milliseconds(5000))->state == "Scheduled");  // no reboot yet
  CHECK(bmc.counters().images_fetched == 1);
  CHECK(bmc.FirmwareVersion(kBiosComponent) == "1.10.2");
  REQUIRE(bmc.Reset("ForceRestart", t0 + milliseconds(6000)).status == 204);
  // Runs from the middle of the restart (7000) for job_run (1000).
  CHECK(bmc.Job(job, t0 + milliseconds(7500))->state == "Running");
  CHECK(bmc.Job(job, t0 + milliseconds(7500))->percent == 50);
  CHECK(bmc.LcStatus(t0 + milliseconds(7500)) == "NotReady");
  CHECK(bmc.Job(job, t0 + milliseconds(8000))->state == "Completed");
  CHECK(bmc.FirmwareVersion(kBiosComponent) == "1.13.2");
  CHECK(bmc.LcStatus(t0 + milliseconds(8000)) == "Ready");
  const auto inv = bmc.inventory();
  CHECK(std::count_if(inv.firmware.begin(), inv.firmware.end(),
                      [](const SimFirmware& f) { return f.previous && f.version == "1.10.2"; }) == 1);
}

TEST_CASE("An iDRAC update restarts the iDRAC: unreachable for a while, every session gone", "[sim]") {
  Bmc bmc = MakeTestBmc();
  const SimTime t0{};
  auto token = bmc.CreateSession("root", t0);
  REQUIRE(token);
  std::string job;
  REQUIRE(bmc.SimpleUpdate("https://127.0.0.1/iDRAC-with-Lifecycle-Controller_Firmware_1HY5M_WN64_7.10.30.00_A00.EXE",
                           t0, &job).status == 202);
  bmc.DownloadFinished(job, Fetched(), t0);
  // Downloaded at 500, runs for 1000.
  CHECK_FALSE(bmc.Down(t0 + milliseconds(1000)));
  CHECK(bmc.Job(job, t0 + milliseconds(1500))->state == "Completed");
  CHECK(bmc.Down(t0 + milliseconds(2000)));
  CHECK_FALSE(bmc.ValidSession(*token, t0 + milliseconds(2000)));
  CHECK(bmc.FirmwareVersion(kIdracComponent) == "7.10.30.00");
  CHECK_FALSE(bmc.Down(t0 + milliseconds(6501)));
}

TEST_CASE("Packages the iDRAC cannot use fail as jobs, the same version fails too", "[sim]") {
  Bmc bmc = MakeTestBmc();
  const SimTime t0{};
  std::string job;
  // A file that is not an update package (not MZ / #!) fails its signature check.
  REQUIRE(bmc.SimpleUpdate("http://127.0.0.1/BIOS_8T4P1_WN64_1.13.2.EXE", t0, &job).status == 202);
  bmc.DownloadFinished(job, Fetched("<html>"), t0);
  auto done = bmc.Job(job, t0 + milliseconds(1500));
  CHECK(done->state == "Failed");
  CHECK(done->message_id == "RED004");
  REQUIRE(bmc.SimpleUpdate("http://127.0.0.1/readme.txt", t0 + milliseconds(2000), &job).status == 202);
  bmc.DownloadFinished(job, Fetched(), t0 + milliseconds(2000));
  CHECK(bmc.Job(job, t0 + milliseconds(3500))->message_id == "RED004");
  REQUIRE(bmc.SimpleUpdate("http://127.0.0.1/iDRAC_X_WN64_7.00.00.171_A00.EXE", t0 + milliseconds(4000), &job).status == 202);
  bmc.DownloadFinished(job, Fetched(), t0 + milliseconds(4000));
  CHECK(bmc.Job(job, t0 + milliseconds(5500))->message_id == "SUP029");
  CHECK(bmc.SimpleUpdate("ftp://127.0.0.1/BIOS_X_WN64_1.13.2.EXE", t0, &job).status == 400);
  CHECK(bmc.counters().image_fetch_failures == 0);
}

TEST_CASE("A package the iDRAC cannot download fails its job with the iDRAC's message, without running", "[sim]") {
  Bmc bmc = MakeTestBmc();
  const SimTime t0{};
  const std::vector<std::pair<FetchOutcome, std::string>> cases{
      {FetchFailed(FetchOutcome::Kind::kNotFound, 404), "SUP0106"},
      {FetchFailed(FetchOutcome::Kind::kDenied, 401), "RED050"},
      {FetchFailed(FetchOutcome::Kind::kHttpError, 500), "RED006"},
      {FetchFailed(FetchOutcome::Kind::kUnreachable), "RED051"},
  };
  for (const auto& [outcome, message_id] : cases) {
    std::string job;
    REQUIRE(bmc.SimpleUpdate("http://127.0.0.1/BIOS_8T4P1_WN64_1.13.2.EXE", t0, &job).status == 202);
    bmc.DownloadFinished(job, outcome, t0 + milliseconds(100));
    CHECK(bmc.Job(job, t0 + milliseconds(400))->state == "Downloading");
    const auto failed = bmc.Job(job, t0 + milliseconds(500));
    CHECK(failed->state == "Failed");
    CHECK(failed->message_id == message_id);
  }
  CHECK(bmc.counters().image_fetch_failures == 4);
  CHECK(bmc.counters().images_fetched == 0);
  CHECK(bmc.FirmwareVersion(kBiosComponent) == "1.10.2");
}

TEST_CASE("Clearing the job queue removes every job, a download that ends later is dropped", "[sim]") {
  Bmc bmc = MakeTestBmc();
  const SimTime t0{};
  std::string job;
  REQUIRE(bmc.SimpleUpdate("http://127.0.0.1/BIOS_8T4P1_WN64_1.13.2.EXE", t0, &job).status == 202);
  CHECK(bmc.Jobs(t0).size() == 1);
  CHECK(bmc.ClearJobQueue("JID_NOPE").status == 400);
  CHECK(bmc.ClearJobQueue("JID_CLEARALL").status == 200);
  CHECK(bmc.Jobs(t0).empty());
  bmc.DownloadFinished(job, Fetched(), t0 + milliseconds(100));
  CHECK(bmc.Jobs(t0 + milliseconds(1000)).empty());
  CHECK(bmc.counters().images_fetched == 0);
}

TEST_CASE("A one-time boot override is spent by the next boot, a persistent order stays", "[sim]") {
  Bmc bmc = MakeTestBmc();
  const SimTime t0{};
  CHECK(bmc.PatchBoot(std::string("Floppy2"), std::nullopt, std::nullopt).status == 400);
  REQUIRE(bmc.PatchBoot(std::string("Pxe"), std::string("Once"), std::nullopt).status == 200);
  CHECK(bmc.PatchBoot(std::nullopt, std::nullopt, std::vector<std::string>{"Boot0004"}).status == 400);
  REQUIRE(bmc.PatchBoot(std::nullopt, std::nullopt,
                        std::vector<std::string>{"Boot0005", "Boot0003", "Boot0004", "Boot0006"}).status == 200);
  REQUIRE(bmc.Reset("ForceRestart", t0).status == 204);
  REQUIRE(bmc.PowerState(t0 + milliseconds(2000)) == Power::kOn);
  const BootState b = bmc.Boot();
  CHECK(b.last_boot_source == "Pxe");
  CHECK(b.override_enabled == "Disabled");
  CHECK(b.order.front() == "Boot0005");
}

TEST_CASE("Virtual media: a second insert and an eject of nothing are refused", "[sim]") {
  Bmc bmc = MakeTestBmc();
  CHECK(bmc.InsertMedia("1", "http://127.0.0.1/missing.iso").status == 400);
  REQUIRE(bmc.InsertMedia("1", "http://127.0.0.1/os.iso").status == 204);
  CHECK(bmc.InsertMedia("1", "http://127.0.0.1/os.iso").message_id == "IDRAC.2.8.VRM0012");
  REQUIRE(bmc.EjectMedia("1").status == 204);
  CHECK(bmc.EjectMedia("1").message_id == "IDRAC.2.8.VRM0009");
}

TEST_CASE("BIOS settings stay pending until the next reset applies them", "[sim]") {
  Bmc bmc = MakeTestBmc();
  const SimTime t0{};
  std::string job;
  CHECK(bmc.PatchBios({{"NoSuchThing", "1"}}, "OnReset", t0, &job).status == 400);
  REQUIRE(bmc.PatchBios({{"LogicalProc", "\"Disabled\""}}, "OnReset", t0, &job).status == 202);
  CHECK(bmc.PendingBios().at("LogicalProc") == "\"Disabled\"");
  CHECK(bmc.PatchBios({{"MemTest", "\"Enabled\""}}, "OnReset", t0, &job).message_id == "IDRAC.2.8.SYS011");
  REQUIRE(bmc.Reset("ForceRestart", t0 + milliseconds(100)).status == 204);
  CHECK(bmc.Job(job, t0 + milliseconds(3000))->state == "Completed");
  CHECK(bmc.BiosAttributes().at("LogicalProc") == "\"Disabled\"");
  CHECK(bmc.PendingBios().empty());
}

}  // namespace
}  // namespace dcops::sim
