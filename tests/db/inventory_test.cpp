// Inventory upserts: idempotent, partial updates keep what they did not read, vanished
// vCenter objects removed, vCenter hosts linked to servers by service tag.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "control_plane.hpp"

namespace dcops::testing {
namespace {

const std::string kFullServer = R"({
  "bmc_address": "127.0.1.7", "service_tag": "7XK2QF3", "model": "PowerEdge R750",
  "manufacturer": "Dell Inc.", "bios_version": "1.10.2", "bmc_firmware": "7.00.00.171",
  "power_state": "On", "health": "OK", "lc_state": "Ready",
  "processors": [{"socket": "CPU.Socket.1", "model": "Xeon Gold 6338", "cores": 32, "threads": 64},
                 {"socket": "CPU.Socket.2", "model": "Xeon Gold 6338", "cores": 32, "threads": 64}],
  "memory": [{"slot": "DIMM.Socket.A1", "capacity_mib": 32768, "memory_type": "DDR4"}],
  "drives": [{"slot": "Disk.Bay.0", "serial_number": "S1", "media_type": "SSD",
              "capacity_bytes": 960197124096, "predicted_failure": false}],
  "nics": [{"port_id": "NIC.Integrated.1-1-1", "mac_address": "B0:26:28:00:00:01", "speed_mbps": 25000}],
  "firmware": [{"component_id": "iDRAC", "name": "Integrated Dell Remote Access Controller",
                "version": "7.00.00.171", "updateable": true}]})";

std::string Upsert(db::Connection& disp, const std::string& server) {
  return Scalar(disp, "SELECT dispatcher_v1_upsert_server('default', $1::jsonb)", {server});
}

std::string Snapshot(db::Connection& su) {
  return Scalar(su,
                "SELECT (SELECT count(*) FROM servers) || '/' || "
                "(SELECT count(*) FROM server_processors) || '/' || (SELECT count(*) FROM server_memory)"
                " || '/' || (SELECT count(*) FROM server_drives) || '/' || "
                "(SELECT count(*) FROM server_nics) || '/' || (SELECT count(*) FROM server_firmware)");
}

TEST_CASE("Upserting the same server twice leaves the same rows", "[inventory]") {
  TestDb tdb;
  auto su = tdb.Connect();
  auto disp = tdb.Connect();
  BecomeDispatcher(disp);
  const std::string first = Upsert(disp, kFullServer);
  const std::string before = Snapshot(su);
  CHECK(before == "1/2/1/1/1/1");
  CHECK(Upsert(disp, kFullServer) == first);
  CHECK(Snapshot(su) == before);
}

TEST_CASE("A partial update keeps what it did not read", "[inventory]") {
  TestDb tdb;
  auto su = tdb.Connect();
  auto disp = tdb.Connect();
  BecomeDispatcher(disp);
  const std::string id = Upsert(disp, kFullServer);
  CHECK(Upsert(disp, R"({"bmc_address":"127.0.1.7","power_state":"Off"})") == id);
  auto row = Exec(su, "SELECT power_state, model FROM servers WHERE id = $1", {id});
  CHECK(row.Str(0, "power_state") == "Off");
  CHECK(row.Str(0, "model") == "PowerEdge R750");
  CHECK(Snapshot(su) == "1/2/1/1/1/1");
  // A list that is present replaces the old one: a pulled DIMM disappears.
  Upsert(disp, R"({"service_tag":"7xk2qf3","memory":[]})");
  CHECK(Snapshot(su) == "1/2/0/1/1/1");
}

TEST_CASE("A discovered BMC, its Redfish refresh and OME's record are one server", "[inventory]") {
  TestDb tdb;
  auto su = tdb.Connect();
  auto disp = tdb.Connect();
  BecomeDispatcher(disp);
  const std::string discovered = Upsert(disp, R"({"bmc_address":"127.0.1.9","source":"discovery"})");
  const std::string refreshed = Upsert(disp, R"({"bmc_address":"127.0.1.9","service_tag":"ABC1234"})");
  CHECK(refreshed == discovered);
  const std::string from_ome =
      Upsert(disp, R"({"service_tag":"abc1234","source":"ome","ome_device_id":10074,"model":"R650"})");
  CHECK(from_ome == discovered);
  CHECK(Scalar(su, "SELECT count(*) FROM servers") == "1");
  CHECK(Scalar(su, "SELECT source || '/' || ome_device_id FROM servers") == "redfish/10074");
  // OME first, then discovery of its BMC by address: the address row merges into it.
  const std::string ome_first = Upsert(disp, R"({"service_tag":"ZZZ0001","source":"ome"})");
  Upsert(disp, R"({"bmc_address":"127.0.1.10","source":"discovery"})");
  CHECK(Upsert(disp, R"({"bmc_address":"127.0.1.10","service_tag":"ZZZ0001"})") == ome_first);
  CHECK(Scalar(su, "SELECT count(*) FROM servers") == "2");
  auto e = ExecError(disp, "SELECT dispatcher_v1_upsert_server('default', '{\"model\":\"x\"}')");
  CHECK(e.message == "SQLSTATE 22023: server: needs an address or identity evidence (service tag, serial number or system UUID)");
}

