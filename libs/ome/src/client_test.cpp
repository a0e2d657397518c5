// The OME client against the OME simulator (HTTPS on loopback, pinned): sessions, paging
// with relative next links and $filter, OME's error body, sessions expiring mid-read, and
// answers that are not OME's.
#include "dcops/ome/client.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <set>

#include "dcops/http/transport.hpp"
#include "ome_details.hpp"
#include "ome_server.hpp"

namespace dcops::ome {
namespace {

struct Rig {
  sim::ome::Model model;
  sim::ome::Server server;
  http::CurlTransport transport;
  http::Client http{http::ClientOptions{}, transport, SystemClock::Instance()};
  Endpoint endpoint;
  Rig(const char* address, sim::ome::Options o) : model(o), server(model, address, 18445) {
    REQUIRE(server.Start().empty());
    endpoint = {std::string("https://") + address + ":18445", o.username, o.password, {}};
    endpoint.tls.pinned_sha256 = server.fingerprint();
  }
};

sim::ome::Options Estate(int servers, int chassis, int cap = 100) {
  sim::ome::Options o;
  o.servers = servers;
  o.chassis = chassis;
  o.session_cap = cap;
  return o;
}

TEST_CASE("OME: a session reads every server page by page through relative next links, then logs out", "[ome][net]") {
  Rig rig("127.0.75.1", Estate(120, 2));
  Client client(rig.http, rig.endpoint);
  REQUIRE(client.Login().ok());
  CHECK(rig.model.SessionCount() == 1);
  std::vector<Device> all;
  int pages = 0, total = 0;
  auto st = client.ForEachDevicePage(1000, 50, [&](const DevicePage& page) -> Status {
    ++pages;
    total = page.total;
    CHECK(page.failed.empty());
    all.insert(all.end(), page.devices.begin(), page.devices.end());
    return Status();
  });
  REQUIRE(st.ok());
  CHECK(pages == 3);
  CHECK(total == 120);
  REQUIRE(all.size() == 120);  // the chassis are filtered out on every page
  CHECK(all[0].type == 1000);
  CHECK(all[0].service_tag == "OME0000");
  CHECK(all[0].idrac_address == "127.0.120.1");
  CHECK(all[0].power_state == 18);
  CHECK(all[119].service_tag == "OME0119");
  CHECK(client.Logout().ok());
  CHECK(rig.model.SessionCount() == 0);
}

TEST_CASE("OME: refused credentials, the session cap, and a session expiring mid-read", "[ome][net]") {
  Rig rig("127.0.75.2", Estate(60, 0, 2));
  Endpoint wrong = rig.endpoint;
  wrong.password = "not-the-password";
  Client refused(rig.http, wrong);
  auto st = refused.Login();
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().code == "ome.auth");
  CHECK(st.error().message.find("CSEC5001") != std::string::npos);
  CHECK(st.error().message.find("not-the-password") == std::string::npos);

  Client a(rig.http, rig.endpoint), b(rig.http, rig.endpoint), c(rig.http, rig.endpoint);
  REQUIRE(a.Login().ok());
  REQUIRE(b.Login().ok());
  st = c.Login();
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().code == "ome.session_cap");
  CHECK(st.error().retryable);
  CHECK(b.Logout().ok());

  int seen = 0;
  st = a.ForEachDevicePage(1000, 25, [&](const DevicePage& page) -> Status {
    seen += static_cast<int>(page.devices.size());
    rig.model.ExpireSessions();  // OME restarted between two pages
    return Status();
  });
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().code == "ome.session_expired");
  CHECK(st.error().retryable);
  CHECK(seen == 25);
}

TEST_CASE("OME: an HTML page or a cut-off body is a schema error naming the resource", "[ome][net]") {
  Rig rig("127.0.75.3", Estate(10, 0));
  Client client(rig.http, rig.endpoint);
  REQUIRE(client.Login().ok());
  auto ignore = [](const DevicePage&) -> Status { return Status(); };
  rig.server.SetFault(sim::ome::Fault::kTruncated);
  auto st = client.ForEachDevicePage(1000, 50, ignore);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().code == "ome.schema");
  CHECK(st.error().message.find("/api/DeviceService/Devices: the answer is not a JSON object") == 0);
  rig.server.SetFault(sim::ome::Fault::kHtml);
  st = client.ForEachDevicePage(1000, 50, ignore);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().message.find("/api/DeviceService/Devices") == 0);
  CHECK(client.Logout().ok());
}

