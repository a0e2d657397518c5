// The esxi-worker's cluster safety check (cluster.safety_check) on one cluster of 64 hosts
// and 2,000 VMs, run the way the step runs it: vsphere::Client login over the real HTTPS
// client (libcurl, the simulator's certificate pinned), ReadSafetyInputs (container views on
// the cluster, pages of 500), logout, CheckSafety, SafetyReportJson. No database, no
// dispatcher: the step's own work only. The vCenter simulator runs in this process, on
// 127.0.0.2 (loopback only), so the process's CPU time includes the simulator's.
//
//   dcops-safety-bench [CHECKS]   (CHECKS default 20, after one warm-up check)
//
// The step passes vCenter's host name from its address to the reader; here the address is
// 127.0.0.2, which matches no VM, so the bench passes "vcsa-01.lab.local" (vCenter addressed by
// name) to make the search for vCenter's own VM find one.
//
// Prints, per check: wall time p50 / p95 / max split into read (login, the reads, logout:
// vCenter round trips) and decide (CheckSafety + the report's JSON); SOAP requests (the
// simulator's count); bytes sent and received; the report's size; CPU time of the process and
// of the checking thread (getrusage).
//
// The estate (the same every run): 1 datacenter, 1 cluster of 64 hosts (HA failover level 1,
// DRS fully automated, vSAN; host-5049 in maintenance, as the simulator makes every 50th
// host), 2,000 VMs (32 per host generated, the last VM of hosts 16..63 removed: 31 or 32 per
// host; every 9th powered off), every VM with a CD/DVD drive (remote, disconnected), 16
// datastores: 10 on every host, 1 on half the hosts, 4 on a quarter each, 1 local to one host.
// Blockers planted (on powered-on VMs, spread over hosts): 4 VMs on the local datastore, one
// of them with its ISO connected; 3 PCI passthrough and 3 vGPU VMs; 1 Fault Tolerance VM; 8
// connected host-device CD-ROMs; 20 DRS overrides that stop DRS (12 manual, 4 partially
// automated, 4 disabled) and 10 that do not; 5 VM-host rules, of which 2 leave a VM nowhere
// else to go; vCenter's own VM. Non-blocking look-alikes: 20 VMs with an ISO on a shared
// datastore connected, an optional (should) rule over 40 VMs, a mandatory anti-affinity rule.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "figures.hpp"
#include "dcops/http/client.hpp"
#include "dcops/http/transport.hpp"
#include "dcops/vsphere/client.hpp"
#include "safety_check.hpp"
#include "safety_reader.hpp"
#include "safety_report_json.hpp"
#include "vc_server.hpp"

