// Firmware update methods beyond SimpleUpdate: packages pushed in a safe order and Dell
// catalog repository updates, against the simulated fleet; and their pure parts.
#include <httplib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "firmware_packages.hpp"
#include "firmware_repository.hpp"
#include "test_rig.hpp"

namespace dcops::idrac {
namespace {

using Kind = agent::StepOutcome::Kind;
namespace fs = std::filesystem;

// A directory of packages for one test, removed afterwards.
struct PackageDir {
  fs::path dir = fs::temp_directory_path() / ("dcops-packages-" + std::to_string(::getpid()));
  PackageDir() { fs::create_directories(dir); }
  ~PackageDir() { fs::remove_all(dir); }
  void Add(const std::string& name, const std::string& content) { std::ofstream(dir / name, std::ios::binary) << content; }
};

// A loopback web server holding a Dell catalog, as a repository share would.
struct CatalogServer {
  httplib::Server server;
  std::thread thread;
  std::string catalog;
  CatalogServer(const char* address, int port) {
    server.Get("/repo/Catalog.xml", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(catalog, "application/xml");
    });
    REQUIRE(server.bind_to_port(address, port));
    thread = std::thread([this] { server.listen_after_bind(); });
    while (!server.is_running()) std::this_thread::yield();
  }
  ~CatalogServer() {
    server.stop();
    thread.join();
  }
};

std::string Component(const std::string& path, const std::string& version, const std::string& name, const std::string& id) {
  return R"(<SoftwareComponent packageID="X" path=")" + path + R"(" vendorVersion=")" + version +
         R"(" rebootRequired="true"><Name><Display lang="en"><![CDATA[)" + name +
         R"(]]></Display></Name><ComponentType value="FRMW"/><SupportedDevices><Device componentID=")" + id +
         R"(" embedded="1"/></SupportedDevices></SoftwareComponent>)";
}

TEST_CASE("Packages are applied host first and the iDRAC last, from the package directory only", "[firmware][unit]") {
  const auto ordered = SafeOrder({{"iDRAC-with-Lifecycle-Controller_Firmware_X_7.1.EXE", "", "", true},
                                  {"BIOS_X_2.1.EXE", "", "", false},
                                  {"Network_Firmware_X_23.EXE", "", "", false}});
  CHECK(ordered[0].label == "BIOS_X_2.1.EXE");
  CHECK(ordered[1].label == "Network_Firmware_X_23.EXE");
  CHECK(ordered[2].label == "iDRAC-with-Lifecycle-Controller_Firmware_X_7.1.EXE");
  CHECK(IsIdracPackage("/a/b/iDRAC-with-Lifecycle-Controller_Firmware_1HY5M_WN64_7.10.30.00_A00.EXE"));
  CHECK_FALSE(IsIdracPackage("/idrac/BIOS_8T4P1_WN64_1.13.2.EXE"));  // the file name counts, not the folder

  PackageDir packages;
  packages.Add("BIOS_X_2.1.EXE", "MZ");
  CHECK(*PackageFile(packages.dir.string(), "BIOS_X_2.1.EXE", "package_path") == (packages.dir / "BIOS_X_2.1.EXE").string());
  CHECK(PackageFile(packages.dir.string(), (packages.dir / "BIOS_X_2.1.EXE").string(), "package_path").ok());
  CHECK(PackageFile(packages.dir.string(), "../../etc/passwd", "package_path").error().message ==
        "params.package_path: '../../etc/passwd' may not leave the package directory");
  CHECK(PackageFile(packages.dir.string(), "/etc/passwd", "package_paths").error().message.find("is not inside") != std::string::npos);
  CHECK(PackageFile(packages.dir.string(), "missing.EXE", "package_path").error().message.find("is not a file") != std::string::npos);
  fs::create_symlink("/etc/passwd", packages.dir / "escape.EXE");
  CHECK_FALSE(PackageFile(packages.dir.string(), "escape.EXE", "package_path").ok());
}

