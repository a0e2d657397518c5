// End to end, server identity: the real dispatcher, idrac-worker, ome-sync and vcenter-sync as
// processes against a mixed fleet (a Dell, two HPE blades of one model sharing a SKU, a
// Supermicro whose serial is "Default string"), an OME that lists a device without IPv4 and
// two devices at one address, a vCenter whose hosts run on the fleet (HPE hosts known by
// serial, one whose UUID contradicts its serial, two hosts sharing one service tag), and an
// admin adding servers by hand. The four
// sources arrive in every one of their 24 orders; each order must end in the same inventory.
#include <fmt/format.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <functional>
#include <map>

#include "identity_snapshot.hpp"
#include "ome_server.hpp"
#include "site.hpp"
#include "vc_server.hpp"

namespace dcops::e2e {
namespace {

using std::chrono::seconds;

struct FleetBmc {
  std::string address, vendor, service_tag, serial, uuid, pin;
};

std::vector<FleetBmc> ReadFleet(Site& site) {
  rapidjson::Document d;
  d.Parse(site.FleetJson().c_str());
  REQUIRE(d.IsArray());
  std::vector<FleetBmc> out;
  for (const auto& b : d.GetArray()) {
    out.push_back({std::string(b["address"].GetString()) + ":18443", b["vendor"].GetString(), b["service_tag"].GetString(),
                   b["serial_number"].GetString(), b["system_uuid"].GetString(), b["certificate_sha256"].GetString()});
  }
  return out;
}

// Runs a job through the CLI and waits until every job it caused (a discovery's refresh) ends.
void RunJob(Site& site, const std::vector<std::string>& args) {
  auto run = site.Cli(args);
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  REQUIRE(WaitUntil([&] { return site.Sql("SELECT count(*) FROM jobs WHERE status NOT IN ('succeeded', 'failed', 'cancelled')") == "0"; },
                    seconds(90)));
  REQUIRE(site.Sql("SELECT count(*) FROM jobs WHERE status <> 'succeeded'") == "0");
}

TEST_CASE("Refresh, discovery, OME, vCenter and an admin in every order: one inventory, nothing merged silently",
          "[e2e][identity]") {
  SiteOptions o;
  o.bmcs = 4;
  o.first_bmc = "127.0.88.1";
  o.register_servers = false;
  o.sim_args = {"--vendor-every", "2:hpe", "--vendor-every", "3:hpe", "--vendor-every", "4:supermicro"};
  Site site(o);
  const auto fleet = ReadFleet(site);
  REQUIRE(fleet.size() == 4);
  REQUIRE(fleet[0].vendor == "dell");
  REQUIRE(fleet[1].vendor == "hpe");
  REQUIRE(fleet[2].vendor == "hpe");
  REQUIRE(fleet[3].vendor == "supermicro");

  sim::ome::Options ome_estate;
  ome_estate.servers = 0;
  ome_estate.chassis = 0;
  ome_estate.servers_without_ipv4 = 1;
  ome_estate.shared_address_pairs = 1;
  sim::ome::Model ome_model(ome_estate);
  ome_model.AddServer(fleet[0].service_tag, "127.0.88.1");  // OME knows the iDRAC's address, not its port
  sim::ome::Server ome(ome_model, "127.0.88.100", 18448);
  REQUIRE(ome.Start().empty());

  sim::vcenter::Estate vc_estate;
  vc_estate.datacenters = 1;
  vc_estate.hosts = 6;
  vc_estate.hosts_per_cluster = 8;
  vc_estate.vms_per_host = 1;
  vc_estate.datastores = 1;
  vc_estate.networks = 1;
  vc_estate.standalone_hosts = 0;
  vc_estate.hardware = {{"Dell Inc.", fleet[0].service_tag, fleet[0].service_tag, fleet[0].uuid},
                        {"HPE", "", fleet[1].serial, fleet[1].uuid},
                        {"Hewlett Packard Enterprise", "", fleet[2].serial, ""},  // vCenter's own UUID
                        {"Supermicro", "", "Default string", fleet[3].uuid},
                        {"Dell Inc.", "NOIP000", "", ""},
                        {"Dell Inc.", "NOIP000", "", ""}};
  sim::vcenter::Model vc_model(vc_estate);
  sim::vcenter::Server vcenter(vc_model, "127.0.88.101", 18449);
  REQUIRE(vcenter.Start().empty());

  site.StartWorker("idrac-a");
  site.StartAgent(DCOPS_OME_SYNC, "ome-sync-a");
  site.StartAgent(DCOPS_VCENTER_SYNC, "vcenter-sync-a");
  REQUIRE(WaitUntil([&] { return site.Sql("SELECT count(*) FROM agents WHERE status = 'online'") == "3"; }, seconds(30)));
  const std::string ome_id = site.AddEndpoint("ome_endpoints", "ome", "127.0.88.100:18448", "admin", ome_estate.password,
                                         ome.fingerprint());
  const std::string vc_id = site.AddEndpoint("vcenters", "vcenter", "127.0.88.101:18449", "sync@vsphere.local", "vc-pass",
                                        vcenter.fingerprint());
  const std::string admin = testing::AddUser(site.db(), "admin");

  const std::vector<std::pair<std::string, std::function<void()>>> sources = {
      {"discovery+refresh", [&] {
         RunJob(site, {"job", "create", "discovery.scan", "--target", "127.0.88.1-127.0.88.4", "--param", "port=18443", "--watch"});
       }},
      {"ome", [&] { RunJob(site, {"job", "create", "inventory.ome_sync", "--target", "ome:" + ome_id, "--watch"}); }},
      {"vcenter", [&] { RunJob(site, {"job", "create", "inventory.vcenter_sync", "--target", "vcenter:" + vc_id, "--watch"}); }},
      {"admin", [&] {
         testing::BecomeUser(site.db(), admin);
         site.Sql("SELECT add_server($1::jsonb)", {fmt::format(R"({{"bmc_address":"{}"}})", fleet[3].address)});
         site.Sql("SELECT add_server($1::jsonb)", {std::string(R"({"bmc_address":"127.0.119.1","service_tag":"DUPA001"})")});
         testing::BecomeSuperuser(site.db());
       }},
  };

  std::vector<int> order{0, 1, 2, 3};
  std::map<std::string, std::string> outcomes;  // snapshot → the first order that gave it
  int runs = 0;
  do {
    testing::Exec(site.db(), "TRUNCATE servers, vcenter_hosts, server_identity_conflicts, audit_log CASCADE");
    testing::Exec(site.db(), "UPDATE vcenters SET sync_version = NULL");  // the next vCenter sync reads everything
    std::string names;
    for (int i : order) {
      names += sources[static_cast<std::size_t>(i)].first + " ";
      INFO(names);
      sources[static_cast<std::size_t>(i)].second();
    }
    outcomes.emplace(testing::IdentitySnapshot(site.db(), {true, true}), names);
    ++runs;
    // No row lost: every BMC of the fleet is one row at its address, with its own pin.
    for (const auto& b : fleet) {
      INFO(b.address);
      CHECK(site.Sql("SELECT count(*) || ' ' || max(tls_pin_sha256) FROM servers WHERE bmc_address = $1", {b.address}) ==
            "1 " + b.pin);
    }
  } while (std::next_permutation(order.begin(), order.end()));
  CHECK(runs == 24);
  for (const auto& [snap, first] : outcomes) INFO("after " << first << ":\n" << snap);
  REQUIRE(outcomes.size() == 1);

  const std::string snap = outcomes.begin()->first;
  INFO(snap);
  // The Dell is one row (discovery, refresh and OME agree), linked to its host by tag + UUID.
  CHECK(snap.find(fmt::format("{} {} observed dell", fleet[0].service_tag, fleet[0].address)) != std::string::npos);
  CHECK(snap.find(fmt::format("esx-00000.lab -> {} by service tag + system UUID", fleet[0].service_tag)) != std::string::npos);
  // HPE blades sharing a SKU: two rows, no service tag, linked by serial.
  CHECK(site.Sql("SELECT count(*) FROM servers WHERE vendor_key = 'hpe' AND service_tag IS NULL") == "2");
  CHECK(snap.find(fmt::format("esx-00001.lab -> hpe/{} by serial number + system UUID", fleet[1].serial)) != std::string::npos);
  // The other HPE host's serial matches but vCenter's UUID for it is not the BMC's: no link.
  CHECK(snap.find("esx-00002.lab -> unlinked") != std::string::npos);
  CHECK(site.Sql("SELECT message FROM server_identity_conflicts WHERE subject LIKE '%/host-5002'") ==
        "host esx-00002.lab matches a server by serial number but their system UUID differs; it is left unlinked");
  // Supermicro's placeholder serial identifies nothing; its UUID does.
  CHECK(snap.find(fmt::format("esx-00003.lab -> {} by system UUID", fleet[3].uuid)) != std::string::npos);
  // Two hosts sharing one tag link to nothing and say why; so does the address two OME devices share.
  CHECK(snap.find("esx-00004.lab -> unlinked") != std::string::npos);
  CHECK(snap.find("esx-00005.lab -> unlinked") != std::string::npos);
  CHECK(site.Sql("SELECT string_agg(kind || ' ' || regexp_replace(subject, '^host:[^/]+/', ''), ', ' ORDER BY subject) "
                 "FROM server_identity_conflicts WHERE status = 'open'") ==
        "address_claimed address:127.0.119.1, host_link host-5002, host_link host-5004, host_link host-5005");
  // The device without IPv4 has no address ("[::]" is none); nothing sits at 127.0.119.1.
  CHECK(site.Sql("SELECT coalesce(bmc_address, 'none') FROM servers WHERE service_tag = 'NOIP000'") == "none");
  CHECK(site.Sql("SELECT count(*) FROM servers WHERE bmc_address = '127.0.119.1'") == "0");
  // Refreshed means refreshed: only the fleet's rows.
  CHECK(site.Sql("SELECT count(*) FROM servers WHERE last_refreshed_at IS NOT NULL") == "4");
  // The conflicts were events of the jobs that met them.
  CHECK(site.Sql("SELECT count(*) > 0 FROM job_events WHERE source = 'identity' AND level = 'warn'") == "t");
  // The operator sees them through the CLI.
  auto listed = site.Cli({"conflicts"});
  INFO(listed.output);
  CHECK(listed.exit_code == 0);
  CHECK(listed.output.find("address:127.0.119.1") != std::string::npos);
}

}  // namespace
}  // namespace dcops::e2e
