// Inventory syncs at scale through the real dispatcher and the real sync agents (processes,
// gRPC over TLS, PostgreSQL with fsync on): an OpenManage Enterprise of N servers, and a
// vCenter of H hosts and H*V VMs read in full and then incrementally after 10 changes.
// The device simulators run in this process (their CPU is this process's, not the agents').
//
//   dcops-sync-bench ADMIN_DSN JOB_DISPATCHER OME_SYNC VCENTER_SYNC [OME_SERVERS] [HOSTS] [VMS_PER_HOST]
//
// Prints, per sync: wall time from job creation to the job's end (the agent's read, the
// batches staged, the dispatcher's apply), round trips to the device, the agent's peak
// resident memory. Loopback only.
#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "bench_support.hpp"
#include "figures.hpp"
#include "dcops/common/hex.hpp"
#include "dcops/tls/secret_box.hpp"
#include "ome_server.hpp"
#include "vc_server.hpp"

namespace {

using namespace dcops;
using namespace dcops::bench;

// Creates a job and waits for it; returns the wall time in seconds and its step's result.
std::pair<double, std::string> RunJob(db::Connection& db, const std::string& type, const std::string& scope,
                                      const std::string& params) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string job = Scalar(db, "SELECT dispatcher_v1_create_job('default', $1, $2::jsonb, $3::jsonb)", {type, scope, params});
  std::string status;
  if (!WaitFor([&] {
        status = Scalar(db, "SELECT status FROM jobs WHERE id = $1", {job});
        return status == "succeeded" || status == "failed";
      }, std::chrono::minutes(10))) {
    Die(type + " did not finish in 10 minutes");
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (status != "succeeded") {
    Die(type + " failed: " + Scalar(db, "SELECT coalesce(error_message, '') FROM job_tasks WHERE job_id = $1", {job}));
  }
  return {wall, Scalar(db, "SELECT result::text FROM job_tasks WHERE job_id = $1", {job})};
}

std::string SealedSet(db::Connection& db, tls::SecretBox& box, const std::string& name, const std::string& kind,
                      const std::string& user, const std::string& password) {
  return Scalar(db, "SELECT dispatcher_v1_put_credential_set($1, $2, $3, decode($4, 'hex'), $5)",
                {name, kind, user, HexEncode(*box.Seal(password, name)), box.KeyId()});
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) Die("usage: dcops-sync-bench ADMIN_DSN JOB_DISPATCHER OME_SYNC VCENTER_SYNC [OME_SERVERS] [HOSTS] [VMS_PER_HOST]");
  const std::string admin_dsn = argv[1], dispatcher_bin = argv[2], ome_bin = argv[3], vc_bin = argv[4];
  const int ome_servers = argc > 5 ? std::atoi(argv[5]) : 10000;
  const int hosts = argc > 6 ? std::atoi(argv[6]) : 2500;
  const int vms_per_host = argc > 7 ? std::atoi(argv[7]) : 16;

  const std::string dbname = fmt::format("bench_sync_{}", ::getpid());
  const std::string dsn = CloneTemplate(admin_dsn, dbname);
  auto db = Open(dsn);
  const std::string dir = MakeSiteDir(dispatcher_bin);
  auto box = tls::SecretBox::FromKeyFile(dir + "/pki/site.key");
  if (!box) Die(box.error().message);

  sim::ome::Options oo;
  oo.servers = ome_servers;
  oo.chassis = 10;
  oo.password = tls::SecretBox::NewHexKey().substr(0, 20);
  // A real OME takes tens of milliseconds to assemble one server's InventoryDetails (2,000
  // servers read one at a time took 93 s on a real appliance: 46 ms each).
  oo.details_latency = std::chrono::milliseconds(50);
  sim::ome::Model ome_model(oo);
  const int ome_port = FreePort();
  sim::ome::Server ome(ome_model, "127.0.101.1", ome_port);
  sim::vcenter::Estate estate;
  estate.hosts = hosts;
  estate.vms_per_host = vms_per_host;
  estate.datastores = std::max(8, hosts / 5);
  estate.networks = std::max(6, hosts / 10);
  const std::string vc_password = tls::SecretBox::NewHexKey().substr(0, 20);
  const auto t_model = std::chrono::steady_clock::now();
  sim::vcenter::Model vc_model(estate, "sync@vsphere.local", vc_password);
  const int vc_port = FreePort();
  sim::vcenter::Server vcenter(vc_model, "127.0.101.2", vc_port);
  if (auto e = ome.Start(); !e.empty()) Die(e);
  if (auto e = vcenter.Start(); !e.empty()) Die(e);
  fmt::print("simulators: OME with {} servers; vCenter with {} hosts, {} VMs (model built in {:.1f} s)\n", ome_servers, hosts,
             hosts * vms_per_host, std::chrono::duration<double>(std::chrono::steady_clock::now() - t_model).count());
  std::fflush(stdout);  // the agents are forked from this process