TEST_CASE("OME devices are read strictly: a wrong type names the device and the field", "[ome]") {
  rapidjson::Document d;
  d.Parse(R"({"Id": 25010, "Type": 1000, "DeviceServiceTag": "ABC1234", "DeviceName": null, "Model": "PowerEdge R650",
              "PowerState": 17, "Status": 1000, "DeviceManagement": [{"NetworkAddress": "127.0.0.9"}]})");
  auto ok = ReadDevice(d);
  REQUIRE(ok.ok());
  CHECK(ok->name.empty());
  CHECK(ok->idrac_address == "127.0.0.9");
  d.Parse(R"({"Id": 25011, "Type": "1000", "PowerState": 17, "Status": 1000})");
  CHECK(ReadDevice(d).error().message == "DeviceService/Devices(25011): Type is missing or not an integer");
  d.Parse(R"({"Id": 25012, "Type": 1000, "DeviceServiceTag": 7, "DeviceName": "x", "Model": "y", "PowerState": 17, "Status": 1000})");
  CHECK(ReadDevice(d).error().message == "DeviceService/Devices(25012): DeviceServiceTag is not a string");
}

TEST_CASE("OME inventory details of every generation the simulator serves read into the same rows", "[ome][net]") {
  Rig rig("127.0.75.4", Estate(20, 1));
  Client client(rig.http, rig.endpoint);
  REQUIRE(client.Login().ok());
  const auto devices = rig.model.AllDevices();
  int generations = 0;
  for (std::size_t i = 1; i < devices.size() && generations < 3; ++i, ++generations) {
    const auto& device = devices[i];  // after the chassis: three servers, three generations
    const auto facts = sim::ome::FactsOf(device);
    INFO("device " << device.id);
    auto details = client.InventoryDetails(device.id);
    REQUIRE(details.ok());
    REQUIRE(details->processors.size() == 2);
    CHECK(details->processors[0].socket == "CPU.Socket.1");
    CHECK(details->processors[0].cores == 32);
    CHECK(details->processors[0].max_speed_mhz == 3500);  // a number, or the number as text
    CHECK(static_cast<int>(details->memory.size()) == facts.dimms);
    CHECK(details->memory[0].capacity_mib == 32768);
    CHECK(details->memory[0].speed_mhz == 3200);
    REQUIRE(details->drives.size() == 2);
    CHECK(details->drives[0].slot == facts.first_disk_slot);  // the FQDD, wherever OME put it
    CHECK(details->drives[0].controller == "RAID.Integrated.1-1");
    CHECK(details->drives[0].media_type == "SSD");
    CHECK(details->drives[0].capacity_bytes == facts.first_disk_bytes);
    CHECK(details->drives[1].predicted_failure == std::optional<bool>(facts.second_disk_predicts_failure));
    REQUIRE(details->controllers.size() == 1);
    CHECK(details->controllers[0].fqdd == "RAID.Integrated.1-1");
    CHECK(details->controllers[0].cache_mib == 8192);
    REQUIRE(details->nics.size() == 4);
    CHECK(details->nics[2].port_id == "NIC.Integrated.1-3-1");
    CHECK(details->nics[2].adapter == "Broadcom Adv. Quad 25Gb Ethernet");
    CHECK(details->nics[2].firmware_version == "22.31.6");
    CHECK(details->nics[0].speed_mbps == 25000);
    REQUIRE(details->power_supplies.size() == 2);
    CHECK(details->power_supplies[1].slot == "PSU.Slot.2");
    CHECK(details->power_supplies[1].capacity_watts == 1400);
    CHECK(details->hostname == facts.hostname);
    // One row per installed instance; the previous iDRAC image ("Available") is not one.
    CHECK(static_cast<int>(details->firmware.size()) == facts.installed_firmware);
    std::set<std::string> keys;
    for (const auto& f : details->firmware) keys.insert(f.component_id);
    CHECK(keys.size() == details->firmware.size());
    CHECK(keys.count("Installed-25227__iDRAC.Embedded.1-1") == 1);
    CHECK(keys.count("Installed-0__NIC.Integrated.1-1-1") == 1);  // a record without a ComponentId
    CHECK(keys.count("Installed-101548__NIC.Integrated.1-4-1") == 1);
    CHECK(keys.count("Installed-104789__PSU.Slot.2") == 1);
    CHECK(keys.count("Installed-106344__Disk.Bay.1:Enclosure.Internal.0-1:RAID.Integrated.1-1") == 1);
  }
  CHECK(generations == 3);
  auto missing = client.InventoryDetails(devices[0].id);  // a chassis has no server inventory here
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == "ome.http");
  CHECK(client.Logout().ok());
}

