// Server identity in every order of arrival: six sources (two Redfish refresh rounds, a
// discovery scan, an OME sync, a vCenter sync, an admin's additions) describe one fleet with
// the traps real fleets have — HPE blades of one model sharing a SKU, a Supermicro serial
// "Default string", hosts sharing one service tag, two OME devices at one address, a device
// without IPv4, a moved BMC, "ADDR:443" next to "ADDR", a host whose tag match the UUID
// contradicts. All 720 orders must end in the same rows, links and open conflicts, with
// no row lost and every link and merge audited.
#include <algorithm>
#include <functional>
#include <map>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "control_plane.hpp"
#include "identity_snapshot.hpp"

namespace dcops::testing {
namespace {

constexpr const char* kU1 = "4c4c4544-0041-3010-8000-000000000001";
constexpr const char* kU2 = "4c4c4544-0041-3010-8000-000000000002";

std::string Refresh(const std::string& addr, const std::string& tag, const std::string& maker, const std::string& serial,
                    const std::string& uuid) {
  std::string j = fmt::format(R"({{"bmc_address":"{}","manufacturer":"{}","model":"M","power_state":"On")", addr, maker);
  if (!tag.empty()) j += fmt::format(R"(,"service_tag":"{}")", tag);
  if (!serial.empty()) j += fmt::format(R"(,"serial_number":"{}")", serial);
  if (!uuid.empty()) j += fmt::format(R"(,"system_uuid":"{}")", uuid);
  return j + "}";
}

struct Site {
  TestDb tdb;
  db::Connection su = tdb.Connect();
  db::Connection disp = tdb.Connect();
  db::Connection admin = tdb.Connect();
  std::string vcenter, ome;
  Site() {
    BecomeDispatcher(disp);
    BecomeUser(admin, AddUser(su, "admin"));
    vcenter = Scalar(su, "INSERT INTO vcenters(name, address) VALUES ('vc', '127.0.9.1') RETURNING id");
    ome = Scalar(su, "INSERT INTO ome_endpoints(name, address) VALUES ('ome', '127.0.9.2') RETURNING id");
  }
  void Reset() {
    Exec(su, "TRUNCATE servers, vcenter_hosts, server_identity_conflicts, audit_log, inventory_staging CASCADE");
  }
  void RefreshAll(const std::vector<std::string>& servers) {
    for (const auto& s : servers) Exec(disp, "SELECT dispatcher_v1_upsert_server_inventory('default', $1::jsonb)", {s});
  }
  void OmeSync(const std::string& devices) {
    const std::string job = Scalar(disp,
        "SELECT dispatcher_v1_create_job('default', 'inventory.ome_sync', jsonb_build_object('ome_endpoint_id', $1::text),"
        " '{}', NULL, NULL, 0, 'test')", {ome});
    Exec(disp, "SELECT dispatcher_v1_plan_job($1::uuid, jsonb_build_array(jsonb_build_object('key', 'sync', 'kind',"
               " 'inventory.ome_sync', 'target', 'ome:' || $2::text, 'params', jsonb_build_object('_endpoint',"
               " jsonb_build_object('id', $2::text)))))", {job, ome});
    auto claimed = Claim(disp, "agent-1", "{inventory.ome_sync}", 1);
    REQUIRE(claimed.size() == 1);
    Exec(disp, "SELECT dispatcher_v1_stage_inventory($1, $2, 0, 'ome.devices', $3::jsonb)",
         {claimed[0].task_id, claimed[0].lease_id, devices});
    Exec(disp, "SELECT dispatcher_v1_apply_ome_sync($1, $2, '{}'::jsonb)", {claimed[0].task_id, claimed[0].lease_id});
  }
};

const std::vector<std::pair<std::string, std::function<void(Site&)>>>& Arrivals() {
  static const std::vector<std::pair<std::string, std::function<void(Site&)>>> arrivals = {
      {"refresh-1", [](Site& s) {
         s.RefreshAll({Refresh("127.0.1.1", "AAA0001", "Dell Inc.", "CN0001", kU1),
                       Refresh("127.0.1.3", "", "HPE", "HPSERIAL1", "11111111-1111-1111-1111-000000000003"),
                       Refresh("127.0.1.5", "", "Supermicro", "Default string", "55555555-5555-5555-5555-000000000005"),
                       Refresh("127.0.1.11", "AAA0012", "Dell Inc.", "CN0012", "")});
       }},
      {"refresh-2", [](Site& s) {
         s.RefreshAll({Refresh("127.0.1.2", "AAA0002", "Dell Inc.", "CN0002", kU2),
                       Refresh("127.0.1.4", "", "Hewlett Packard Enterprise", "HPSERIAL2", "11111111-1111-1111-1111-000000000004"),
                       Refresh("127.0.1.12", "AAA0011", "Dell Inc.", "CN0011", "")});
       }},
      {"discovery", [](Site& s) {
         Exec(s.disp, "SELECT dispatcher_v1_record_discovery('default', $1::jsonb)",
              {std::string(R"([{"bmc_address":"127.0.1.1","service_tag":"AAA0001","vendor":"Dell","login":"untried"},
                               {"bmc_address":"127.0.1.2:443","service_tag":"aaa0002","vendor":"Dell","login":"untried"},
                               {"bmc_address":"127.0.1.3","vendor":"HPE","login":"untried"},
                               {"bmc_address":"127.0.1.6","login":"untried"}])")});
       }},
      {"ome", [](Site& s) {
         s.OmeSync(R"([{"ome_device_id":1,"service_tag":"AAA0001","bmc_address":"127.0.1.1"},
                      {"ome_device_id":2,"service_tag":"AAA0002","bmc_address":"127.0.1.2"},
                      {"ome_device_id":6,"service_tag":"AAA0006","bmc_address":"127.0.1.6"},
                      {"ome_device_id":8,"service_tag":"AAA0008","bmc_address":"127.0.1.8"},
                      {"ome_device_id":9,"service_tag":"AAA0009","bmc_address":"127.0.1.8"},
                      {"ome_device_id":10,"service_tag":"AAA0010","bmc_address":"[::]"},
                      {"ome_device_id":11,"service_tag":"AAA0011","bmc_address":"127.0.1.11"}])");
       }},
      {"vcenter", [](Site& s) {
         Exec(s.disp, "SELECT dispatcher_v1_upsert_vcenter_inventory($1::uuid, $2::jsonb)",
              {s.vcenter, fmt::format(R"({{"hosts":[
                {{"moref":"host-1","name":"esx1","vendor":"Dell Inc.","service_tag":"AAA0001","system_uuid":"{}"}},
                {{"moref":"host-2","name":"esx2","vendor":"Dell Inc.","service_tag":"AAA0002","system_uuid":"99999999-0000-0000-0000-000000000002"}},
                {{"moref":"host-3","name":"esx3","vendor":"HPE","serial_number":"HPSERIAL1"}},
                {{"moref":"host-4","name":"esx4","vendor":"HPE","serial_number":"hpserial2","system_uuid":"11111111-1111-1111-1111-000000000004"}},
                {{"moref":"host-5","name":"esx5","vendor":"Supermicro","serial_number":"Default string","system_uuid":"55555555-5555-5555-5555-000000000005"}},
                {{"moref":"host-6","name":"esx6","vendor":"Dell Inc.","service_tag":"AAA0006","system_uuid":"66666666-0000-0000-0000-000000000006"}},
                {{"moref":"host-7","name":"esx7","vendor":"Dell Inc.","service_tag":"AAA0006","system_uuid":"66666666-0000-0000-0000-000000000007"}}]}})",
                                      kU1)});
       }},
      {"admin", [](Site& s) {
         Exec(s.admin, "SELECT add_server($1::jsonb)", {std::string(R"({"bmc_address":"127.0.1.9","service_tag":"AAA0009"})")});
         Exec(s.admin, "SELECT add_server($1::jsonb)", {std::string(R"({"bmc_address":"127.0.1.5:443"})")});
         // What OME lists for two devices: the admin's word is a report as OME's is.
         Exec(s.admin, "SELECT add_server($1::jsonb)", {std::string(R"({"bmc_address":"127.0.1.8","service_tag":"AAA0008"})")});
       }},
  };
  return arrivals;
}