TEST_CASE("A catalog URL becomes share parameters, and the update list is read from its CIM XML", "[firmware][unit]") {
  auto share = ShareOf("http://127.0.0.1:8080/repo/dell/Catalog.xml");
  REQUIRE(share.ok());
  CHECK(share->share_type == "HTTP");
  CHECK(share->ip_address == "127.0.0.1:8080");
  CHECK(share->share_name == "repo/dell");
  CHECK(share->catalog_file == "Catalog.xml");
  CHECK(ShareOf("nfs://127.0.0.1/exports/")->catalog_file == "Catalog.xml");
  CHECK_FALSE(ShareOf("ftp://127.0.0.1/Catalog.xml").ok());

  const std::string list =
      R"(<?xml version="1.0" ?><CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="0" PROTOCOLVERSION="1.0"><SIMPLEREQ>)"
      R"(<VALUE.NAMEDINSTANCE><INSTANCENAME CLASSNAME="DCIM_RepoUpdateSWID">)"
      R"(<PROPERTY NAME="DisplayName" TYPE="string"><VALUE>Integrated Dell Remote Access Controller</VALUE></PROPERTY>)"
      R"(<PROPERTY NAME="PackageName" TYPE="string"><VALUE>iDRAC-with-Lifecycle-Controller_Firmware_1HY5M_WN64_7.20.10.50_A00.EXE</VALUE></PROPERTY>)"
      R"(<PROPERTY NAME="PackageVersion" TYPE="string"><VALUE>7.20.10.50</VALUE></PROPERTY>)"
      R"(<PROPERTY NAME="ComponentInstalledVersion" TYPE="string"><VALUE>7.00.00.171</VALUE></PROPERTY>)"
      R"(<PROPERTY NAME="RebootType" TYPE="string"><VALUE>NONE</VALUE></PROPERTY>)"
      R"(<PROPERTY NAME="JobID" TYPE="string"><VALUE>JID_000000000105</VALUE></PROPERTY>)"
      R"(</INSTANCENAME></VALUE.NAMEDINSTANCE></SIMPLEREQ></MESSAGE></CIM>)";
  auto items = ParsePackageList(list);
  REQUIRE(items.ok());
  REQUIRE(items->size() == 1);
  CHECK((*items)[0].idrac);
  CHECK((*items)[0].installed == "7.00.00.171");
  CHECK((*items)[0].version == "7.20.10.50");
  CHECK((*items)[0].job_id == "JID_000000000105");
  CHECK(ParsePackageList(list.substr(0, 200)).error().code == "redfish.schema");
  CHECK(ParsePackageList("<html><body>Error</body></html>").error().message == "PackageList has no CIM document");
}

TEST_CASE("Pushed packages: host updates staged together, one reboot, the iDRAC last", "[firmware][push][net]") {
  WorkerRig rig("127.0.58.1", 2, 2);  // the second runs firmware without multipart upload
  PackageDir packages;
  packages.Add("iDRAC-with-Lifecycle-Controller_Firmware_1HY5M_WN64_7.20.10.50_A00.EXE", "MZ idrac");
  packages.Add("BIOS_8T4P1_WN64_2.1.0.EXE", "MZ bios");
  packages.Add("SAS-RAID_Firmware_X_WN64_52.26.0-5179_A00.EXE", "MZ perc");
  packages.Add("BIOS_8T4P1_WN64_2.2.0.EXE", "<html>not a package</html>");
  rig.deps.ops.package_dir = packages.dir.string();
  auto& bmc = rig.Bmc("127.0.58.1");
  const std::string params = R"({"method":"push","package_paths":["iDRAC-with-Lifecycle-Controller_Firmware_1HY5M_WN64_7.20.10.50_A00.EXE",
      "BIOS_8T4P1_WN64_2.1.0.EXE","SAS-RAID_Firmware_X_WN64_52.26.0-5179_A00.EXE"]})";
  agent::RecordingStepContext ctx(rig.AssignmentFor("127.0.58.1", "server.firmware_update", params), SystemClock::Instance());
  auto out = rig.Run(ctx);
  INFO(out.error.code << ": " << out.error.message);
  REQUIRE(out.kind == Kind::kSucceeded);
  CHECK(bmc.FirmwareVersion(sim::kBiosComponent) == "2.1.0");
  CHECK(bmc.FirmwareVersion(sim::kIdracComponent) == "7.20.10.50");
  CHECK(bmc.counters().effective_resets == 1);  // one reboot for both host updates
  // The iDRAC's job was started last: after the host jobs had completed.
  const auto jobs = bmc.Jobs(std::chrono::steady_clock::now());
  REQUIRE(jobs.size() == 3);
  CHECK(jobs.back().component == sim::kIdracComponent);
  auto result = Parsed(out.result_json);
  CHECK(std::string(result["state"].GetString()) == "updated");
  CHECK(result["tasks"].Size() == 3);

  agent::RecordingStepContext bad(rig.AssignmentFor("127.0.58.1", "server.firmware_update",
                                                    R"({"method":"push","package_path":"BIOS_8T4P1_WN64_2.2.0.EXE"})"),
                                  SystemClock::Instance());
  out = rig.Run(bad);
  REQUIRE(out.kind == Kind::kFailed);
  CHECK(out.error.code == "firmware.job_failed");
  CHECK(out.error.message.find("BIOS_8T4P1_WN64_2.2.0.EXE") != std::string::npos);
  CHECK(out.error.message.find("RED004") != std::string::npos);

  agent::RecordingStepContext outside(rig.AssignmentFor("127.0.58.1", "server.firmware_update",
                                                        R"({"method":"push","package_path":"../../etc/passwd"})"),
                                      SystemClock::Instance());
  out = rig.Run(outside);
  REQUIRE(out.kind == Kind::kFailed);
  CHECK(out.error.message.find("params.package_path") == 0);

  agent::RecordingStepContext old(rig.AssignmentFor("127.0.58.2", "server.firmware_update",
                                                    R"({"method":"push","package_path":"BIOS_8T4P1_WN64_2.1.0.EXE"})"),
                                  SystemClock::Instance());
  out = rig.Run(old);
  REQUIRE(out.kind == Kind::kFailed);
  CHECK(out.error.code == "redfish.unsupported");
  CHECK(rig.Bmc("127.0.58.2").Jobs(std::chrono::steady_clock::now()).empty());
}

