// The vCenter simulator through the product's vim25 client: RetrievePropertiesEx pages with
// real tokens, views destroyed, invalid properties and faults as vCenter sends them.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <set>

#include "dcops/http/transport.hpp"
#include "dcops/vsphere/client.hpp"
#include "vc_server.hpp"

namespace dcops::sim::vcenter {
namespace {

struct Rig {
  Model model;
  Server server;
  http::CurlTransport transport;
  http::Client http{http::ClientOptions{}, transport, SystemClock::Instance()};
  std::unique_ptr<vsphere::Client> client_;  // made once the server has its certificate
  vsphere::Client& client;
  explicit Rig(const char* ip, Estate estate = Small())
      : model(std::move(estate)), server(model, ip, 18450), client_(Start(ip)), client(*client_) {
    REQUIRE(client.Login().ok());
  }
  std::unique_ptr<vsphere::Client> Start(const char* ip) {
    REQUIRE(server.Start().empty());
    return std::make_unique<vsphere::Client>(http, Endpoint(ip));
  }
  static Estate Small() {
    Estate e;
    e.hosts = 7;
    e.vms_per_host = 9;
    return e;
  }
  vsphere::Endpoint Endpoint(const char* ip) {
    vsphere::Endpoint e{std::string("https://") + ip + ":18450", "sync@vsphere.local", "vc-pass", {}};
    e.tls.pinned_sha256 = server.fingerprint();
    return e;
  }
};

TEST_CASE("vcenter-sim: RetrievePropertiesEx pages by maxObjects with tokens, and the view is destroyed", "[vcenter_sim][net]") {
  Rig rig("127.0.79.1");
  std::set<std::string> seen;
  int pages = 0;
  auto st = rig.client.ReadAll("VirtualMachine", {"name", "runtime.powerState", "guest.net"}, 10,
                               [&](const vsphere::RetrieveResult& page) -> Status {
                                 ++pages;
                                 CHECK(page.objects.size() <= 10);
                                 for (const auto& o : page.objects) {
                                   seen.insert(o.obj.value);
                                   CHECK(o.props.count("name") == 1);
                                 }
                                 return Status();
                               });
  REQUIRE(st.ok());
  CHECK(seen.size() == 63);
  CHECK(pages == 7);
  CHECK(rig.server.LiveViews() == 0);
  CHECK(rig.server.Calls().at("ContinueRetrievePropertiesEx") == 6);
  rig.client.Logout();
  CHECK(rig.model.SessionCount() == 0);
}

TEST_CASE("vcenter-sim: an unknown property and a fault mid-read are SOAP faults, and the view still goes", "[vcenter_sim][net]") {
  Rig rig("127.0.79.2");
  auto ignore = [](const vsphere::RetrieveResult&) { return Status(); };
  auto bad = rig.client.ReadAll("HostSystem", {"name", "hardware.noSuchThing"}, 5, ignore);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == "vsphere.invalid_property");
  rig.server.SetFault(Fault::kFaultNextPage);
  auto mid = rig.client.ReadAll("VirtualMachine", {"name"}, 5, ignore);
  REQUIRE_FALSE(mid.ok());
  CHECK(mid.error().message.find("A general system error occurred") != std::string::npos);
  CHECK(mid.error().retryable);
  CHECK(rig.server.LiveViews() == 0);
  rig.client.Logout();
}

TEST_CASE("vcenter-sim: hosts sharing one service tag keep distinct UUIDs and serial numbers", "[vcenter_sim][net]") {
  Estate e = Rig::Small();
  e.shared_service_tag = "SIMTAG1";
  e.shared_tag_hosts = 6;  // host 4 would hide its tag (a quirk): shared, it reports it anyway
  Rig rig("127.0.79.3", e);
  struct Seen {
    std::string name, tag, serial, enclosure_serial, uuid;
  };
  std::vector<Seen> hosts;
  auto st = rig.client.ReadAll("HostSystem", {"name", "hardware.systemInfo"}, 50, [&](const vsphere::RetrieveResult& page) {
    for (const auto& o : page.objects) {
      const auto info = o.props.at("hardware.systemInfo");
      Seen s;
      s.name = o.props.at("name").text().get();
      s.serial = vsphere::Child(info, "serialNumber").text().get();
      s.uuid = vsphere::Child(info, "uuid").text().get();
      for (const auto& other : vsphere::Children(info, "otherIdentifyingInfo")) {
        const std::string key = vsphere::Child(vsphere::Child(other, "identifierType"), "key").text().get();
        const std::string value = vsphere::Child(other, "identifierValue").text().get();
        if (key == "ServiceTag") s.tag = value;
        if (key == "EnclosureSerialNumberTag") s.enclosure_serial = value;
      }
      hosts.push_back(s);
    }
    return Status();
  });
  REQUIRE(st.ok());
  REQUIRE(hosts.size() == 7);
  std::sort(hosts.begin(), hosts.end(), [](const Seen& a, const Seen& b) { return a.name < b.name; });
  std::set<std::string> serials, uuids;
  for (int h = 0; h < 6; ++h) {
    const auto& s = hosts[static_cast<std::size_t>(h)];
    INFO(s.name);
    CHECK(s.tag == "SIMTAG1");
    CHECK(s.serial == fmt::format("VC{:05d}", h));
    CHECK(s.enclosure_serial == s.serial);
    serials.insert(s.serial);
    uuids.insert(s.uuid);
  }
  CHECK(serials.size() == 6);
  CHECK(uuids.size() == 6);
  CHECK(hosts[6].tag == "VC00006");  // past shared_tag_hosts: its own tag
  rig.client.Logout();
}

}  // namespace
}  // namespace dcops::sim::vcenter