  const std::string ome_set = SealedSet(db, *box, "ome-bench", "ome", "admin", oo.password);
  const std::string vc_set = SealedSet(db, *box, "vc-bench", "vcenter", "sync@vsphere.local", vc_password);
  const std::string ome_id = Scalar(db, "INSERT INTO ome_endpoints(name, address, credential_set_id, tls_pin_sha256) "
                                        "VALUES ('ome', $1, $2, $3) RETURNING id",
                                    {fmt::format("127.0.101.1:{}", ome_port), ome_set, ome.fingerprint()});
  const std::string vc_id = Scalar(db, "INSERT INTO vcenters(name, address, credential_set_id, tls_pin_sha256) "
                                       "VALUES ('vc', $1, $2, $3) RETURNING id",
                                   {fmt::format("127.0.101.2:{}", vc_port), vc_set, vcenter.fingerprint()});
  const Dispatcher d = StartDispatcher(dispatcher_bin, dsn, dir);
  auto agent = [&](const std::string& bin, const std::string& id) {
    return Spawn({bin}, {{"DCOPS_DISPATCHER_ADDRESS", fmt::format("127.0.0.1:{}", d.grpc_port)},
                         {"DCOPS_AGENT_TOKEN_FILE", AgentTokenFile(dispatcher_bin, dir, id)},
                         {"DCOPS_TLS_CA_FILE", dir + "/pki/ca.pem"},
                         {"DCOPS_AGENT_ID", id}},
                 dir + "/" + id + ".log");
  };
  const pid_t ome_agent = agent(ome_bin, "ome-sync-bench");
  const pid_t vc_agent = agent(vc_bin, "vcenter-sync-bench");
  WaitForAgent(db, "ome-sync-bench");
  WaitForAgent(db, "vcenter-sync-bench");

