// The OME client against the OME simulator (HTTPS on loopback, pinned): sessions, paging
// with relative next links and $filter, OME's error body, sessions expiring mid-read, and
// answers that are not OME's.
#include "dcops/ome/client.hpp"

#include <catch2/catch.hpp>

#include "dcops/http/transport.hpp"
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
  client.Logout();
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
  b.Logout();

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
  client.Logout();
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

TEST_CASE("OME inventory details: processors, DIMMs, disks with sizes in text, installed firmware only", "[ome][net]") {
  Rig rig("127.0.75.4", Estate(20, 1));
  Client client(rig.http, rig.endpoint);
  REQUIRE(client.Login().ok());
  const auto devices = rig.model.AllDevices();
  const int server = devices[1].id;  // after the chassis
  auto details = client.InventoryDetails(server);
  REQUIRE(details.ok());
  REQUIRE(details->processors.size() == 2);
  CHECK(details->processors[0].socket == "CPU.Socket.1");
  CHECK(details->processors[0].cores == 32);
  REQUIRE(details->memory.size() == 4);
  CHECK(details->memory[0].slot == "DIMM.Socket.A1");
  CHECK(details->memory[0].capacity_mib == 32768);
  REQUIRE(details->drives.size() == 2);
  CHECK(details->drives[0].slot == "Disk.Bay.0");
  CHECK(details->drives[0].controller == "RAID.Integrated.1-1");
  CHECK(details->drives[0].media_type == "SSD");
  CHECK(details->drives[0].capacity_bytes == ParseSize("893.75 GB"));
  CHECK(ParseSize("893.75 GB") == 959656755200);
  CHECK(ParseSize("0 bytes") == 0);
  CHECK(ParseSize("n/a") == -1);
  // The previous iDRAC image ("Available") is not installed firmware; a NIC without a
  // ComponentId is kept by its FQDD; "NA" dates are unknown.
  std::vector<std::string> ids;
  for (const auto& f : details->firmware) ids.push_back(f.component_id + "=" + f.version + "@" + f.install_date);
  CHECK(ids == std::vector<std::string>{"Installed-159=1.12.1@2025-03-01T00:00:00Z", "Installed-25227=7.00.00.171@2025-03-01T00:00:00Z",
                                        "NIC.Integrated.1-1-1=22.0.9@"});
  auto missing = client.InventoryDetails(devices[0].id);  // a chassis has no server inventory here
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == "ome.http");
  client.Logout();
}

}  // namespace
}  // namespace dcops::ome
