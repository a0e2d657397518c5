// Inventory syncs through the staging contract: batches staged under the step's lease, applied
// in one transaction when the step succeeds, dropped when it fails; OME servers marked when
// OME stops listing them; vCenter full and incremental applies; host links audited.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "control_plane.hpp"

namespace dcops::testing {
namespace {

struct SyncStep {
  std::string endpoint_id, task_id, lease_id;
};

// A sync job on an endpoint of `kind` ("ome", "vcenter"; a new one unless `endpoint_id` is
// given) planned into its one step (with _endpoint.id as the dispatcher's planner writes it),
// and that step claimed.
SyncStep ClaimSync(db::Connection& su, db::Connection& disp, const std::string& kind,
                   const std::string& endpoint_id = "") {
  SyncStep s;
  const bool ome = kind == "ome";
  s.endpoint_id = !endpoint_id.empty() ? endpoint_id
                  : Scalar(su, fmt::format("INSERT INTO {}(name, address) VALUES ('e', '127.0.9.1') RETURNING id",
                                           ome ? "ome_endpoints" : "vcenters"));
  const std::string type = ome ? "inventory.ome_sync" : "inventory.vcenter_sync";
  const std::string job = Scalar(
      disp, "SELECT dispatcher_v1_create_job('default', $1, jsonb_build_object($2::text, $3::text), '{}', NULL, NULL, 0, 'test')",
      {type, ome ? "ome_endpoint_id" : "vcenter_id", s.endpoint_id});
  Exec(disp,
       "SELECT dispatcher_v1_plan_job($1::uuid, jsonb_build_array(jsonb_build_object('key', 'sync', 'kind', $2::text,"
       " 'target', $3::text || ':' || $4::text, 'params', jsonb_build_object('_endpoint', jsonb_build_object('id', $4::text)))))",
      {job, type, kind, s.endpoint_id});
  auto claimed = Claim(disp, "agent-1", "{" + type + "}", 1);
  REQUIRE(claimed.size() == 1);
  s.task_id = claimed[0].task_id;
  s.lease_id = claimed[0].lease_id;
  return s;
}

bool Stage(db::Connection& disp, const SyncStep& s, int seq, const std::string& kind, const std::string& payload) {
  return Scalar(disp, "SELECT dispatcher_v1_stage_inventory($1, $2, $3, $4, $5::jsonb)",
                {s.task_id, s.lease_id, std::to_string(seq), kind, payload}) == "t";
}

std::string Device(int id, const std::string& tag, const std::string& bmc) {
  return fmt::format(R"({{"ome_device_id":{},"service_tag":"{}","bmc_address":"{}","model":"PowerEdge R650","power_state":"On","health":"OK"}})",
                     id, tag, bmc);
}

TEST_CASE("An OME sync applies its staged devices and marks the servers OME stopped listing", "[sync]") {
  TestDb tdb;
  auto su = tdb.Connect();
  auto disp = tdb.Connect();
  BecomeDispatcher(disp);
  // A server a Redfish refresh knows with a port in its address: OME must not move it.
  Exec(disp, "SELECT dispatcher_v1_upsert_server('default', $1::jsonb)",
       {std::string(R"({"bmc_address":"127.0.9.10:8443","service_tag":"OMETAG1","model":"PowerEdge R650"})")});
  // A BMC discovery found (no tag yet) at the address OME gives device 12.
  const std::string discovered = Scalar(su, "INSERT INTO servers(bmc_address, source) VALUES ('127.0.9.12', 'discovery') RETURNING id");
  auto s = ClaimSync(su, disp, "ome");
  CHECK(Stage(disp, s, 1, "ome.devices", "[" + Device(10, "OMETAG1", "127.0.9.10") + "," + Device(11, "OMETAG2", "127.0.9.11") + "]"));
  CHECK(Stage(disp, s, 2, "ome.devices", "[" + Device(12, "OMETAG3", "127.0.9.12") + "]"));
  auto out = Scalar(disp, "SELECT dispatcher_v1_apply_ome_sync($1, $2, $3::jsonb)",
                    {s.task_id, s.lease_id, std::string(R"({"batches":2,"failed":[]})")});
  CHECK(out.find(R"("devices": 3)") != std::string::npos);
  CHECK(Scalar(su, "SELECT count(*) FROM servers WHERE ome_endpoint_id IS NOT NULL") == "3");
  CHECK(Scalar(su, "SELECT bmc_address FROM servers WHERE service_tag = 'OMETAG1'") == "127.0.9.10:8443");
  CHECK(Scalar(su, "SELECT source FROM servers WHERE service_tag = 'OMETAG1'") == "redfish");
  CHECK(Scalar(su, "SELECT bmc_address || ' ' || source || ' ' || ome_device_id FROM servers WHERE service_tag = 'OMETAG2'") ==
        "127.0.9.11 ome 11");
  CHECK(Scalar(su, "SELECT id FROM servers WHERE service_tag = 'OMETAG3'") == discovered);  // merged, not a second row
  CHECK(Scalar(su, "SELECT count(*) FROM servers") == "3");
  CHECK(Scalar(su, "SELECT count(*) FROM inventory_staging") == "0");
  CHECK(Scalar(su, "SELECT last_sync_at IS NOT NULL AND last_sync_error IS NULL FROM ome_endpoints") == "t");
  Exec(disp, "SELECT (SELECT outcome FROM dispatcher_v1_complete_steps(jsonb_build_array(jsonb_build_object('task_id', $1::uuid, 'lease_id', $2::uuid))))", {s.task_id, s.lease_id});

  // Next sync: device 11 is gone from OME, device 12 could not be read (kept, not marked).
  auto s2 = ClaimSync(su, disp, "ome", s.endpoint_id);
  CHECK(Stage(disp, s2, 1, "ome.devices", "[" + Device(10, "OMETAG1", "127.0.9.10") + "]"));
  out = Scalar(disp, "SELECT dispatcher_v1_apply_ome_sync($1, $2, $3::jsonb)",
               {s2.task_id, s2.lease_id, std::string(R"({"batches":1,"failed":[{"id":12,"error":"x"}]})")});
  CHECK(out.find(R"("newly_missing": 1)") != std::string::npos);
  CHECK(Scalar(su, "SELECT string_agg(service_tag, ',' ORDER BY service_tag) FROM servers WHERE ome_missing_since IS NOT NULL") ==
        "OMETAG2");
  CHECK(Scalar(su, "SELECT last_sync_error FROM ome_endpoints") == "1 device(s) could not be read");
}

TEST_CASE("OME details and host names reach every server no refresh has read, one firmware row per instance", "[sync]") {
  TestDb tdb;
  auto su = tdb.Connect();
  auto disp = tdb.Connect();
  BecomeDispatcher(disp);
  Exec(disp, "SELECT dispatcher_v1_upsert_server('default', $1::jsonb)",
       {std::string(R"({"bmc_address":"127.0.9.30","service_tag":"REFRESHED","hostname":"from-redfish",)"
                    R"("processors":[{"socket":"CPU.Socket.1","model":"from redfish"}]})")});
  // Discovery found a BMC at the address OME gives OMEDISC: the row it added is merged with
  // OME's device and must get OME's details (it never did while the rule was source = 'ome').
  // (Discovery reads the service tag from the BMC's root, so the row has it.)
  Scalar(su, "INSERT INTO servers(bmc_address, service_tag, source) VALUES ('127.0.9.32', 'OMEDISC', 'discovery') RETURNING id");
  auto s = ClaimSync(su, disp, "ome");
  const std::string details =
      R"("processors":[{"socket":"CPU.Socket.1","model":"Xeon","cores":32},{"socket":"CPU.Socket.2","model":"Xeon","cores":32}],)"
      R"("memory":[{"slot":"DIMM.Socket.A1","capacity_mib":32768}],)"
      R"("drives":[{"slot":"Disk.Bay.0:Enclosure.Internal.0-1:RAID.Integrated.1-1","capacity_bytes":959656755200,"predicted_failure":null}],)"
      R"("controllers":[{"fqdd":"RAID.Integrated.1-1","name":"PERC H755 Front","cache_mib":8192,"health":"OK"}],)"
      R"("nics":[{"port_id":"NIC.Integrated.1-1-1","mac_address":"B4:96:91:00:00:01","speed_mbps":25000,"firmware_version":"22.31.6"},)"
      R"({"port_id":"NIC.Integrated.1-2-1","mac_address":"B4:96:91:00:00:02","speed_mbps":0}],)"
      R"("power_supplies":[{"slot":"PSU.Slot.1","capacity_watts":1400},{"slot":"PSU.Slot.2","capacity_watts":1400}],)"
      R"("firmware":[{"component_id":"Installed-159__BIOS.Setup.1-1","fqdd":"BIOS.Setup.1-1","software_id":"159",)"
      R"("component_type":"BIOS","name":"BIOS","version":"1.12.1","install_date":null},)"
      R"({"component_id":"Installed-101548__NIC.Integrated.1-1-1","fqdd":"NIC.Integrated.1-1-1","software_id":"101548",)"
      R"("component_type":"FRMW","name":"NIC","version":"22.31.6","install_date":"2024-11-02T00:00:00Z"},)"
      R"({"component_id":"Installed-101548__NIC.Integrated.1-2-1","fqdd":"NIC.Integrated.1-2-1","software_id":"101548",)"
      R"("component_type":"FRMW","name":"NIC","version":"22.31.6","install_date":null}])";
  auto device = [&](int id, const char* tag, const char* bmc, const char* hostname) {
    return fmt::format(R"({{"ome_device_id":{},"service_tag":"{}","bmc_address":"{}","hostname":"{}",{}}})", id, tag, bmc, hostname,
                       details);
  };
  CHECK(Stage(disp, s, 1, "ome.devices",
              "[" + device(30, "REFRESHED", "127.0.9.30", "ome-name-30") + "," + device(31, "OMEONLY", "127.0.9.31", "r750-31.lab") + "," +
                  device(32, "OMEDISC", "127.0.9.32", "r750-32.lab") + "]"));
  auto out = Scalar(disp, "SELECT dispatcher_v1_apply_ome_sync($1, $2, $3::jsonb)",
                    {s.task_id, s.lease_id, std::string(R"({"batches":1,"details_failed":[{"id":33,"error":"HTTP 500"}]})")});
  CHECK(out.find(R"("detailed": 2)") != std::string::npos);
  CHECK(out.find(R"("details_failed": 1)") != std::string::npos);
  // The refreshed server keeps its Redfish inventory and host name.
  CHECK(Scalar(su, "SELECT string_agg(p.model, ',') FROM server_processors p JOIN servers v ON v.id = p.server_id WHERE v.service_tag = 'REFRESHED'") ==
        "from redfish");
  CHECK(Scalar(su, "SELECT hostname FROM servers WHERE service_tag = 'REFRESHED'") == "from-redfish");
  CHECK(Scalar(su, "SELECT count(*) FROM server_firmware f JOIN servers v ON v.id = f.server_id WHERE v.service_tag = 'REFRESHED'") == "0");
  for (const char* tag : {"OMEONLY", "OMEDISC"}) {
    INFO(tag);
    const std::string id = Scalar(su, "SELECT id FROM servers WHERE service_tag = $1", {std::string(tag)});
    auto count = [&](const char* table) { return Scalar(su, fmt::format("SELECT count(*) FROM {} WHERE server_id = $1", table), {id}); };
    CHECK(count("server_processors") == "2");
    CHECK(count("server_memory") == "1");
    CHECK(count("server_drives") == "1");
    CHECK(count("server_storage_controllers") == "1");
    CHECK(count("server_nics") == "2");
    CHECK(count("server_power_supplies") == "2");
    CHECK(count("server_firmware") == "3");  // two NIC ports of one component: two rows
  }
  CHECK(Scalar(su, "SELECT hostname FROM servers WHERE service_tag = 'OMEONLY'") == "r750-31.lab");
  CHECK(Scalar(su, "SELECT hostname FROM servers WHERE service_tag = 'OMEDISC'") == "r750-32.lab");
  CHECK(Scalar(su, "SELECT count(*) FROM servers") == "3");
  CHECK(Scalar(su, "SELECT count(*) FROM server_drives WHERE capacity_bytes = 959656755200 AND predicted_failure IS NULL") == "2");
  CHECK(Scalar(su, "SELECT string_agg(fqdd || '/' || software_id || '/' || component_type || '/' || version, ',' ORDER BY fqdd) "
                   "FROM server_firmware f JOIN servers v ON v.id = f.server_id WHERE v.service_tag = 'OMEONLY'") ==
        "BIOS.Setup.1-1/159/BIOS/1.12.1,NIC.Integrated.1-1-1/101548/FRMW/22.31.6,NIC.Integrated.1-2-1/101548/FRMW/22.31.6");
  CHECK(Scalar(su, "SELECT last_sync_error FROM ome_endpoints") == "the details of 1 device(s) could not be read");
}

TEST_CASE("A sync whose batches did not all arrive applies nothing and can be retried", "[sync]") {
  TestDb tdb;
  auto su = tdb.Connect();
  auto disp = tdb.Connect();
  BecomeDispatcher(disp);
  auto s = ClaimSync(su, disp, "vcenter");
  CHECK(Stage(disp, s, 1, "vcenter.hosts", R"([{"moref":"host-1","name":"esx1"}])"));
  auto r = disp.Exec("SELECT dispatcher_v1_apply_vcenter_sync($1, $2, $3::jsonb)",
                     {s.task_id, s.lease_id, std::string(R"({"mode":"full","version":"1","batches":2})")});
  REQUIRE_FALSE(r);
  CHECK(r.error().retryable);
  CHECK(r.error().message.find("sent 2 batch(es), 1 arrived") != std::string::npos);
  CHECK(Scalar(su, "SELECT count(*) FROM vcenter_hosts") == "0");
  // A batch for a lease that is not the step's is refused, and a failed sync is discarded
  // with its error recorded on the endpoint.
  CHECK_FALSE(Scalar(disp, "SELECT dispatcher_v1_stage_inventory($1, gen_random_uuid(), 3, 'vcenter.vms', '[]')",
                     {s.task_id}) == "t");
  Exec(disp, "SELECT dispatcher_v1_discard_sync($1, 'vsphere.schema: not XML')", {s.task_id});
  CHECK(Scalar(su, "SELECT count(*) FROM inventory_staging") == "0");
  CHECK(Scalar(su, "SELECT last_sync_error FROM vcenters") == "vsphere.schema: not XML");
  auto bad = disp.Exec("SELECT dispatcher_v1_stage_inventory($1, $2, 4, 'vcenter.nope', '[]')", {s.task_id, s.lease_id});
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("unknown kind vcenter.nope") != std::string::npos);
}

TEST_CASE("vCenter full then incremental applies keep the inventory equal to vCenter, links audited", "[sync]") {
  TestDb tdb;
  auto su = tdb.Connect();
  auto disp = tdb.Connect();
  BecomeDispatcher(disp);
  const std::string server = Scalar(disp, "SELECT dispatcher_v1_upsert_server('default', $1::jsonb)",
                                    {std::string(R"({"bmc_address":"127.0.9.20","manufacturer":"Lenovo","serial_number":"CN7016SERIAL"})")});
  auto s = ClaimSync(su, disp, "vcenter");
  CHECK(Stage(disp, s, 1, "vcenter.clusters", R"([{"moref":"domain-c1","name":"prod","ha_enabled":true}])"));
  CHECK(Stage(disp, s, 2, "vcenter.hosts",
              R"([{"moref":"host-1","name":"esx1","cluster_moref":"domain-c1","vendor":"LENOVO","serial_number":"cn7016serial"},
                  {"moref":"host-2","name":"esx2","cluster_moref":"domain-c1"}])"));
  CHECK(Stage(disp, s, 3, "vcenter.vms",
              R"([{"moref":"vm-1","name":"web","host_moref":"host-1","ip_addresses":["127.0.9.50"],"datastores":["datastore-1"]},
                  {"moref":"vm-2","name":"db","host_moref":"host-2"}])"));
  auto out = Scalar(disp, "SELECT dispatcher_v1_apply_vcenter_sync($1, $2, $3::jsonb)",
                    {s.task_id, s.lease_id, std::string(R"({"mode":"full","version":"7","batches":3})")});
  CHECK(out.find(R"("mode": "full")") != std::string::npos);
  CHECK(Scalar(su, "SELECT sync_version FROM vcenters") == "7");
  // Linked by manufacturer + serial number (vCenter reported no service tag), and audited.
  CHECK(Scalar(su, "SELECT server_id FROM vcenter_hosts WHERE moref = 'host-1'") == server);
  CHECK(Scalar(su, "SELECT count(*) FROM audit_log WHERE action = 'host.link' AND details ->> 'server_id' = $1", {server}) == "1");
  CHECK(Scalar(su, "SELECT array_to_string(ip_addresses, ',') || ' ' || array_to_string(datastores, ',') FROM vcenter_vms WHERE moref = 'vm-1'") ==
        "127.0.9.50 datastore-1");
  Exec(disp, "SELECT (SELECT outcome FROM dispatcher_v1_complete_steps(jsonb_build_array(jsonb_build_object('task_id', $1::uuid, 'lease_id', $2::uuid))))", {s.task_id, s.lease_id});

  // Incremental: vm-2 removed, host-2 into maintenance, a new VM; nothing else is touched.
  auto s2 = ClaimSync(su, disp, "vcenter", s.endpoint_id);
  CHECK(Stage(disp, s2, 1, "vcenter.hosts", R"([{"moref":"host-2","name":"esx2","cluster_moref":"domain-c1","maintenance_mode":true}])"));
  CHECK(Stage(disp, s2, 2, "vcenter.vms", R"([{"moref":"vm-3","name":"new","host_moref":"host-2"}])"));
  CHECK(Stage(disp, s2, 3, "vcenter.removed", R"([{"class":"vms","moref":"vm-2"}])"));
  out = Scalar(disp, "SELECT dispatcher_v1_apply_vcenter_sync($1, $2, $3::jsonb)",
               {s2.task_id, s2.lease_id, std::string(R"({"mode":"incremental","version":"8","batches":3})")});
  CHECK(Scalar(su, "SELECT string_agg(moref, ',' ORDER BY moref) FROM vcenter_vms WHERE vcenter_id = $1", {s.endpoint_id}) == "vm-1,vm-3");
  CHECK(Scalar(su, "SELECT maintenance_mode FROM vcenter_hosts WHERE moref = 'host-2'") == "t");
  CHECK(Scalar(su, "SELECT count(*) FROM vcenter_hosts WHERE vcenter_id = $1", {s.endpoint_id}) == "2");
  CHECK(Scalar(su, "SELECT sync_version FROM vcenters WHERE id = $1", {s.endpoint_id}) == "8");
  // Evidence that disagrees with a row's own is a conflict for the operator, not a silent
  // rewrite: the row and its link stay as they were.
  CHECK(Scalar(disp, "SELECT coalesce(dispatcher_v1_upsert_server('default', $1::jsonb)::text, 'not written')",
               {std::string(R"({"manufacturer":"Lenovo","serial_number":"CN7016SERIAL","system_uuid":"11111111-2222-3333-4444-555555555555"})")}) !=
        "not written");
  CHECK(Scalar(disp, "SELECT coalesce(dispatcher_v1_upsert_server('default', $1::jsonb)::text, 'not written')",
               {std::string(R"({"manufacturer":"Lenovo","serial_number":"CN7016SERIAL","system_uuid":"99999999-2222-3333-4444-555555555555"})")}) ==
        "not written");
  CHECK(Scalar(su, "SELECT kind || ' ' || subject FROM server_identity_conflicts") == "evidence_disagrees serial:lenovo/CN7016SERIAL");
  CHECK(Scalar(su, "SELECT server_id FROM vcenter_hosts WHERE moref = 'host-1'") == server);
  // The host re-installed on other hardware (its serial changed): the link goes, audited.
  Exec(disp, "SELECT dispatcher_v1_upsert_vcenter_inventory($1, $2::jsonb)",
       {s.endpoint_id, std::string(R"({"hosts":[{"moref":"host-1","name":"esx1","vendor":"LENOVO","serial_number":"cn9999other"}]})")});
  CHECK(Scalar(su, "SELECT server_id IS NULL FROM vcenter_hosts WHERE moref = 'host-1'") == "t");
  CHECK(Scalar(su, "SELECT count(*) FROM audit_log WHERE action = 'host.unlink'") == "1");
}

TEST_CASE("A host with neither tag nor serial links to its server by system UUID, from either side", "[sync]") {
  TestDb tdb;
  auto su = tdb.Connect();
  const std::string vc = Scalar(su, "INSERT INTO vcenters(name, address) VALUES ('vc', '127.0.9.2') RETURNING id");
  auto disp = tdb.Connect();
  BecomeDispatcher(disp);
  Exec(disp, "SELECT dispatcher_v1_upsert_vcenter_inventory($1, $2::jsonb)",
       {vc, std::string(R"({"hosts":[{"moref":"host-9","name":"esx9","system_uuid":"4c4c4544-0042-3610-8052-b6c04f4c4b32"}]})")});
  // A refresh reads the UUID in upper case, as iDRACs write it.
  const std::string server = Scalar(disp, "SELECT dispatcher_v1_upsert_server_inventory('default', $1::jsonb)",
                                    {std::string(R"({"bmc_address":"127.0.9.40","service_tag":"UUIDTAG",)"
                                                 R"("system_uuid":"4C4C4544-0042-3610-8052-B6C04F4C4B32"})")});
  CHECK(Scalar(su, "SELECT server_id FROM vcenter_hosts WHERE moref = 'host-9'") == server);
  // And from the vCenter side: a second host of that UUID appears in another sync.
  Exec(su, "UPDATE vcenter_hosts SET server_id = NULL");
  Exec(disp, "SELECT dispatcher_v1_upsert_vcenter_inventory($1, $2::jsonb)",
       {vc, std::string(R"({"hosts":[{"moref":"host-9","name":"esx9","system_uuid":"4c4c4544-0042-3610-8052-b6c04f4c4b32"}]})")});
  CHECK(Scalar(su, "SELECT server_id FROM vcenter_hosts WHERE moref = 'host-9'") == server);
}

}  // namespace
}  // namespace dcops::testing