TEST_CASE("A repository update lists what the catalog would change, applies it, and is then a no-op", "[firmware][repository][net]") {
  WorkerRig rig("127.0.58.5", 1);
  CatalogServer share("127.0.58.9", 18080);
  auto& bmc = rig.Bmc("127.0.58.5");
  share.catalog = R"(<?xml version="1.0" encoding="utf-8"?><Manifest baseLocation="127.0.58.9" releaseID="T1" version="26.11">)" +
                  Component("FOLDER01/BIOS_8T4P1_WN64_2.3.0.EXE", "2.3.0", "Dell Server BIOS", sim::kBiosComponent) +
                  Component("FOLDER02/iDRAC-with-Lifecycle-Controller_Firmware_1HY5M_WN64_7.30.00.00_A00.EXE", "7.30.00.00",
                            "Integrated Dell Remote Access Controller", sim::kIdracComponent) +
                  Component("FOLDER03/Other_X_1.0.EXE", "1.0", "Not in this server", "999999") + "</Manifest>";
  const std::string url = R"("catalog_url":"http://127.0.58.9:18080/repo/Catalog.xml")";
  agent::RecordingStepContext list(rig.AssignmentFor("127.0.58.5", "server.firmware_update",
                                                     R"({"method":"repository","dry_run":true,)" + url + "}"),
                                   SystemClock::Instance());
  auto out = rig.Run(list);
  REQUIRE(out.kind == Kind::kSucceeded);
  auto result = Parsed(out.result_json);
  CHECK(std::string(result["state"].GetString()) == "listed");
  REQUIRE(result["updates"].Size() == 2);
  CHECK(std::string(result["updates"][0]["to"].GetString()) == "2.3.0");
  CHECK(bmc.FirmwareVersion(sim::kBiosComponent) != "2.3.0");  // a listing changes nothing
  CHECK(bmc.counters().effective_resets == 0);

  agent::RecordingStepContext apply(rig.AssignmentFor("127.0.58.5", "server.firmware_update",
                                                      R"({"method":"repository",)" + url + "}"),
                                    SystemClock::Instance());
  out = rig.Run(apply);
  REQUIRE(out.kind == Kind::kSucceeded);
  CHECK(bmc.FirmwareVersion(sim::kBiosComponent) == "2.3.0");
  CHECK(bmc.FirmwareVersion(sim::kIdracComponent) == "7.30.00.00");
  CHECK(bmc.counters().effective_resets == 1);  // the iDRAC rebooted the host itself
  result = Parsed(out.result_json);
  REQUIRE(result["tasks"].Size() == 2);
  CHECK(std::string(result["tasks"][1].GetString()).find(
            bmc.Jobs(std::chrono::steady_clock::now()).back().id) != std::string::npos);  // the iDRAC's followed last

  agent::RecordingStepContext again(rig.AssignmentFor("127.0.58.5", "server.firmware_update",
                                                      R"({"method":"repository",)" + url + "}"),
                                    SystemClock::Instance());
  out = rig.Run(again);
  REQUIRE(out.kind == Kind::kSucceeded);
  CHECK(std::string(Parsed(out.result_json)["state"].GetString()) == "unchanged");

  agent::RecordingStepContext missing(rig.AssignmentFor("127.0.58.5", "server.firmware_update",
                                                        R"({"method":"repository","catalog_url":"http://127.0.58.9:18080/none/Catalog.xml"})"),
                                      SystemClock::Instance());
  out = rig.Run(missing);
  REQUIRE(out.kind == Kind::kFailed);
  CHECK(out.error.code == "firmware.catalog_failed");
  CHECK(out.error.message.find("HTTP 404") != std::string::npos);
}

}  // namespace
}  // namespace dcops::idrac
