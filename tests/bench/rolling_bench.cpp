// cluster.rolling_update's own overhead: a BIOS update of an N-host cluster (default 16), host
// by host, through the real dispatcher, idrac-worker, vcenter-sync and esxi-worker (processes,
// gRPC over TLS, PostgreSQL with fsync on). The hosts' BMCs are redfish-sim (a process, on
// 127.0.130.x); the vCenter simulator runs in this process on 127.0.131.1, its hosts running
// on the simulated servers (linked by the inventory: a server.refresh, then a vCenter sync).
//
//   dcops-rolling-bench ADMIN_DSN JOB_DISPATCHER IDRAC_WORKER VCENTER_SYNC ESXI_WORKER REDFISH_SIM [HOSTS]
//
// Prints, from the database's own timestamps: the job's wall time (created_at -> finished_at),
// the time some step was running (the union of the steps' started_at -> finished_at: device and
// simulator time plus the agents' own work; a host's settle runs beside the next host's check),
// the difference (the orchestration's overhead) and where it goes; the gaps between a step's
// end and the start of the step that waited on its success (p50, p95, max over the chain's
// dependency edges); planning (created_at -> planned_at: the dispatcher's pickup, as planned_at
// is stamped when the planning transaction begins). From the agents' logs: how much of
// the steps' time the agent was not running them (the Assign on its way, the result being
// written). Loopback only.
#include <fmt/format.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "bench_support.hpp"
#include "figures.hpp"
#include "dcops/common/hex.hpp"
#include "dcops/tls/secret_box.hpp"
#include "image_share.hpp"
#include "vc_server.hpp"

namespace {

using namespace dcops;
using namespace dcops::bench;
namespace vc = sim::vcenter;

// A BIOS update the BMCs fetch from the simulator's file share on `images_port`.
std::string RollingParams(int images_port) {
  return R"({"firmware":{"method":"simple_update","image_uri":"http://127.0.0.1:)" + std::to_string(images_port) +
         R"(/BIOS_8T4P1_WN64_9.9.9.EXE"},"quiet_seconds":0})";
}

// Waits for a job to end; stops the bench unless it succeeded, with the failed (or paused)
// step's error.
void WaitForSuccess(db::Connection& db, const std::string& job, const std::string& what, std::chrono::minutes timeout) {
  std::string status;
  if (!WaitFor([&] {
        status = Scalar(db, "SELECT status FROM jobs WHERE id = $1", {job});
        return status == "succeeded" || status == "failed" || status == "cancelled" || status == "paused";
      }, timeout)) {
    Die(fmt::format("{} did not finish in {} minutes", what, timeout.count()));
  }
  if (status != "succeeded") {
    Die(fmt::format("{} {}: {}", what, status,
                    Scalar(db, "SELECT coalesce(string_agg(step_key || ': ' || coalesce(error_code, '') || ' ' || "
                               "coalesce(error_message, ''), '; '), '(no step failed)') FROM job_tasks "
                               "WHERE job_id = $1 AND status IN ('failed', 'paused')",
                           {job})));
  }
}

std::string RunJob(db::Connection& db, const std::string& type, const std::string& scope, const std::string& params) {
  const std::string job = Scalar(db, "SELECT dispatcher_v1_create_job('default', $1, $2::jsonb, $3::jsonb)", {type, scope, params});
  WaitForSuccess(db, job, type, std::chrono::minutes(10));
  return job;
}

std::string SealedSet(db::Connection& db, tls::SecretBox& box, const std::string& name, const std::string& kind,
                      const std::string& user, const std::string& password) {
  return Scalar(db, "SELECT dispatcher_v1_put_credential_set($1, $2, $3, decode($4, 'hex'), $5)",
                {name, kind, user, HexEncode(*box.Seal(password, name)), box.KeyId()});
}

db::Rows Query(db::Connection& db, const std::string& sql, const db::Params& p) {
  auto r = db.Exec(sql, p);
  if (!r) Die(r.error().message);
  return std::move(*r);
}

double Number(const db::Rows& rows, int row, int column) { return std::stod(rows.TextAt(row, column).value_or("0")); }

