// host.esxi_upgrade against the vCenter simulator and a real sshd on loopback whose PATH holds
// the esxcli stand-in (tests/sim/esxcli, written from esxcli's published output by another
// hand than the parser's): the SSH service, pinned host keys, the checks, the update, the
// reboot and the build proven from vCenter.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <rapidjson/document.h>

#include <algorithm>
#include <memory>

#include "dcops/agent/recording_context.hpp"
#include "dcops/http/transport.hpp"
#include "esxcli_host.hpp"
#include "sshd_fixture.hpp"
#include "upgrade_step.hpp"
#include "vc_server.hpp"

namespace dcops::esxi {
namespace {

namespace vc = sim::vcenter;
using agent::StepOutcome;

using sim::esxcli::kDepot;
using sim::esxcli::kProfile;

// A host in maintenance in a simulated vCenter, reachable over SSH with the esxcli stand-in.
struct Rig {
  Rig(const char* vc_ip, const char* ssh_ip, int ssh_port)
      : vc_address(vc_ip),
        server(model, vc_ip, 18453),
        sshd(ssh_ip, ssh_port, std::string("/tmp/dcops-esxi-sshd-") + ssh_ip + "-" + std::to_string(::getpid())) {
    REQUIRE(sshd.Start() == "");
    esxcli = std::make_unique<sim::esxcli::EsxcliHost>(sshd);
    vc::Timings t;
    t.reboot_down = std::chrono::milliseconds(50);
    t.reboot_up = std::chrono::milliseconds(200);
    t.on_boot = esxcli->BootHook();  // the new boot runs what the update staged
    model.SetTimings(t);
    REQUIRE(server.Start().empty());
    host = model.Objects("HostSystem").front().moref;
    model.SetMaintenance(host, true);
  }
  static vc::Estate Estate() {
    vc::Estate e;
    e.datacenters = 1;
    e.hosts = 2;
    e.hosts_per_cluster = 2;
    e.standalone_hosts = 0;
    e.vms_per_host = 0;
    e.datastores = 1;
    return e;
  }
  agent::Assignment Assignment(const std::string& params, const std::string& host_key) const {
    agent::Assignment a;
    a.task_id = "t1";
    a.step_kind = "host.esxi_upgrade";
    a.target = "esxi:h1";
    a.params_json = "{" + params + R"(,"_endpoint":{"address":")" + vc_address + R"(:18453","host_moref":")" + host +
                    R"(","host_name":"esx-01.lab","ssh_address":")" + sshd.address() + R"(","ssh_port":)" +
                    std::to_string(sshd.port()) + R"(,"ssh_host_key":")" + host_key + R"("}})";
    a.credentials = {"sync@vsphere.local", "vc-pass"};
    a.tls.pinned_sha256 = server.fingerprint();
    a.credential_sets.push_back({"set-1", "esx-root", {"root", sshd.client_key()}});
    return a;
  }
  std::string Params(const std::string& profile = kProfile) const {
    return std::string(R"("depot":")") + kDepot + R"(","profile":")" + profile + R"(")";
  }
  vc::Host Host() const { return std::get<vc::Host>(model.Get(host)->body); }
  bool SshRunning() const { return std::get<vc::ServiceSystem>(model.Get("serviceSystem-" + host)->body).ssh_running; }
  int Calls(const std::string& part) const { return esxcli->Calls(part); }

  std::string vc_address;
  vc::Model model{Estate()};
  vc::Server server;
  sim::sshd::Sshd sshd;
  http::CurlTransport transport;
  http::Client http{http::ClientOptions{}, transport, SystemClock::Instance()};
  std::unique_ptr<sim::esxcli::EsxcliHost> esxcli;
  std::string host;
  ShellConnector connect = [](const ssh::Endpoint& e) { return ssh::Session::Connect(e); };
};

bool Said(const agent::RecordingStepContext& ctx, const std::string& part) {
  const auto events = ctx.events();
  return std::any_of(events.begin(), events.end(), [&](const std::string& e) { return e.find(part) != std::string::npos; });
}

TEST_CASE("An upgrade installs the profile over SSH, reboots the host and proves the new build from vCenter", "[upgrade][net]") {
  Rig rig("127.0.124.20", "127.0.124.21", 18720);
  REQUIRE_FALSE(rig.SshRunning());
  agent::RecordingStepContext ctx(rig.Assignment(rig.Params(), rig.sshd.host_key_fingerprint()), SystemClock::Instance());
  auto out = RunUpgrade(ctx, rig.http, rig.connect);
  INFO(out.error.message);
  REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
  rapidjson::Document r;
  r.Parse(out.result_json.c_str());
  CHECK(std::string(r["outcome"].GetString()) == "upgraded");
  CHECK(std::string(r["build_before"].GetString()) == "22380479");
  CHECK(std::string(r["build_after"].GetString()) == "23305546");
  CHECK(r["ssh_service_restored"].GetBool());
  CHECK_FALSE(r["ssh_host_key_new"].GetBool());
  CHECK(r["reboot"]["disconnect_seen"].GetBool());
  CHECK(rig.Host().build == "23305546");
  CHECK_FALSE(rig.SshRunning());  // started for the upgrade, stopped again
  CHECK(Said(ctx, "started the SSH service"));
  CHECK(rig.Calls("profile update") == 1);
  CHECK(rig.model.SessionCount() == 0);

  // The same job again: the host runs the profile's build; nothing is installed or rebooted.
  agent::RecordingStepContext again(rig.Assignment(rig.Params(), rig.sshd.host_key_fingerprint()), SystemClock::Instance());
  out = RunUpgrade(again, rig.http, rig.connect);
  INFO(out.error.message);
  REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
  r.Parse(out.result_json.c_str());
  CHECK(std::string(r["outcome"].GetString()) == "already_current");
  CHECK(rig.Calls("profile update") == 1);
  CHECK(rig.model.TasksOn(rig.host).size() == 1);  // the one reboot
}

TEST_CASE("An upgrade refuses a host it cannot trust, a profile the depot lacks, an older build and a full OSDATA", "[upgrade][net][attack]") {
  Rig rig("127.0.124.22", "127.0.124.23", 18721);
  // Another key than the pinned one: refused before anything runs, the SSH service stopped again.
  agent::RecordingStepContext wrong(rig.Assignment(rig.Params(), "SHA256:" + std::string(43, 'A')), SystemClock::Instance());
  auto out = RunUpgrade(wrong, rig.http, rig.connect);
  REQUIRE(out.kind == StepOutcome::Kind::kFailed);
  CHECK(out.error.code == "ssh.host_key_mismatch");
  CHECK(rig.Calls("esxcli") + rig.Calls("system") == 0);
  CHECK_FALSE(rig.SshRunning());
  // No key pinned and no first contact: refused, naming the key it saw.
  agent::RecordingStepContext unknown(rig.Assignment(rig.Params(), ""), SystemClock::Instance());
  out = RunUpgrade(unknown, rig.http, rig.connect);
  REQUIRE(out.kind == StepOutcome::Kind::kFailed);
  CHECK(out.error.code == "ssh.host_key_unknown");
  CHECK(out.error.message.find(rig.sshd.host_key_fingerprint()) != std::string::npos);

  auto refused = [&](const std::string& params, const char* code) {
    agent::RecordingStepContext ctx(rig.Assignment(params, rig.sshd.host_key_fingerprint()), SystemClock::Instance());
    auto o = RunUpgrade(ctx, rig.http, rig.connect);
    INFO(o.error.message);
    CHECK(o.kind == StepOutcome::Kind::kFailed);
    CHECK(o.error.code == code);
    return o.error.message;
  };
  CHECK(refused(rig.Params("ESXi-9.0-24000000-standard"), "esxi.profile_not_in_depot").find(kProfile) != std::string::npos);
  rig.esxcli->Write("depot_profiles", "ESXi-8.0U1-21495797-standard|VMware, Inc.|PartnerSupported|2023-04-18T00:00:00|8.0.1|21495797");
  refused(rig.Params("ESXi-8.0U1-21495797-standard"), "esxi.downgrade");
  rig.esxcli->Write("depot_profiles", std::string(kProfile) + "|VMware, Inc.|PartnerSupported|2024-02-29T00:00:00|8.0.2|23305546");
  rig.esxcli->Write("filesystems",
        "/vmfs/volumes/6543a1b2-11aa22bb-33cc-0050569a0001|OSDATA-6543a1b2-11aa22bb-33cc-0050569a0001|6543a1b2-11aa22bb-33cc-0050569a0001|true|VMFSOS|128580583424|104857600");
  CHECK(refused(rig.Params(), "esxi.no_space").find("100 MiB free") != std::string::npos);
  // A depot the host cannot read: esxcli's own words in the failure.
  refused(std::string(R"("depot":"https://other.lab/index.xml","profile":")") + kProfile + "\"", "esxi.esxcli_failed");
  CHECK(rig.Calls("profile update") == 0);
  CHECK_FALSE(rig.SshRunning());
  CHECK(rig.Host().build == "22380479");
}

TEST_CASE("A first contact the job allows reaches the host and reports the key to pin", "[upgrade][net]") {
  Rig rig("127.0.124.24", "127.0.124.25", 18722);
  auto a = rig.Assignment(rig.Params(), "");
  a.params_json.insert(a.params_json.size() - 1, R"(,"_first_contact":true)");
  agent::RecordingStepContext ctx(a, SystemClock::Instance());
  auto out = RunUpgrade(ctx, rig.http, rig.connect);
  INFO(out.error.message);
  REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
  rapidjson::Document r;
  r.Parse(out.result_json.c_str());
  CHECK(r["ssh_host_key_new"].GetBool());
  CHECK(std::string(r["ssh_host_key"].GetString()) == rig.sshd.host_key_fingerprint());
  CHECK(Said(ctx, "first contact"));
}

TEST_CASE("A retry after the update goes on with the reboot: never a second update", "[upgrade][net]") {
  Rig rig("127.0.124.26", "127.0.124.27", 18723);
  agent::RecordingStepContext first(rig.Assignment(rig.Params(), rig.sshd.host_key_fingerprint()), SystemClock::Instance());
  first.FailCheckpointsFrom(3);  // "starting_ssh", "updating" and "updated" reach the dispatcher; the reboot's does not
  auto out = RunUpgrade(first, rig.http, rig.connect);
  REQUIRE(out.kind == StepOutcome::Kind::kFailed);
  REQUIRE(rig.Calls("profile update") == 1);
  REQUIRE(first.NextAttempt().checkpoint_json.find(R"("phase":"updated")") != std::string::npos);
  agent::RecordingStepContext retry(first.NextAttempt(), SystemClock::Instance());
  out = RunUpgrade(retry, rig.http, rig.connect);
  INFO(out.error.message);
  REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
  CHECK(rig.Calls("profile update") == 1);
  CHECK(rig.Host().build == "23305546");
  CHECK(Said(retry, "resuming"));
  CHECK_FALSE(rig.SshRunning());
  rapidjson::Document r;
  r.Parse(out.result_json.c_str());
  CHECK(std::string(r["build_before"].GetString()) == "22380479");  // kept through the retry
}

}  // namespace
}  // namespace dcops::esxi