TEST_CASE("OME: a logout OME cannot be told of is an error saying the session lingers, one already gone is not", "[ome][net]") {
  Rig rig("127.0.75.5", Estate(2, 0));
  Client expired(rig.http, rig.endpoint);
  REQUIRE(expired.Login().ok());
  rig.model.ExpireSessions();
  CHECK(expired.Logout().ok());  // 401: nothing lingers
  Client lost(rig.http, rig.endpoint);
  REQUIRE(lost.Login().ok());
  rig.server.Stop();
  auto out = lost.Logout();
  REQUIRE_FALSE(out.ok());
  CHECK(out.error().code == "ome.logout");
  CHECK(out.error().message.find("times it out (30 min)") != std::string::npos);
  CHECK_FALSE(lost.logged_in());
}

TEST_CASE("OME sizes, flags and software instance ids in every shape OME writes them", "[ome]") {
  CHECK(ParseSize("893.75 GB") == 959656755200);
  CHECK(ParseSize("931", "GB") == 931LL * 1073741824);
  CHECK(ParseSize("931") == -1);  // no unit and none assumed
  CHECK(ParseSize("1.82 TB") == std::llround(1.82 * 1099511627776.0));
  CHECK(ParseSize("0 bytes") == 0);
  CHECK(ParseSize("1,788.50", "GB") == std::llround(1788.5 * 1073741824.0));  // a thousands separator
  CHECK(ParseSize(" 16384 mb ") == 16384LL * 1048576);
  CHECK(ParseSize("n/a", "GB") == -1);
  CHECK(ParseSize("-5 GB") == -1);
  rapidjson::Document d;
  d.Parse(R"(["Yes", "no", "1", "0", true, 0, "Not Supported", null, 2])");
  std::vector<std::optional<bool>> flags;
  for (const auto& v : d.GetArray()) flags.push_back(ReadFlag(v));
  CHECK(flags == std::vector<std::optional<bool>>{true, false, true, false, true, false, std::nullopt, std::nullopt, std::nullopt});
  CHECK(SoftwareFqdd("DCIM:INSTALLED#701__NIC.Mezzanine.1A-1-1") == "NIC.Mezzanine.1A-1-1");
  CHECK(SoftwareFqdd("DCIM:INSTALLED#iDRAC.Embedded.1-1#IDRACinfo") == "iDRAC.Embedded.1-1");
  CHECK(SoftwareFqdd("DCIM:INSTALLED#304_C_Disk.Direct.0-0:AHCI.Embedded.2-1") == "Disk.Direct.0-0:AHCI.Embedded.2-1");
  CHECK(SoftwareFqdd("DCIM:INSTALLED#0x15__PSU.Slot.1") == "PSU.Slot.1");
  CHECK(SoftwareFqdd("DCIM:INSTALLED#802__OSCollector.Embedded.1") == "OSCollector.Embedded.1");
  CHECK(SoftwareFqdd("something else") == "");
}

TEST_CASE("OME's session limits are recognised by message id and, for ids we do not know, by status and message",
          "[ome]") {
  auto body = [](const std::string& id, const std::string& message) {
    return R"({"error":{"code":"Base.1.0.GeneralError","message":"A general error has occurred.",)"
           R"("@Message.ExtendedInfo":[{"MessageId":")" + id + R"(","Message":")" + message + R"("}]}})";
  };
  const std::string cap_message = "Unable to create a new session because the maximum number of sessions for this user has been reached.";
  auto capped = OmeError(400, body("CURS1209", cap_message), "login");
  CHECK(capped.code == "ome.session_cap");
  CHECK(capped.retryable);
  CHECK(capped.message == "login: CURS1209: " + cap_message);
  // The status is not documented: the id decides whatever it is.
  for (int status : {401, 403, 503}) CHECK(OmeError(status, body("CURS1209", cap_message), "login").code == "ome.session_cap");
  CHECK(OmeError(403, body("CXYZ9999", "Too many sessions are open for this user."), "login").code == "ome.session_cap");
  CHECK(OmeError(503, body("", "The session limit has been exceeded."), "login").code == "ome.session_cap");
  CHECK(OmeError(429, body("CGEN9999", "Slow down."), "x").code == "ome.rate_limited");
  // A session that is merely invalid, or a limit that is not about sessions, is not the cap.
  CHECK(OmeError(400, body("CGEN1004", "Unable to complete the request because the input exceeds the maximum length."), "x").code ==
        "ome.http");
  CHECK(OmeError(401, body("CSEC5001", "The user name or password is incorrect."), "login").code == "ome.auth");
  auto html = OmeError(502, "<html>Bad Gateway</html>", "/api/DeviceService/Devices");
  CHECK(html.code == "ome.http");
  CHECK(html.retryable);
  CHECK(html.message == "/api/DeviceService/Devices: HTTP 502 without OME's error body");
}

}  // namespace
}  // namespace dcops::ome