// A log line's "ts" (2026-12-04T04:51:08.123Z) as seconds since the epoch.
double LogSeconds(const std::string& ts) {
  std::tm tm{};
  int ms = 0;
  if (std::sscanf(ts.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                  &tm.tm_sec, &ms) != 7) {
    return 0;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<double>(::timegm(&tm)) + ms / 1000.0;
}

// When each agent began and ended each step, by task id, from its log lines "running …" (the
// first) and "… finished: …" (the last).
struct AgentSpan {
  double begin = 0, end = 0;
};
void ReadAgentLog(const std::string& path, std::map<std::string, AgentSpan>& spans) {
  std::ifstream log(path);
  std::string line;
  while (std::getline(log, line)) {
    rapidjson::Document d;
    d.Parse(line.c_str());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("task_id") || !d.HasMember("msg") || !d.HasMember("ts")) continue;
    const std::string msg = d["msg"].GetString();
    AgentSpan& s = spans[d["task_id"].GetString()];
    if (msg.rfind("running ", 0) == 0 && s.begin == 0) s.begin = LogSeconds(d["ts"].GetString());
    if (msg.find(" finished: ") != std::string::npos) s.end = LogSeconds(d["ts"].GetString());
  }
}

std::string Ms(double seconds) { return fmt::format("{:.1f} ms", seconds * 1000); }

}  // namespace

