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

}  // namespace
}  // namespace dcops::ome