  // OME: every server, 200 per page (OME's recommended page size is at most a few hundred).
  {
    const double cpu = CpuSeconds(ome_agent), cpu_d = CpuSeconds(d.pid);
    const long requests = ome.requests();
    auto [wall, result] = RunJob(db, "inventory.ome_sync", fmt::format(R"({{"ome_endpoint_id":"{}"}})", ome_id), R"({"page_size":200})");
    const int pages = (ome_servers + 199) / 200;
    // Round trips as the simulated OME counted them, beside what the sync should need.
    fmt::print("OME sync, {} servers: {:.2f} s (target 5 s); {} round trips counted by OME (login, {} pages, logout "
               "would be {}); peak RSS ome-sync {:.1f} MiB (target 50); CPU s: ome-sync {:.2f}, dispatcher {:.2f}\n",
               ome_servers, wall, ome.requests() - requests, pages, pages + 2, PeakRssKib(ome_agent) / 1024.0,
               CpuSeconds(ome_agent) - cpu, CpuSeconds(d.pid) - cpu_d);
    fmt::print("  servers in the database: {}\n", Scalar(db, "SELECT count(*) FROM servers"));
    Figure("sync.ome_s", wall, "s", Better::kLower);
    Figure("sync.ome_peak_rss_mib", PeakRssKib(ome_agent) / 1024.0, "MiB", Better::kLower);
    (void)result;
  }
  // OME with details: one InventoryDetails request per server at OME's latency, read
  // details_parallelism at a time, batches split by size.
  for (const int parallelism : {4, 8}) {
    const double cpu = CpuSeconds(ome_agent), cpu_d = CpuSeconds(d.pid);
    const long requests = ome.requests();
    auto [wall, result] = RunJob(db, "inventory.ome_sync", fmt::format(R"({{"ome_endpoint_id":"{}"}})", ome_id),
                                 fmt::format(R"({{"page_size":200,"details":true,"details_parallelism":{}}})", parallelism));
    const int pages = (ome_servers + 199) / 200;
    fmt::print("OME sync with details, {} servers, {} ms per details request, {} at a time: {:.2f} s "
               "(one at a time would be {:.0f} s); {} round trips counted by OME ({} expected); peak RSS ome-sync {:.1f} MiB; "
               "CPU s: ome-sync {:.2f}, dispatcher {:.2f}\n",
               ome_servers, oo.details_latency.count(), parallelism, wall, ome_servers * oo.details_latency.count() / 1000.0,
               ome.requests() - requests, pages + ome_servers + 2, PeakRssKib(ome_agent) / 1024.0, CpuSeconds(ome_agent) - cpu,
               CpuSeconds(d.pid) - cpu_d);
    fmt::print("  result {}\n", result.substr(0, 160));
    Figure("sync.ome_details_s", wall, "s", Better::kLower);
    fmt::print("  rows: firmware {}, memory {}, drives {}, NICs {}, PSUs {}, controllers {}; batches staged {}\n",
               Scalar(db, "SELECT count(*) FROM server_firmware"), Scalar(db, "SELECT count(*) FROM server_memory"),
               Scalar(db, "SELECT count(*) FROM server_drives"), Scalar(db, "SELECT count(*) FROM server_nics"),
               Scalar(db, "SELECT count(*) FROM server_power_supplies"), Scalar(db, "SELECT count(*) FROM server_storage_controllers"),
               Scalar(db, "SELECT (result ->> 'batches') FROM job_tasks WHERE step_kind = 'inventory.ome_sync' ORDER BY created_at DESC LIMIT 1"));
  }
  // vCenter: a full read, then an incremental one after 10 VMs changed.
  const std::string scope = fmt::format(R"({{"vcenter_id":"{}"}})", vc_id);
  {
    const double cpu = CpuSeconds(vc_agent), cpu_d = CpuSeconds(d.pid);
    auto [wall, result] = RunJob(db, "inventory.vcenter_sync", scope, R"({"page_size":1000})");
    fmt::print("vCenter full sync, {} hosts / {} VMs: {:.2f} s (target 15 s); result {}\n", hosts, hosts * vms_per_host, wall, result);
    fmt::print("  peak RSS vcenter-sync {:.1f} MiB (target 200); CPU s: vcenter-sync {:.2f}, dispatcher {:.2f}\n",
               PeakRssKib(vc_agent) / 1024.0, CpuSeconds(vc_agent) - cpu, CpuSeconds(d.pid) - cpu_d);
    Figure("sync.vcenter_full_s", wall, "s", Better::kLower);
    Figure("sync.vcenter_peak_rss_mib", PeakRssKib(vc_agent) / 1024.0, "MiB", Better::kLower);
    fmt::print("  rows: hosts {}, VMs {}, clusters {}\n", Scalar(db, "SELECT count(*) FROM vcenter_hosts"),
               Scalar(db, "SELECT count(*) FROM vcenter_vms"), Scalar(db, "SELECT count(*) FROM vcenter_clusters"));
  }
  {
    vc_model.TouchVms(10);
    auto [wall, result] = RunJob(db, "inventory.vcenter_sync", scope, R"({"page_size":1000})");
    fmt::print("vCenter incremental sync after 10 changes: {:.2f} s (target 1 s); result {}\n", wall, result);
    Figure("sync.vcenter_incremental_s", wall, "s", Better::kLower);
    fmt::print("  VMs now powered off in the database: {}\n",
               Scalar(db, "SELECT count(*) FROM vcenter_vms WHERE power_state = 'poweredOff'"));
  }
  Stop(ome_agent);
  Stop(vc_agent);
  Stop(d.pid);
  if (!std::getenv("DCOPS_BENCH_KEEP")) {
    DropDatabase(admin_dsn, dbname);
    std::filesystem::remove_all(dir);
  } else {
    fmt::print("kept {} and database {}\n", dir, dbname);
  }
  return 0;
}