int main(int argc, char** argv) {
  if (argc < 7) {
    Die("usage: dcops-rolling-bench ADMIN_DSN JOB_DISPATCHER IDRAC_WORKER VCENTER_SYNC ESXI_WORKER REDFISH_SIM [HOSTS]");
  }
  const std::string admin_dsn = argv[1], dispatcher_bin = argv[2], idrac_bin = argv[3], vc_bin = argv[4],
                    esxi_bin = argv[5], sim_bin = argv[6];
  const int hosts = argc > 7 ? std::atoi(argv[7]) : 16;
  if (hosts < 1 || hosts > 250) Die("HOSTS must be 1 to 250 (one BMC each on 127.0.130.x)");

  const std::string dbname = fmt::format("bench_rolling_{}", ::getpid());
  const std::string dsn = CloneTemplate(admin_dsn, dbname);
  auto db = Open(dsn);
  const std::string dir = MakeSiteDir(dispatcher_bin);
  auto box = tls::SecretBox::FromKeyFile(dir + "/pki/site.key");
  if (!box) Die(box.error().message);

  // The servers: one BMC each from 127.0.130.1, with the end-to-end tests' fast device timings
  // (a BIOS job runs 400 ms, a server restarts in 400 ms, an iDRAC in 800 ms), and the share
  // the BMCs fetch the BIOS package from.
  const int images_port = FreePort();
  std::filesystem::create_directories(dir + "/images");
  { std::ofstream(dir + "/images/BIOS_8T4P1_WN64_9.9.9.EXE") << sim::kUpdatePackage; }
  const SimulatedFleet bmcs = StartRedfishSim(
      sim_bin, dir, hosts, "127.0.130.1",
      {"--restart-ms", "400", "--power-on-ms", "300", "--on-after-off-ms", "1000", "--job-ms", "400",
       "--idrac-restart-ms", "800", "--download-ms", "200", "--image-dir", dir + "/images", "--image-share",
       "127.0.0.1:" + std::to_string(images_port)});
  const pid_t sim = bmcs.pid;
  if (RegisterServers(db, dir, bmcs) != hosts) Die("the simulator lists the wrong number of BMCs");
  rapidjson::Document fleet;
  const std::string fleet_json = Get(bmcs.control + "/control/bmcs");
  fleet.Parse(fleet_json.c_str());
  if (fleet.HasParseError() || !fleet.IsArray()) Die("the simulator's control endpoint did not answer");

  // The vCenter: one cluster of exactly these hosts, host n running on server n (its service
  // tag, serial number and SMBIOS UUID), 4 VMs a host; none in maintenance; VMs move in 50 ms.
  vc::Estate estate;
  estate.datacenters = 1;
  estate.hosts = hosts;
  estate.hosts_per_cluster = hosts;
  estate.standalone_hosts = 0;
  estate.vms_per_host = 4;
  estate.datastores = 2;
  estate.networks = 2;
  for (const auto& b : fleet.GetArray()) {
    estate.hardware.push_back({"Dell Inc.", b["service_tag"].GetString(), b["serial_number"].GetString(),
                               b["system_uuid"].GetString()});
  }
  const std::string vc_password = tls::SecretBox::NewHexKey().substr(0, 20);
  vc::Model model(estate, "sync@vsphere.local", vc_password);
  vc::Timings timings;
  timings.migration = std::chrono::milliseconds(50);
  model.SetTimings(timings);
  for (const auto& o : model.Objects("HostSystem")) {
    model.Edit(o.moref, [](vc::Object& h) { std::get<vc::Host>(h.body).maintenance = false; });
  }
  const int vc_port = FreePort();
  vc::Server vcenter(model, "127.0.131.1", vc_port);
  if (auto e = vcenter.Start(); !e.empty()) Die(e);
  const std::string vc_set = SealedSet(db, *box, "vc-bench", "vcenter", "sync@vsphere.local", vc_password);
  const std::string vc_id = Scalar(db, "INSERT INTO vcenters(name, address, credential_set_id, tls_pin_sha256) "
                                       "VALUES ('vc', $1, $2, $3) RETURNING id",
                                   {fmt::format("127.0.131.1:{}", vc_port), vc_set, vcenter.fingerprint()});
  std::fflush(stdout);  // the agents are forked from this process

  const Dispatcher d = StartDispatcher(dispatcher_bin, dsn, dir);
  auto agent = [&](const std::string& bin, const std::string& id, std::map<std::string, std::string> env) {
    env.insert({{"DCOPS_DISPATCHER_ADDRESS", fmt::format("127.0.0.1:{}", d.grpc_port)},
                {"DCOPS_AGENT_TOKEN_FILE", AgentTokenFile(dispatcher_bin, dir, id)},
                {"DCOPS_TLS_CA_FILE", dir + "/pki/ca.pem"},
                {"DCOPS_AGENT_ID", id}});
    return Spawn({bin}, env, dir + "/" + id + ".log");
  };
  // The iDRAC worker re-reads a BMC's job or power state every 100 ms (as in the end-to-end
  // tests; 2-5 s by default), so the steps' time is mostly the simulated devices'.
  const pid_t idrac = agent(idrac_bin, "idrac-bench", {{"DCOPS_POLL_INTERVAL", "100ms"}, {"DCOPS_STATE_DIR", dir + "/state"}});
  const pid_t vcsync = agent(vc_bin, "vcenter-sync-bench", {});
  const pid_t esxi = agent(esxi_bin, "esxi-bench", {});
  for (const char* id : {"idrac-bench", "vcenter-sync-bench", "esxi-bench"}) WaitForAgent(db, id);

  // The inventory: every server refreshed, then vCenter synced; each host must be linked to its
  // server (or the plan would leave it out).
  RunJob(db, "server.refresh", R"({"all_servers": true})", "{}");
  RunJob(db, "inventory.vcenter_sync", fmt::format(R"({{"vcenter_id":"{}"}})", vc_id), "{}");
  const std::string linked = Scalar(db, "SELECT count(*) FROM vcenter_hosts WHERE server_id IS NOT NULL");
  if (linked != std::to_string(hosts)) Die(fmt::format("{} of {} hosts are linked to their servers", linked, hosts));
  const std::string cluster = Scalar(db, "SELECT id FROM vcenter_clusters");

  // The rolling update.
  const double cpu_d = CpuSeconds(d.pid), cpu_idrac = CpuSeconds(idrac), cpu_esxi = CpuSeconds(esxi),
               cpu_pg = ServerCpuSeconds(db), cpu_sim = CpuSeconds(sim);
  const auto t0 = std::chrono::steady_clock::now();
  const std::string job = Scalar(db, "SELECT dispatcher_v1_create_job('default', 'cluster.rolling_update', $1::jsonb, $2::jsonb)",
                                 {fmt::format(R"({{"cluster_id":"{}"}})", cluster), RollingParams(images_port)});
  WaitForSuccess(db, job, "cluster.rolling_update", std::chrono::minutes(30));
  const double seen = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  // The job's timestamps, its steps' and its dependency edges', in seconds (the database's clock).
  const auto j = Query(db, "SELECT extract(epoch FROM planned_at - created_at), extract(epoch FROM finished_at - created_at), "
                           "extract(epoch FROM (SELECT min(started_at) FROM job_tasks WHERE job_id = j.id) - planned_at), "
                           "extract(epoch FROM finished_at - (SELECT max(finished_at) FROM job_tasks WHERE job_id = j.id)) "
                           "FROM jobs j WHERE id = $1",
                       {job});
  const double planning = Number(j, 0, 0), wall = Number(j, 0, 1), to_first = Number(j, 0, 2), after_last = Number(j, 0, 3);
  const auto steps = Query(db, "SELECT id, step_key, step_kind, attempt, extract(epoch FROM started_at), "
                               "extract(epoch FROM finished_at), extract(epoch FROM finished_at - started_at) FROM job_tasks "
                               "WHERE job_id = $1 ORDER BY seq",
                           {job});
  // Time some step was running: the union of the steps' intervals (a host's settle runs beside
  // the next host's check, so the steps' durations overlap and do not simply add up).
  double ran = 0;
  int retried = 0;
  std::map<std::string, std::vector<double>> by_kind;
  std::vector<std::pair<double, double>> intervals;
  for (int i = 0; i < steps.size(); ++i) {
    const double took = Number(steps, i, 6);
    intervals.emplace_back(Number(steps, i, 4), Number(steps, i, 5));
    if (Number(steps, i, 3) > 1) ++retried;
    by_kind[steps.TextAt(i, 2).value_or("")].push_back(took);
  }
  std::sort(intervals.begin(), intervals.end());
  double covered_to = -1;
  for (const auto& [from, to] : intervals) {
    if (to <= covered_to) continue;
    ran += to - std::max(from, covered_to);
    covered_to = to;
  }
  const auto edges = Query(db, "SELECT p.step_key, n.step_key, extract(epoch FROM n.started_at - p.finished_at) "
                               "FROM job_task_deps x JOIN job_tasks n ON n.id = x.task_id JOIN job_tasks p ON p.id = x.depends_on "
                               "WHERE n.job_id = $1 AND x.kind = 'succeeded'",  // the chain's edges, not a finalizer's
                           {job});
  std::vector<double> gaps;
  double gap_sum = 0, gap_max = -1;
  std::string worst;  // the edge of the longest gap
  for (int i = 0; i < edges.size(); ++i) {
    const double g = Number(edges, i, 2);
    if (g > gap_max) {
      gap_max = g;
      worst = edges.TextAt(i, 0).value_or("") + " -> " + edges.TextAt(i, 1).value_or("");
    }
    gaps.push_back(g);
    gap_sum += g;
  }
  const double overhead = wall - ran;
  // Each host in maintenance once (a step that did nothing would make the figures look good).
  if (model.MaintenanceEntries() != hosts) {
    Die(fmt::format("vCenter saw {} maintenance entries for {} hosts", model.MaintenanceEntries(), hosts));
  }

  const auto c = std::get<vc::Cluster>(model.Objects("ClusterComputeResource").at(0).body);
  fmt::print("rolling update: {} hosts in one cluster (vSAN {}, DRS {}; {} VMs), BIOS by SimpleUpdate, quiet_seconds 0: "
             "{} steps, {} of them retried\n",
             hosts, c.vsan ? "on" : "off", c.drs ? "on" : "off", hosts * estate.vms_per_host, steps.size(), retried);
  fmt::print("  job: {:.2f} s from created to finished (database clock; the bench saw {:.2f} s)\n", wall, seen);
  fmt::print("  some step running (the union of the steps' started -> finished): {:.2f} s\n", ran);
  fmt::print("  orchestration overhead: {:.3f} s ({:.1f} % of the job; {} per host, {} per step)\n", overhead,
             100 * overhead / wall, Ms(overhead / hosts), Ms(overhead / steps.size()));
  // planned_at is the now() of the planning transaction: when planning began, not when it ended.
  fmt::print("    planning (created -> planned) {}; planned -> first step started {} (the plan made and written, "
             "the first claim); gaps between steps {:.3f} s; last step finished -> job finished {}\n",
             Ms(planning), Ms(to_first), gap_sum, Ms(after_last));
  fmt::print("  gaps, a step's end -> the next step's start ({} edges): p50 {}, p95 {}, max {} ({})\n", gaps.size(),
             Ms(Percentile(gaps, 0.5)), Ms(Percentile(gaps, 0.95)), Ms(Percentile(gaps, 1.0)), worst);

  // Inside each step's time, what was not the agent's: started_at (claimed) -> the agent's
  // "running" line, and its "finished" line -> finished_at (the result written).
  std::map<std::string, AgentSpan> spans;
  for (const char* id : {"idrac-bench", "vcenter-sync-bench", "esxi-bench"}) ReadAgentLog(dir + "/" + id + ".log", spans);
  std::vector<double> handover, recording;
  for (int i = 0; i < steps.size(); ++i) {
    const auto it = spans.find(steps.TextAt(i, 0).value_or(""));
    if (it == spans.end() || it->second.begin == 0 || it->second.end == 0) continue;
    handover.push_back(it->second.begin - Number(steps, i, 4));
    recording.push_back(Number(steps, i, 5) - it->second.end);
  }
  double inside = 0;
  for (double x : handover) inside += x;
  for (double x : recording) inside += x;
  fmt::print("  inside the steps' time, from the agents' logs ({} steps, millisecond log stamps): {:.3f} s in all;\n"
             "    claimed -> agent running p50 {}, max {}; agent finished -> result written p50 {}, max {}\n",
             handover.size(), inside, Ms(Percentile(handover, 0.5)), Ms(Percentile(handover, 1.0)),
             Ms(Percentile(recording, 0.5)), Ms(Percentile(recording, 1.0)));
  if (static_cast<int>(handover.size()) == steps.size()) {
    fmt::print("  no agent running a step (the overhead plus the above): {:.3f} s ({:.1f} % of the job)\n",
               overhead + inside, 100 * (overhead + inside) / wall);
  }
  std::string kinds;
  for (const auto& [kind, times] : by_kind) {
    double sum = 0;
    for (double t : times) sum += t;
    kinds += fmt::format("{}{} {} / {}", kinds.empty() ? "" : "; ", kind, Ms(sum / static_cast<double>(times.size())),
                         Ms(Percentile(times, 1.0)));
  }
  fmt::print("  step time by kind (mean / max): {}\n", kinds);
  Figure("rolling.job_s", wall, "s", Better::kLower);
  Figure("rolling.overhead_s", overhead, "s", Better::kLower);
  Figure("rolling.gap_p95_ms", 1000 * Percentile(gaps, 0.95), "ms", Better::kLower);
  fmt::print("  CPU seconds during the job: job-dispatcher {:.2f}, idrac-worker {:.2f}, esxi-worker {:.2f}, "
             "PostgreSQL {:.2f}, redfish-sim {:.2f}\n",
             CpuSeconds(d.pid) - cpu_d, CpuSeconds(idrac) - cpu_idrac, CpuSeconds(esxi) - cpu_esxi,
             ServerCpuSeconds(db) - cpu_pg, CpuSeconds(sim) - cpu_sim);

  Stop(idrac);
  Stop(vcsync);
  Stop(esxi);
  Stop(d.pid);
  Stop(sim);
  vcenter.Stop();
  if (!std::getenv("DCOPS_BENCH_KEEP")) {
    DropDatabase(admin_dsn, dbname);
    std::filesystem::remove_all(dir);
  } else {
    fmt::print("kept {} and database {}\n", dir, dbname);
  }
  return 0;
}
