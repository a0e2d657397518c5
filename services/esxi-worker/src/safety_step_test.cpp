// cluster.safety_check against the vCenter simulator, with a recording step context standing
// in for the dispatcher's stream.
#include "safety_step.hpp"

#include <catch2/catch.hpp>
#include <rapidjson/document.h>

#include "dcops/agent/recording_context.hpp"
#include "dcops/http/transport.hpp"
#include "vc_server.hpp"

namespace dcops::esxi {
namespace {

namespace vc = sim::vcenter;

vc::Estate Small() {
  vc::Estate e;
  e.datacenters = 1;
  e.hosts = 4;
  e.hosts_per_cluster = 4;
  e.standalone_hosts = 0;
  e.vms_per_host = 2;
  e.datastores = 2;
  return e;
}

// Each test case its own address: ctest runs the cases as parallel processes.
struct Rig {
  explicit Rig(const char* ip) : address(ip), server(model, ip, 18450) { Start(); }
  std::string address;
  vc::Model model{Small()};
  vc::Server server;
  http::CurlTransport transport;
  http::Client http{http::ClientOptions{}, transport, SystemClock::Instance()};
  std::string cluster;
  std::vector<std::string> hosts;
  void Start() {
    REQUIRE(server.Start().empty());
    for (const auto& o : model.Objects("ClusterComputeResource")) cluster = o.moref;
    for (const auto& o : model.Objects("HostSystem")) hosts.push_back(o.moref);
  }
  agent::Assignment Assignment(const std::string& params, const std::string& cluster_moref = "") const {
    agent::Assignment a;
    a.task_id = "t1";
    a.step_kind = "cluster.safety_check";
    a.target = "cluster:c1";
    a.params_json = "{" + params + (params.empty() ? "" : ",") + R"("_endpoint":{"address":")" + address + R"(:18450","cluster_moref":")" +
                    (cluster_moref.empty() ? cluster : cluster_moref) + R"("}})";
    a.credentials = {"sync@vsphere.local", "vc-pass"};
    a.tls.pinned_sha256 = server.fingerprint();
    return a;
  }
};

TEST_CASE("A safety check reports every host's verdict and warns of each blocked one", "[safety][net]") {
  Rig rig("127.0.124.2");
  // A VM with a passthrough device on the first host; the job's floor leaves no host spare.
  for (const auto& o : rig.model.Objects("VirtualMachine")) {
    if (std::get<vc::Vm>(o.body).host == rig.hosts[0]) {
      rig.model.Edit(o.moref, [](vc::Object& vm) { std::get<vc::Vm>(vm.body).passthrough = 1; });
      break;
    }
  }
  agent::RecordingStepContext ctx(rig.Assignment(R"("hosts":[")" + rig.hosts[0] + R"(",")" + rig.hosts[1] + R"("])"),
                                  SystemClock::Instance());
  auto out = RunSafetyCheck(ctx, rig.http);
  REQUIRE(out.kind == agent::StepOutcome::Kind::kSucceeded);
  rapidjson::Document r;
  r.Parse(out.result_json.c_str());
  REQUIRE_FALSE(r.HasParseError());
  CHECK_FALSE(r["safe"].GetBool());
  REQUIRE(r["verdicts"].Size() == 2);
  CHECK(std::string(r["verdicts"][0]["blockers"][0]["kind"].GetString()) == "passthrough");
  CHECK(r["verdicts"][1]["can_enter_maintenance"].GetBool());
  CHECK(r["hosts"]["usable"].GetInt() == 4);
  bool warned = false;
  for (const auto& e : ctx.events()) warned = warned || e.find("cannot enter maintenance: passthrough") != std::string::npos;
  CHECK(warned);
  CHECK(rig.model.SessionCount() == 0);

  agent::RecordingStepContext floor(rig.Assignment(R"("min_hosts_up":4)"), SystemClock::Instance());
  out = RunSafetyCheck(floor, rig.http);
  REQUIRE(out.kind == agent::StepOutcome::Kind::kSucceeded);
  r.Parse(out.result_json.c_str());
  CHECK(r["verdicts"].Size() == 4);  // every host of the cluster
  CHECK(r["required"].GetInt() == 4);
  for (const auto& v : r["verdicts"].GetArray()) CHECK_FALSE(v["can_enter_maintenance"].GetBool());
}

TEST_CASE("A safety check refuses bad params, an unknown cluster and wrong credentials clearly", "[safety][net]") {
  Rig rig("127.0.124.3");
  agent::RecordingStepContext bad(rig.Assignment(R"("hosts":"host-1")"), SystemClock::Instance());
  auto out = RunSafetyCheck(bad, rig.http);
  REQUIRE(out.kind == agent::StepOutcome::Kind::kFailed);
  CHECK(out.error.message == "params.hosts: must be a list of host morefs");
  agent::RecordingStepContext floor(rig.Assignment(R"("min_hosts_up":0)"), SystemClock::Instance());
  CHECK(RunSafetyCheck(floor, rig.http).error.message == "params.min_hosts_up: must be an integer from 1 to 64");
  agent::RecordingStepContext unknown(rig.Assignment("", "domain-c404"), SystemClock::Instance());
  out = RunSafetyCheck(unknown, rig.http);
  REQUIRE(out.kind == agent::StepOutcome::Kind::kFailed);
  CHECK(out.error.code == "vsphere.not_found");
  CHECK(rig.model.SessionCount() == 0);
  auto a = rig.Assignment("");
  a.credentials.password = "Wrong-Secret-17";
  agent::RecordingStepContext denied(a, SystemClock::Instance());
  out = RunSafetyCheck(denied, rig.http);
  REQUIRE(out.kind == agent::StepOutcome::Kind::kFailed);
  CHECK(out.error.code == "vsphere.invalid_login");
  CHECK(out.error.message.find("Wrong-Secret-17") == std::string::npos);
}

}  // namespace
}  // namespace dcops::esxi