TEST_CASE("A full refresh writes volumes with their drives, and a second one replaces them", "[inventory]") {
  TestDb tdb;
  auto su = tdb.Connect();
  auto disp = tdb.Connect();
  BecomeDispatcher(disp);
  const std::string with_volumes = kFullServer.substr(0, kFullServer.size() - 1) + R"(,
    "volumes": [{"volume_id": "Disk.Virtual.0:RAID.Integrated.1-1", "name": "OS", "raid_type": "RAID1",
                 "capacity_bytes": 479559942144, "health": "OK", "controller": "RAID.Integrated.1-1",
                 "drives": ["Disk.Bay.0", "Disk.Bay.1"]}]})";
  const std::string id =
      Scalar(disp, "SELECT dispatcher_v1_upsert_server_inventory('default', $1::jsonb)", {with_volumes});
  CHECK(Scalar(su, "SELECT raid_type || ' ' || array_to_string(drives, ',') FROM server_volumes") ==
        "RAID1 Disk.Bay.0,Disk.Bay.1");
  CHECK(Scalar(su, "SELECT lc_state FROM servers") == "Ready");
  CHECK(Snapshot(su) == "1/2/1/1/1/1");
  // A refresh without storage leaves the volumes; one with an empty list removes them.
  Scalar(disp, "SELECT dispatcher_v1_upsert_server_inventory('default', $1::jsonb)",
         {R"({"service_tag":"7XK2QF3","power_state":"Off"})"});
  CHECK(Scalar(su, "SELECT count(*) FROM server_volumes") == "1");
  CHECK(Scalar(disp, "SELECT dispatcher_v1_upsert_server_inventory('default', $1::jsonb)",
               {R"({"service_tag":"7XK2QF3","volumes":[]})"}) == id);
  CHECK(Scalar(su, "SELECT count(*) FROM server_volumes") == "0");
  // A refresh that finds a list unchanged leaves its rows alone (same ctid), and rewrites a
  // list that changed.
  const std::string ctid = Scalar(su, "SELECT ctid::text FROM server_processors ORDER BY socket LIMIT 1");
  Scalar(disp, "SELECT dispatcher_v1_upsert_server_inventory('default', $1::jsonb)", {kFullServer});
  CHECK(Scalar(su, "SELECT ctid::text FROM server_processors ORDER BY socket LIMIT 1") == ctid);
  Scalar(disp, "SELECT dispatcher_v1_upsert_server_inventory('default', $1::jsonb)",
         {R"({"service_tag":"7XK2QF3","processors":[{"socket":"CPU.Socket.1","model":"Xeon Gold 6430","cores":32}]})"});
  CHECK(Scalar(su, "SELECT count(*) || ' ' || min(model) FROM server_processors") == "1 Xeon Gold 6430");
  // A list written another way (OME, an operator) forgets its digest: the next refresh
  // writes it again even though it equals what the last refresh wrote.
  Upsert(disp, R"({"service_tag":"7XK2QF3","processors":[]})");
  CHECK(Scalar(su, "SELECT (inventory_digests ? 'processors')::text FROM servers") == "false");
  Scalar(disp, "SELECT dispatcher_v1_upsert_server_inventory('default', $1::jsonb)",
         {R"({"service_tag":"7XK2QF3","processors":[{"socket":"CPU.Socket.1","model":"Xeon Gold 6430","cores":32}]})"});
  CHECK(Scalar(su, "SELECT count(*) FROM server_processors") == "1");
  auto e = ExecError(disp, R"(SELECT dispatcher_v1_upsert_server_inventory('default', '{"service_tag":"X","volumes":{}}'))");
  CHECK(e.message == "SQLSTATE 22023: server.volumes: must be an array");
}

std::string VcenterInventory(const std::vector<std::string>& hosts, const std::vector<std::string>& vms) {
  std::string h, v;
  for (const auto& moref : hosts) {
    h += fmt::format(R"({}{{"moref":"{}","name":"{}.lab","cluster_moref":"domain-c7","service_tag":"TAG-{}"}})",
                     h.empty() ? "" : ",", moref, moref, moref);
  }
  for (const auto& moref : vms) {
    v += fmt::format(R"({}{{"moref":"{}","name":"{}","host_moref":"{}"}})", v.empty() ? "" : ",",
                     moref, moref, hosts.front());
  }
  return fmt::format(R"({{"clusters":[{{"moref":"domain-c7","name":"prod","vsan_enabled":true}}],)"
                     R"("hosts":[{}],"vms":[{}],"datastores":[{{"moref":"datastore-1","name":"ds1"}}],)"
                     R"("networks":[{{"moref":"network-1","name":"VM Network"}}]}})",
                     h, v);
}