namespace {

using namespace dcops;
using bench::Die;
using bench::Percentile;
namespace vc = sim::vcenter;
using Steady = std::chrono::steady_clock;

constexpr const char* kAddress = "127.0.0.2";
constexpr const char* kVcenterName = "vcsa-01.lab.local";

// A port free on 127.0.0.2 now (the simulator binds it right after).
int FreePortOnAddress() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) Die("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  ::inet_pton(AF_INET, kAddress, &addr.sin_addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) Die(fmt::format("cannot bind {}:0", kAddress));
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// The real transport, counting what crosses it (bytes of request and response bodies).
class CountingTransport final : public http::Transport {
 public:
  Result<http::Response> Send(const http::Request& request, const http::ClientOptions& options) override {
    sent_ += request.body.size();
    auto r = inner_.Send(request, options);
    if (r) received_ += r->body.size();
    return r;
  }
  std::size_t sent() const { return sent_; }
  std::size_t received() const { return received_; }

 private:
  http::CurlTransport inner_;
  std::atomic<std::size_t> sent_{0}, received_{0};
};

// User + system CPU of RUSAGE_SELF (every thread: the simulator's too) or RUSAGE_THREAD, in ms.
double CpuMs(int who) {
  rusage u{};
  ::getrusage(who, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3;
}

int TotalCalls(const vc::Server& s) {
  int n = 0;
  for (const auto& [_, c] : s.Calls()) n += c;
  return n;
}

double Ms(Steady::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

struct Planted {
  std::map<std::string, int> blockers;  // kind → how many the decision should find
  std::set<std::string> hosts;          // hosts that should be blocked
  void Add(const std::string& kind, const std::string& host, int n = 1) {
    blockers[kind] += n;
    hosts.insert(host);
  }
};

// The estate described at the top; returns the cluster's moref and what was planted.
std::pair<std::string, Planted> Shape(vc::Model& model) {
  Planted planted;
  std::string cluster;
  for (const auto& o : model.Objects("ClusterComputeResource")) cluster = o.moref;
  std::vector<std::string> hosts;
  for (const auto& o : model.Objects("HostSystem")) hosts.push_back(o.moref);  // host-5000 … host-5063, in order
  if (hosts.size() != 64) Die(fmt::format("expected 64 hosts, the simulator made {}", hosts.size()));
  std::map<std::string, std::vector<std::string>> vms_on;
  for (const auto& o : model.Objects("VirtualMachine")) vms_on[std::get<vc::Vm>(o.body).host].push_back(o.moref);

  // 2,048 generated: the last VM of hosts 16..63 goes.
  for (std::size_t h = 16; h < hosts.size(); ++h) {
    model.RemoveObject(vms_on[hosts[h]].back());
    vms_on[hosts[h]].pop_back();
  }

  // Datastores: datastore-100 … datastore-115. Mounted on every host unless listed here.
  std::vector<std::string> ds;
  for (const auto& o : model.Objects("Datastore")) ds.push_back(o.moref);
  if (ds.size() != 16) Die(fmt::format("expected 16 datastores, the simulator made {}", ds.size()));
  auto range = [&](std::size_t from, std::size_t to) { return std::vector<std::string>(hosts.begin() + from, hosts.begin() + to); };
  std::map<std::string, std::vector<std::string>> mounted;  // datastore → hosts (absent: all)
  mounted[ds[8]] = range(0, 32);
  for (std::size_t q = 0; q < 4; ++q) mounted[ds[12 + q]] = range(16 * q, 16 * q + 16);
  const std::string local = ds[11];
  mounted[local] = {hosts[3]};
  for (const auto& d : ds) {
    model.Edit(d, [&](vc::Object& o) {
      auto& body = std::get<vc::Datastore>(o.body);
      body.accessible = true;  // the simulator makes every 10th inaccessible; this estate is healthy
      if (auto it = mounted.find(d); it != mounted.end()) body.hosts = it->second;
    });
  }
  std::vector<std::string> everywhere;
  for (const auto& d : ds) {
    if (mounted.count(d) == 0) everywhere.push_back(d);
  }
  auto mounted_on = [&](const std::string& d, const std::string& h) {
    auto it = mounted.find(d);
    return it == mounted.end() || std::find(it->second.begin(), it->second.end(), h) != it->second.end();
  };

  // Every VM: a CD/DVD drive (remote, disconnected), on datastores its host mounts.
  int n = 0;
  for (const auto& h : hosts) {
    for (const auto& vm : vms_on[h]) {
      const std::string fallback = everywhere[static_cast<std::size_t>(n++) % everywhere.size()];
      model.Edit(vm, [&](vc::Object& o) {
        auto& v = std::get<vc::Vm>(o.body);
        v.media = {{"cdrom", "remote", "", false}};
        for (auto& d : v.datastores) {
          if (d == local || !mounted_on(d, h)) d = fallback;
        }
      });
    }
  }

  auto on = [&](vc::Vm& v) {
    if (v.power_state != "poweredOn") {
      v.power_state = "poweredOn";
      v.guest_hostname = v.name + ".lab";
    }
  };
  auto vm_of = [&](std::size_t host, std::size_t i) { return vms_on[hosts[host]].at(i); };
  auto edit_vm = [&](const std::string& vm, const std::function<void(vc::Vm&)>& fn) {
    model.Edit(vm, [&](vc::Object& o) {
      auto& v = std::get<vc::Vm>(o.body);
      on(v);
      fn(v);
    });
  };

  // Local storage: 4 VMs of host 3 on its local datastore; one has an ISO there connected.
  for (std::size_t i = 0; i < 4; ++i) {
    edit_vm(vm_of(3, i), [&](vc::Vm& v) {
      v.datastores = {local};
      if (i == 0) v.media = {{"cdrom", "file", local, true}};
    });
    planted.Add("local_storage", hosts[3]);
  }
  planted.Add("connected_media", hosts[3]);
  // Passthrough: 3 DirectPath I/O, 3 vGPU (one with two).
  for (std::size_t h = 5; h <= 10; ++h) {
    edit_vm(vm_of(h, 0), [&](vc::Vm& v) {
      if (h <= 7) v.passthrough = 1;
      else v.vgpu = h == 10 ? 2 : 1;
    });
    planted.Add("passthrough", hosts[h]);
  }
  // Fault Tolerance.
  edit_vm(vm_of(12, 0), [](vc::Vm& v) { v.fault_tolerance = "running"; });
  planted.Add("fault_tolerance", hosts[12]);
  // Connected host-device CD-ROMs.
  for (std::size_t h = 14; h <= 21; ++h) {
    edit_vm(vm_of(h, 1), [](vc::Vm& v) { v.media = {{"cdrom", "host_device", "", true}}; });
    planted.Add("connected_media", hosts[h]);
  }
  // Connected ISOs on a shared datastore: not blockers.
  for (std::size_t h = 0; h < 20; ++h) {
    edit_vm(vm_of(h, 6), [&](vc::Vm& v) { v.media = {{"cdrom", "file", everywhere[0], true}}; });
  }
  // DRS overrides: 12 manual, 4 partially automated, 4 disabled, 10 fully automated (harmless).
  std::map<std::string, std::string> overrides;
  for (std::size_t h = 22; h <= 51; ++h) {
    const std::string behavior = h <= 33 ? "manual" : h <= 37 ? "partiallyAutomated" : h <= 41 ? "disabled" : "fullyAutomated";
    const std::string vm = vm_of(h, 2);
    edit_vm(vm, [](vc::Vm&) {});
    overrides[vm] = behavior;
    if (behavior != "fullyAutomated") planted.Add("drs_manual", hosts[h]);
  }
  // VM-host rules.
  std::vector<vc::Cluster::Rule> rules;
  rules.push_back({"sql-pinned", true, true, {vm_of(52, 3), vm_of(53, 3)}, {hosts[52], hosts[53]}, {}});  // each may move to the other
  rules.push_back({"license-pinned", true, true, {vm_of(54, 3)}, {hosts[54]}, {}});                       // nowhere else
  planted.Add("vm_host_rule", hosts[54]);
  rules.push_back({"dr-pair", true, true, {vm_of(55, 3)}, {hosts[49], hosts[55]}, {}});  // the other is in maintenance
  planted.Add("vm_host_rule", hosts[55]);
  {
    std::vector<std::string> rack_a;
    for (std::size_t h = 0; h < 8; ++h) {
      for (std::size_t i = 0; i < 5; ++i) rack_a.push_back(vm_of(h, 10 + i));
    }
    rules.push_back({"prefer-rack-a", true, false, rack_a, range(0, 8), {}});  // a should rule: never blocks
  }
  {
    std::vector<std::string> not_d;
    for (std::size_t h = 0; h < 10; ++h) not_d.push_back(vm_of(h, 5));
    rules.push_back({"not-on-rack-d", true, true, not_d, {}, range(48, 64)});  // anti-affinity: plenty of room
  }
  for (const auto& r : rules) {
    for (const auto& vm : r.vms) edit_vm(vm, [](vc::Vm&) {});
  }
  model.Edit(cluster, [&](vc::Object& o) {
    auto& c = std::get<vc::Cluster>(o.body);
    c.drs_vm_behavior = overrides;
    c.rules = rules;
  });
  // vCenter's own VM.
  edit_vm(vm_of(60, 0), [](vc::Vm& v) { v.guest_hostname = kVcenterName; });
  planted.Add("vcenter_vm", hosts[60]);
  return {cluster, planted};
}

struct Sample {
  double wall = 0, read = 0, session = 0, decide = 0;
  int calls = 0;
  std::size_t sent = 0, received = 0, report = 0;
  double cpu_process = 0, cpu_thread = 0;
};

}  // namespace

int main(int argc, char** argv) {
  int checks = 20;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (!a.empty() && a.find_first_not_of("0123456789") == std::string::npos) {
      checks = std::atoi(a.c_str());
    } else {
      Die("usage: dcops-safety-bench [CHECKS]   (CHECKS default 20)");
    }
  }
  if (checks < 1) Die("CHECKS must be at least 1");

  vc::Estate e;
  e.datacenters = 1;
  e.hosts = 64;
  e.hosts_per_cluster = 64;
  e.standalone_hosts = 0;
  e.vms_per_host = 32;
  e.datastores = 16;
  e.networks = 6;
  const auto t_model = Steady::now();
  vc::Model model(e);
  auto [cluster, planted] = Shape(model);
  const std::size_t vm_count = model.Objects("VirtualMachine").size();
  if (vm_count != 2000) Die(fmt::format("expected 2,000 VMs, have {}", vm_count));
  const double model_s = std::chrono::duration<double>(Steady::now() - t_model).count();

  std::unique_ptr<vc::Server> server;
  int port = 0;
  for (int attempt = 0; attempt < 5 && !server; ++attempt) {
    port = FreePortOnAddress();
    auto s = std::make_unique<vc::Server>(model, kAddress, port);
    if (auto err = s->Start(); err.empty()) {
      server = std::move(s);
    } else if (attempt == 4) {
      Die(err);
    }
  }

  // As esxi-worker's main: one transport (connections kept alive between checks), default options.
  auto transport_owner = std::make_unique<CountingTransport>();
  CountingTransport& transport = *transport_owner;
  auto http_owner = std::make_unique<http::Client>(http::ClientOptions{}, transport, SystemClock::Instance());
  http::Client& http = *http_owner;
  vsphere::Endpoint ep;
  ep.base_url = fmt::format("https://{}:{}", kAddress, port);
  ep.username = "sync@vsphere.local";
  ep.password = "vc-pass";
  ep.tls.pinned_sha256 = server->fingerprint();

  esxi::SafetyReport report;
  esxi::SafetyInputs inputs;
  auto check = [&]() {
    Sample s;
    const int calls0 = TotalCalls(*server);
    const std::size_t sent0 = transport.sent(), recv0 = transport.received();
    const double cpu_p0 = CpuMs(RUSAGE_SELF), cpu_t0 = CpuMs(RUSAGE_THREAD);
    const auto t0 = Steady::now();
    vsphere::Client client(http, ep);
    if (auto st = client.Login(); !st) Die("login: " + st.error().message);
    const auto t1 = Steady::now();
    auto in = esxi::ReadSafetyInputs(client, cluster, kVcenterName);
    const auto t2 = Steady::now();
    client.Logout();
    const auto t3 = Steady::now();
    if (!in) Die("read: " + in.error().code + ": " + in.error().message);
    report = esxi::CheckSafety(in->cluster, in->hosts, in->vms, in->datastores, {}, esxi::SafetyOptions{});
    const std::string json = esxi::SafetyReportJson(in->cluster, report);
    const auto t4 = Steady::now();
    s.cpu_thread = CpuMs(RUSAGE_THREAD) - cpu_t0;
    s.cpu_process = CpuMs(RUSAGE_SELF) - cpu_p0;
    s.wall = Ms(t4 - t0);
    s.read = Ms(t3 - t0);
    s.session = Ms((t1 - t0) + (t3 - t2));
    s.decide = Ms(t4 - t3);
    s.calls = TotalCalls(*server) - calls0;
    s.sent = transport.sent() - sent0;
    s.received = transport.received() - recv0;
    s.report = json.size();
    inputs = std::move(*in);
    return s;
  };

  const auto calls_before = server->Calls();
  const Sample warm = check();
  std::string ops;  // SOAP requests of one check, per operation
  for (const auto& [op, c] : server->Calls()) {
    const auto it = calls_before.find(op);
    const int d = c - (it == calls_before.end() ? 0 : it->second);
    if (d > 0) ops += fmt::format("{}{} {}", ops.empty() ? "" : ", ", d, op);
  }
  // What the decision found, against what was planted.
  std::map<std::string, int> found;
  std::set<std::string> blocked;
  int capacity = 0;
  for (const auto& v : report.verdicts) {
    for (const auto& b : v.blockers) ++found[b.kind];
    if (!v.blockers.empty()) blocked.insert(v.moref);
    capacity += static_cast<int>(v.capacity_problems.size());
  }
  if (found != planted.blockers || blocked != planted.hosts || capacity != 0) {
    std::string f, p;
    for (const auto& [k, n] : found) f += fmt::format(" {}={}", k, n);
    for (const auto& [k, n] : planted.blockers) p += fmt::format(" {}={}", k, n);
    Die(fmt::format("the decision found{} on {} hosts ({} capacity problems); planted{} on {} hosts", f, blocked.size(), capacity, p,
                    planted.hosts.size()));
  }
  int powered_on = 0;
  for (const auto& v : inputs.vms) powered_on += v.power_state == "poweredOn" ? 1 : 0;
  int blockers = 0;
  std::string kinds;
  for (const auto& [k, n] : found) {
    blockers += n;
    kinds += fmt::format("{}{} {}", kinds.empty() ? "" : ", ", n, k);
  }
  fmt::print("estate: 1 cluster, {} hosts ({} usable, {} required: {}), {} VMs ({} powered on), {} datastores, {} rules, {} DRS "
             "overrides (model built and shaped in {:.2f} s)\n",
             inputs.hosts.size(), report.usable, report.required, report.required_by.front(), inputs.vms.size(),
             powered_on, inputs.datastores.size(), inputs.cluster.rules.size(), inputs.cluster.drs_vm_behavior.size(), model_s);
  fmt::print("decision: {} of {} hosts blocked, {} blockers ({}), as planted\n", blocked.size(), report.verdicts.size(), blockers, kinds);
  fmt::print("simulator on {}:{}\n", kAddress, port);
  fmt::print("warm-up check (first TLS handshake): {:.1f} ms\n", warm.wall);

  std::vector<Sample> samples;
  for (int i = 0; i < checks; ++i) samples.push_back(check());
  auto series = [&](double Sample::*field) {
    std::vector<double> v;
    for (const auto& s : samples) v.push_back(s.*field);
    return v;
  };
  auto line = [&](const char* what, double Sample::*field, const char* key = nullptr) {
    const auto v = series(field);
    if (key != nullptr) {
      bench::Figure(std::string("safety.") + key + "_p50_ms", Percentile(v, 0.5), "ms", bench::Better::kLower);
      bench::Figure(std::string("safety.") + key + "_p95_ms", Percentile(v, 0.95), "ms", bench::Better::kLower);
    }
    fmt::print("  {:<36} p50 {:8.2f}  p95 {:8.2f}  max {:8.2f}\n", what, Percentile(v, 0.5), Percentile(v, 0.95),
               *std::max_element(v.begin(), v.end()));
  };
  fmt::print("{} checks, ms per check:\n", checks);
  line("wall (read + decide)", &Sample::wall, "wall");
  line("read (login, reads, logout)", &Sample::read, "read");
  line("  of which login + logout", &Sample::session);
  line("decide (CheckSafety + report JSON)", &Sample::decide, "decide");
  line("CPU, whole process (incl. simulator)", &Sample::cpu_process);
  line("CPU, checking thread (client only)", &Sample::cpu_thread);
  auto mean = [&](double Sample::*field) {
    double t = 0;
    for (const auto& s : samples) t += s.*field;
    return t / static_cast<double>(samples.size());
  };
  const auto& last = samples.back();
  fmt::print("SOAP requests per check: {} ({})\n", last.calls, ops);
  fmt::print("bytes per check: {} sent, {} received from vCenter; report JSON {} bytes\n", last.sent, last.received, last.report);
  fmt::print("CPU per check (mean): process {:.1f} ms (user+system, simulator included), checking thread {:.1f} ms\n",
             mean(&Sample::cpu_process), mean(&Sample::cpu_thread));
  bench::Figure("safety.cpu_thread_ms", mean(&Sample::cpu_thread), "ms", bench::Better::kLower);
  // Close the kept-alive connection first: the simulator's stop waits for open ones (5 s).
  http_owner.reset();
  transport_owner.reset();
  server->Stop();
  return 0;
}
