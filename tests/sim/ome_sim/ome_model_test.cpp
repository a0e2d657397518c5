// The OME simulator's estate options: servers OME knows without an IPv4 address, and pairs of
// servers listed at one iDRAC address; in the model and in the device list it serves.
#include "ome_model.hpp"

#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <set>

#include "dcops/common/clock.hpp"
#include "dcops/http/client.hpp"
#include "ome_server.hpp"

namespace dcops::sim::ome {
namespace {

Options Estate(int servers_without_ipv4, int shared_address_pairs) {
  Options o;
  o.servers = 2;
  o.chassis = 0;
  o.servers_without_ipv4 = servers_without_ipv4;
  o.shared_address_pairs = shared_address_pairs;
  return o;
}

TEST_CASE("OME sim: servers without IPv4 say [::], :: and \"\" in turn, after the others",
          "[sim]") {
  Model model(Estate(4, 0));
  const auto all = model.AllDevices();
  REQUIRE(all.size() == 6);
  CHECK(all[1].idrac_address == "127.0.120.2");
  CHECK(all[2].service_tag == "NOIP000");
  CHECK(all[2].idrac_address == "[::]");
  CHECK(all[3].idrac_address == "::");
  CHECK(all[4].idrac_address.empty());
  CHECK(all[4].empty_address_record);
  CHECK(all[5].idrac_address == "[::]");
  CHECK(all[5].service_tag == "NOIP003");
  CHECK(model.Devices("Type eq 1000", 100, 0)->count == 6);
}

TEST_CASE("OME sim: each shared-address pair is two servers, distinct tags, one iDRAC address",
          "[sim]") {
  Model model(Estate(0, 2));
  const auto all = model.AllDevices();
  REQUIRE(all.size() == 6);
  CHECK(all[2].service_tag == "DUPA001");
  CHECK(all[3].service_tag == "DUPB001");
  CHECK(all[2].idrac_address == "127.0.119.1");
  CHECK(all[3].idrac_address == "127.0.119.1");
  CHECK(all[4].idrac_address == "127.0.119.2");
  CHECK(all[5].idrac_address == "127.0.119.2");
  std::set<std::string> tags;
  for (const auto& d : all) tags.insert(d.service_tag);
  CHECK(tags.size() == all.size());
}

TEST_CASE("OME sim: the device list carries those addresses as OME writes them", "[sim][net]") {
  Options o = Estate(3, 1);
  Model model(o);
  Server server(model, "127.0.26.1", 18445);
  REQUIRE(server.Start().empty());
  http::CurlTransport transport;
  http::ClientOptions co;
  co.tls.pinned_sha256 = server.fingerprint();
  http::Client client(co, transport, SystemClock::Instance());
  http::Request login;
  login.method = http::Method::kPost;
  login.url = "https://127.0.26.1:18445/api/SessionService/Sessions";
  login.headers = {{"Content-Type", "application/json"}};
  login.body = R"({"UserName": "admin", "Password": "ome-pass", "SessionType": "API"})";
  auto session = client.Execute(login);
  REQUIRE(session.ok());
  REQUIRE(session->status == 201);
  http::Request list;
  list.url = "https://127.0.26.1:18445/api/DeviceService/Devices?$top=100";
  list.headers = {{"X-Auth-Token", session->Header("X-Auth-Token")}};
  auto r = client.Execute(list);
  REQUIRE(r.ok());
  rapidjson::Document d;
  d.Parse(r->body.c_str());
  REQUIRE_FALSE(d.HasParseError());
  std::map<std::string, std::string>
      address_of;  // service tag -> NetworkAddress, "none" without a record
  for (const auto& dev : d["value"].GetArray()) {
    const auto& mgmt = dev["DeviceManagement"];
    address_of[dev["DeviceServiceTag"].GetString()] =
        mgmt.Empty() ? "none" : mgmt[0]["NetworkAddress"].GetString();
  }
  CHECK(address_of["NOIP000"] == "[::]");
  CHECK(address_of["NOIP001"] == "::");
  CHECK(address_of["NOIP002"].empty());  // a record with an empty address, not a missing one
  CHECK(address_of["DUPA001"] == "127.0.119.1");
  CHECK(address_of["DUPB001"] == "127.0.119.1");
  CHECK(address_of["OME0000"] == "127.0.120.1");
}

}  // namespace
}  // namespace dcops::sim::ome
