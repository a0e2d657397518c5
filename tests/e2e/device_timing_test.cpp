// End to end at a real iDRAC's pace: every request takes its time (GETs a few hundred
// milliseconds, logins and actions over a second, as real iDRAC9s answer), and what takes a
// real server minutes (the package's download, the reboot, the flash during POST) takes tens of
// seconds, scaled down. The worker's waits, polls and timeouts must hold at that pace; the
// fast simulators of the other tests would hide a wait that gives up early or a request that
// times out.
#include <rapidjson/document.h>

#include <catch2/catch.hpp>

#include "site.hpp"

namespace dcops::e2e {
namespace {

using std::chrono::seconds;

TEST_CASE("A BIOS update at a real iDRAC's pace: downloaded, staged, flashed during the reboot, proven", "[e2e]") {
  SiteOptions options;
  options.bmcs = 2;
  options.first_bmc = "127.0.138.1";
  options.restart_ms = 12000;  // a host reboot with POST: minutes, scaled
  options.sim_args = {"--latency-ms", "300", "--mutating-latency-ms", "1200", "--download-ms", "4000",
                      "--job-ms", "15000", "--power-on-ms", "8000", "--idrac-restart-ms", "12000"};
  Site site(options);
  site.StartWorker("worker-slow");
  REQUIRE(WaitUntil([&] { return site.Sql("SELECT count(*) FROM agents WHERE status = 'online'") == "1"; }, seconds(30)));

  const std::string good = site.AddImage("BIOS_8T4P1_WN64_9.9.9.EXE", kUpdatePackage);
  const std::string missing = site.ImageUri("BIOS_8T4P1_WN64_9.9.8.EXE");  // never put on the share
  auto server = [&](const std::string& address) {
    return site.Sql("SELECT jsonb_build_object('server_ids', jsonb_build_array(id))::text FROM servers WHERE bmc_address = $1",
                    {address + ":18443"});
  };
  const std::string updated =
      site.CreateJob("server.firmware_update", server("127.0.138.1"), R"({"method":"simple_update","image_uri":")" + good + "\"}");
  const std::string failed =
      site.CreateJob("server.firmware_update", server("127.0.138.2"), R"({"method":"simple_update","image_uri":")" + missing + "\"}");
  INFO(site.AllLogs());
  REQUIRE(site.WaitForJob(updated, seconds(240)) == "succeeded");
  REQUIRE(site.WaitForJob(failed, seconds(120)) == "failed");

  rapidjson::Document fleet;
  fleet.Parse(site.FleetJson().c_str());
  REQUIRE(fleet.IsArray());
  const auto& a = fleet[0];
  const auto& b = fleet[1];
  CHECK(std::string(a["bios_version"].GetString()) == "9.9.9");
  CHECK(a["counters"]["images_fetched"].GetInt() == 1);
  CHECK(a["counters"]["effective_resets"].GetInt() == 1);      // one reboot applied the staged update
  CHECK(a["counters"]["mutating_concurrent_high"].GetInt() == 1);  // one action at a time
  // The step waited out the device: the download, the reboot and the flash, not a shortcut.
  const std::string took = site.Sql(
      "SELECT extract(epoch FROM finished_at - started_at)::int FROM job_tasks WHERE job_id = $1", {updated});
  CHECK(std::stoi(took) >= 4 + 12 / 2 + 15);
  CHECK(site.Sql("SELECT version FROM server_firmware f JOIN servers s ON s.id = f.server_id "
                 "WHERE s.bmc_address = '127.0.138.1:18443' AND f.component_id = 'Installed-159'") == "9.9.9");

  // The iDRAC could not fetch the package: its own message reaches the operator, nothing ran.
  CHECK(std::string(b["bios_version"].GetString()) != "9.9.9");
  CHECK(b["counters"]["image_fetch_failures"].GetInt() == 1);
  CHECK(b["counters"]["effective_resets"].GetInt() == 0);
  const std::string error = site.Sql("SELECT error_message FROM job_tasks WHERE job_id = $1", {failed});
  CHECK(error.find("SUP0106") != std::string::npos);
  CHECK(error.find("Unable to locate firmware image file") != std::string::npos);
}

}  // namespace
}  // namespace dcops::e2e
