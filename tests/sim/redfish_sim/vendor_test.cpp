// Makes other than Dell: the identities and documents of HPE, Supermicro and generic BMCs,
// and a mixed fleet over HTTPS where only the Dell BMCs offer Dell's OEM services.
#include "vendor.hpp"

#include <rapidjson/document.h>
#include <rapidjson/pointer.h>

#include <catch2/catch.hpp>
#include <set>

#include "dcops/common/clock.hpp"
#include "dcops/http/client.hpp"
#include "fleet.hpp"
#include "redfish_json.hpp"

namespace dcops::sim {
namespace {

rapidjson::Document Json(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str());
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

std::string At(const rapidjson::Document& d, const char* pointer) {
  const rapidjson::Value* v = rapidjson::Pointer(pointer).Get(d);
  REQUIRE(v != nullptr);
  REQUIRE(v->IsString());
  return v->GetString();
}

bool Has(const rapidjson::Document& d, const char* pointer) {
  return rapidjson::Pointer(pointer).Get(d) != nullptr;
}

rapidjson::Document System(const Identity& id) {
  return Json(
      SystemJson(id, Power::kOn, {"On"}, "2026-01-01T00:00:00Z", "1.0", BootState{}, {"Pxe"}));
}

TEST_CASE("Vendor names and every-Nth specs parse, and the last matching entry wins", "[sim]") {
  CHECK(ParseVendor("hpe") == Vendor::kHpe);
  CHECK(ParseVendor("generic") == Vendor::kGeneric);
  CHECK_FALSE(ParseVendor("HPE").has_value());
  auto e = ParseVendorEvery("3:supermicro");
  REQUIRE(e);
  CHECK(e->every == 3);
  CHECK(e->vendor == Vendor::kSupermicro);
  for (const char* bad : {"3", "0:hpe", "x:hpe", "3:ibm", ":hpe", "-1:hpe"})
    CHECK_FALSE(ParseVendorEvery(bad));
  const std::vector<VendorEvery> every{{2, Vendor::kHpe}, {3, Vendor::kGeneric}};
  CHECK(VendorOf(0, Vendor::kDell, every) == Vendor::kDell);     // BMC 1
  CHECK(VendorOf(1, Vendor::kDell, every) == Vendor::kHpe);      // BMC 2
  CHECK(VendorOf(2, Vendor::kDell, every) == Vendor::kGeneric);  // BMC 3
  CHECK(VendorOf(5, Vendor::kDell, every) == Vendor::kGeneric);  // BMC 6: both match, the last wins
  CHECK(VendorOf(0, Vendor::kSupermicro, {}) == Vendor::kSupermicro);
}

TEST_CASE("HPE BMCs share their model's part number as SKU, with unique serials and no service tag",
          "[sim]") {
  std::set<std::string> serials, uuids;
  for (int i = 0; i < 4; ++i) {
    const Identity id = MakeIdentity(NthLoopbackAddress("127.0.1.1", i), i, 1, 0, Vendor::kHpe);
    CHECK(id.service_tag.empty());
    CHECK(id.sku == "P19766-B21");
    serials.insert(id.serial);
    uuids.insert(id.uuid);
    const auto root = Json(ServiceRootJson(id));
    CHECK(At(root, "/Vendor") == "HPE");
    CHECK_FALSE(Has(root, "/Oem/Dell"));
    CHECK(Has(root, "/Oem/Hpe"));
    const auto sys = System(id);
    CHECK(At(sys, "/Manufacturer") == "HPE");
    CHECK(At(sys, "/SKU") == "P19766-B21");
    CHECK(At(sys, "/SerialNumber") == id.serial);
    CHECK(At(sys, "/Model") == "ProLiant DL360 Gen10");
    CHECK_FALSE(Has(Json(ManagerJson(id, "2.72", "2026-01-01T00:00:00Z")), "/Links/Oem/Dell"));
  }
  CHECK(serials.size() == 4);
  CHECK(uuids.size() == 4);
}

TEST_CASE(
    "Supermicro BMCs all say \"Default string\" for serial and SKU: only the UUID tells them apart",
    "[sim]") {
  std::set<std::string> uuids;
  for (int i = 0; i < 3; ++i) {
    const Identity id =
        MakeIdentity(NthLoopbackAddress("127.0.1.1", i), i, 1, 0, Vendor::kSupermicro);
    const auto sys = System(id);
    CHECK(At(sys, "/Manufacturer") == "Supermicro");
    CHECK(At(sys, "/SerialNumber") == "Default string");
    CHECK(At(sys, "/SKU") == "Default string");
    CHECK_FALSE(Has(Json(ServiceRootJson(id)), "/Oem/Dell"));
    uuids.insert(At(sys, "/UUID"));
  }
  CHECK(uuids.size() == 3);
}

TEST_CASE("A generic (DMTF Contoso) BMC has no Model, no root Vendor and an empty root Oem",
          "[sim]") {
  const Identity id = MakeIdentity("127.0.1.1", 0, 1, 0, Vendor::kGeneric);
  const auto sys = System(id);
  CHECK(At(sys, "/Manufacturer") == "Contoso");
  CHECK_FALSE(Has(sys, "/Model"));
  CHECK(At(sys, "/SerialNumber").rfind("437XR", 0) == 0);
  const auto root = Json(ServiceRootJson(id));
  CHECK_FALSE(Has(root, "/Vendor"));
  CHECK(root["Oem"].IsObject());
  CHECK(root["Oem"].ObjectEmpty());
}

TEST_CASE("A Dell identity is unchanged by the vendor option: tag in the root OEM block and in SKU",
          "[sim]") {
  const Identity id = MakeIdentity("127.0.1.1", 0, 1, 0);
  CHECK(id.vendor == Vendor::kDell);
  REQUIRE(id.service_tag.size() == 7);
  CHECK(At(Json(ServiceRootJson(id)), "/Oem/Dell/ServiceTag") == id.service_tag);
  CHECK(At(Json(ServiceRootJson(id)), "/Vendor") == "Dell");
  const auto sys = System(id);
  CHECK(At(sys, "/SKU") == id.service_tag);
  CHECK(At(sys, "/Manufacturer") == "Dell Inc.");
}

TEST_CASE(
    "In a mixed fleet only Dell BMCs serve Dell's OEM services, and the control endpoint names "
    "each make",
    "[sim][net]") {
  FleetOptions o;
  o.count = 2;
  o.first_address = "127.0.25.1";
  o.port = 18443;
  o.threads_per_bmc = 2;
  o.vendor_every = {{2, Vendor::kHpe}};
  Fleet fleet(o);
  REQUIRE(fleet.Start().empty());
  http::CurlTransport transport;
  auto send = [&](const std::string& address, http::Method method, const std::string& path) {
    http::ClientOptions co;
    co.retry.max_attempts = 1;
    co.tls.pinned_sha256 = fleet.FingerprintOf(address);
    http::Client client(co, transport, SystemClock::Instance());
    http::Request req;
    req.method = method;
    req.url = "https://" + address + ":18443" + path;
    req.body = "{}";
    req.basic_auth = http::BasicAuth{"root", "calvin"};
    auto r = client.Execute(req);
    REQUIRE(r.ok());
    return *r;
  };
  const std::string lc =
      "/redfish/v1/Dell/Managers/iDRAC.Embedded.1/DellLCService/Actions/"
      "DellLCService.GetRemoteServicesAPIStatus";
  CHECK(send("127.0.25.1", http::Method::kPost, lc).status == 200);
  CHECK(send("127.0.25.2", http::Method::kPost, lc).status == 404);
  CHECK(
      send("127.0.25.2", http::Method::kGet, "/redfish/v1/Managers/iDRAC.Embedded.1/Jobs").status ==
      404);
  // What a refresh reads is there for every make.
  for (const char* path :
       {"/redfish/v1/Systems/System.Embedded.1", "/redfish/v1/Managers/iDRAC.Embedded.1",
        "/redfish/v1/Systems/System.Embedded.1/Processors",
        "/redfish/v1/UpdateService/FirmwareInventory"}) {
    CHECK(send("127.0.25.2", http::Method::kGet, path).status == 200);
  }
  http::Client plain(http::ClientOptions{}, transport, SystemClock::Instance());
  http::Request req;
  req.url = "http://127.0.0.1:" + std::to_string(fleet.control_port()) + "/control/bmcs";
  auto r = plain.Execute(req);
  REQUIRE(r.ok());
  const auto bmcs = Json(r->body);
  REQUIRE(bmcs.Size() == 2);
  CHECK(std::string(bmcs[0]["vendor"].GetString()) == "dell");
  CHECK(std::string(bmcs[1]["vendor"].GetString()) == "hpe");
  CHECK(std::string(bmcs[1]["service_tag"].GetString()).empty());
  CHECK(std::string(bmcs[1]["serial_number"].GetString()) ==
        fleet.Find("127.0.25.2")->identity().serial);
}

}  // namespace
}  // namespace dcops::sim