TEST_CASE("Every order of arrival ends in the same servers, links and conflicts", "[identity]") {
  Site site;
  std::vector<int> order(Arrivals().size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  std::map<std::string, std::vector<std::string>> outcomes;  // snapshot → the orders that gave it
  int runs = 0;
  do {
    site.Reset();
    std::string names;
    for (int i : order) {
      Arrivals()[i].second(site);
      names += Arrivals()[i].first + " ";
    }
    const std::string snap = IdentitySnapshot(site.su);
    if (outcomes.size() < 3) outcomes[snap].push_back(names);
    ++runs;
    // Every current link and every merge left an audit row naming what it did.
    CHECK(Scalar(site.su, "SELECT count(*) FROM vcenter_hosts h WHERE h.server_id IS NOT NULL AND NOT EXISTS "
                          "(SELECT 1 FROM audit_log a WHERE a.action = 'host.link' AND a.object_id = h.id::text "
                          " AND a.details ->> 'server_id' = h.server_id::text)") == "0");
    CHECK(Scalar(site.su, "SELECT count(*) FROM audit_log WHERE action = 'server.merge' AND "
                          "(details ->> 'kept' IS NULL OR details ->> 'merged' IS NULL OR details -> 'merged_row' IS NULL "
                          " OR details -> 'evidence' IS NULL)") == "0");
  } while (std::next_permutation(order.begin(), order.end()));
  CHECK(runs == 720);
  INFO("first outcome:\n" << outcomes.begin()->first);
  for (const auto& [snap, orders] : outcomes) INFO("outcome after " << orders.front() << ":\n" << snap);
  REQUIRE(outcomes.size() == 1);

  const std::string expected = fmt::format(
      "AAA0001 127.0.1.1 observed dell CN0001 {0}\n"
      "AAA0002 127.0.1.2 observed dell CN0002 {1}\n"
      "AAA0006 127.0.1.6 observed dell - -\n"
      "AAA0008 - - dell - -\n"
      "AAA0009 127.0.1.9 reported dell - -\n"
      "AAA0010 - - dell - -\n"
      "AAA0011 127.0.1.12 observed dell CN0011 -\n"
      "AAA0012 127.0.1.11 observed dell CN0012 -\n"
      "hpe/HPSERIAL1 127.0.1.3 observed hpe HPSERIAL1 11111111-1111-1111-1111-000000000003\n"
      "hpe/HPSERIAL2 127.0.1.4 observed hpe HPSERIAL2 11111111-1111-1111-1111-000000000004\n"
      "55555555-5555-5555-5555-000000000005 127.0.1.5 observed supermicro - 55555555-5555-5555-5555-000000000005\n"
      "esx1 -> AAA0001 by service tag + system UUID\n"
      "esx2 -> unlinked by -\n"
      "esx3 -> hpe/HPSERIAL1 by serial number\n"
      "esx4 -> hpe/HPSERIAL2 by serial number + system UUID\n"
      "esx5 -> 55555555-5555-5555-5555-000000000005 by system UUID\n"
      "esx6 -> unlinked by -\n"
      "esx7 -> unlinked by -\n"
      "address_claimed address:127.0.1.8 [AAA0008,AAA0009]\n"
      "host_link host:host-2 [AAA0002]\n"
      "host_link host:host-6 [AAA0006]\n"
      "host_link host:host-7 [AAA0006]",
      kU1, kU2);
  // The order of the server lines is by label; compare as sorted sets of lines.
  auto lines = [](const std::string& text) {
    std::vector<std::string> out;
    std::size_t at = 0;
    while (at <= text.size()) {
      const auto nl = text.find('\n', at);
      out.push_back(text.substr(at, nl == std::string::npos ? std::string::npos : nl - at));
      if (nl == std::string::npos) break;
      at = nl + 1;
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  CHECK(lines(outcomes.begin()->first) == lines(expected));
}

}  // namespace
}  // namespace dcops::testing