TEST_CASE("vCenter snapshots upsert idempotently and remove what vanished", "[inventory]") {
  TestDb tdb;
  auto su = tdb.Connect();
  const std::string vc = Scalar(su, "INSERT INTO vcenters(name, address) VALUES ('vc', '127.0.2.1') RETURNING id");
  auto disp = tdb.Connect();
  BecomeDispatcher(disp);
  const std::string apply = "SELECT dispatcher_v1_upsert_vcenter_inventory($1, $2::jsonb)";
  Exec(disp, apply, {vc, VcenterInventory({"host-1", "host-2", "host-3"}, {"vm-1", "vm-2"})});
  const std::string ids = "SELECT string_agg(id::text, ',' ORDER BY moref) FROM vcenter_hosts";
  const std::string host_ids = Scalar(su, ids);
  auto again = Scalar(disp, apply, {vc, VcenterInventory({"host-1", "host-2", "host-3"}, {"vm-1", "vm-2"})});
  CHECK(Scalar(su, ids) == host_ids);  // same rows, not new ones
  CHECK(again.find(R"("hosts": {"removed": 0, "upserted": 3})") != std::string::npos);

  auto shrunk = Scalar(disp, apply, {vc, VcenterInventory({"host-1", "host-2"}, {"vm-2"})});
  CHECK(shrunk.find(R"("hosts": {"removed": 1, "upserted": 2})") != std::string::npos);
  CHECK(shrunk.find(R"("vms": {"removed": 1, "upserted": 1})") != std::string::npos);
  CHECK(Scalar(su, "SELECT string_agg(moref, ',' ORDER BY moref) FROM vcenter_hosts") == "host-1,host-2");
  CHECK(Scalar(su, "SELECT string_agg(moref, ',') FROM vcenter_vms") == "vm-2");
  CHECK(Scalar(su, "SELECT h.moref FROM vcenter_vms v JOIN vcenter_hosts h ON h.id = v.host_id") == "host-1");
  CHECK(Scalar(su, "SELECT count(*) FROM vcenter_hosts h JOIN vcenter_clusters c ON c.id = h.cluster_id "
                   "WHERE c.vsan_enabled") == "2");
  CHECK(Scalar(su, "SELECT last_sync_at IS NOT NULL FROM vcenters") == "t");
  // A snapshot that leaves a list out does not touch it.
  Exec(disp, apply, {vc, std::string(R"({"vms":[]})")});
  CHECK(Scalar(su, "SELECT count(*) FROM vcenter_hosts") == "2");
  CHECK(Scalar(su, "SELECT count(*) FROM vcenter_vms") == "0");
}

TEST_CASE("vCenter hosts link to servers by service tag, whichever arrives first", "[inventory]") {
  TestDb tdb;
  auto su = tdb.Connect();
  const std::string vc = Scalar(su, "INSERT INTO vcenters(name, address) VALUES ('vc', '127.0.2.1') RETURNING id");
  auto disp = tdb.Connect();
  BecomeDispatcher(disp);
  // Server first, then vCenter.
  const std::string s1 = Upsert(disp, R"({"bmc_address":"127.0.1.1","service_tag":"TAG-HOST-1"})");
  Exec(disp, "SELECT dispatcher_v1_upsert_vcenter_inventory($1, $2::jsonb)",
       {vc, VcenterInventory({"host-1", "host-2"}, {})});
  CHECK(Scalar(su, "SELECT server_id FROM vcenter_hosts WHERE moref = 'host-1'") == s1);
  CHECK(Scalar(su, "SELECT server_id IS NULL FROM vcenter_hosts WHERE moref = 'host-2'") == "t");
  // vCenter first, then the server (tag in another case).
  const std::string s2 = Upsert(disp, R"({"bmc_address":"127.0.1.2","service_tag":"tag-host-2"})");
  CHECK(Scalar(su, "SELECT server_id FROM vcenter_hosts WHERE moref = 'host-2'") == s2);
  // The host is re-installed on other hardware: the old link goes.
  Exec(disp, "SELECT dispatcher_v1_upsert_vcenter_inventory($1, $2::jsonb)",
       {vc, std::string(R"({"hosts":[{"moref":"host-1","name":"h1","service_tag":"OTHER"},)"
                        R"({"moref":"host-2","name":"h2","service_tag":"TAG-HOST-2"}]})")});
  CHECK(Scalar(su, "SELECT server_id IS NULL FROM vcenter_hosts WHERE moref = 'host-1'") == "t");
  CHECK(Scalar(su, "SELECT server_id FROM vcenter_hosts WHERE moref = 'host-2'") == s2);
}

}  // namespace
}  // namespace dcops::testing
