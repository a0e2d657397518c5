#pragma once
// The vCenter simulator on one loopback address and an HTTP client to it, for the host steps'
// tests (host_steps_test, finalizer_steps_test): each test case its own address, since ctest
// runs the cases as parallel processes.
#include <catch2/catch.hpp>
#include <rapidjson/document.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "dcops/agent/recording_context.hpp"
#include "dcops/http/client.hpp"
#include "dcops/http/transport.hpp"
#include "vc_server.hpp"

namespace dcops::esxi::testing {

namespace vc = sim::vcenter;

inline vc::Estate Small() {
  vc::Estate e;
  e.datacenters = 1;
  e.hosts = 4;
  e.hosts_per_cluster = 4;
  e.standalone_hosts = 0;
  e.vms_per_host = 3;
  e.datastores = 2;
  return e;
}

struct Rig {
  explicit Rig(const char* ip) : address(ip), server(model, ip, 18451) {
    vc::Timings t;
    t.migration = std::chrono::milliseconds(20);
    t.exit = std::chrono::milliseconds(20);
    t.reboot_down = std::chrono::milliseconds(50);
    t.reboot_up = std::chrono::milliseconds(150);
    t.timeout_scale = 0.02;  // vCenter's 60 s entry timeout passes in 1.2 s
    model.SetTimings(t);
    REQUIRE(server.Start().empty());
    for (const auto& o : model.Objects("ClusterComputeResource")) cluster = o.moref;
    for (const auto& o : model.Objects("HostSystem")) {
      hosts.push_back(o.moref);
      model.Edit(o.moref, [](vc::Object& h) { std::get<vc::Host>(h.body).maintenance = false; });
    }
  }
  std::string address;
  vc::Model model{Small()};
  vc::Server server;
  http::CurlTransport transport;
  http::Client http{http::ClientOptions{}, transport, SystemClock::Instance()};
  std::string cluster;
  std::vector<std::string> hosts;

  agent::Assignment Assignment(const std::string& kind, const std::string& params, const std::string& host) const {
    agent::Assignment a;
    a.task_id = "t1";
    a.step_kind = kind;
    a.target = "esxi:h1";
    a.params_json = "{" + params + (params.empty() ? "" : ",") + R"("_endpoint":{"address":")" + address +
                    R"(:18451","cluster_moref":")" + cluster + R"(","host_moref":")" + host + R"(","host_name":"esx-)" +
                    host + R"("}})";
    a.credentials = {"sync@vsphere.local", "vc-pass"};
    a.tls.pinned_sha256 = server.fingerprint();
    return a;
  }
  const vc::Host Host(const std::string& moref) const {
    for (const auto& o : model.Objects("HostSystem")) {
      if (o.moref == moref) return std::get<vc::Host>(o.body);
    }
    FAIL("no host " << moref);
    return {};
  }
  std::vector<std::string> VmsOn(const std::string& host, bool powered_on_only = true) const {
    std::vector<std::string> out;
    for (const auto& o : model.Objects("VirtualMachine")) {
      const auto& vm = std::get<vc::Vm>(o.body);
      if (vm.host == host && (!powered_on_only || vm.power_state == "poweredOn")) out.push_back(o.moref);
    }
    return out;
  }
  void EditVm(const std::string& moref, const std::function<void(vc::Vm&)>& fn) {
    model.Edit(moref, [&](vc::Object& o) { fn(std::get<vc::Vm>(o.body)); });
  }
};

inline rapidjson::Document Json(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str());
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

inline bool Said(const agent::RecordingStepContext& ctx, const std::string& part) {
  const auto events = ctx.events();
  return std::any_of(events.begin(), events.end(), [&](const std::string& e) { return e.find(part) != std::string::npos; });
}

}  // namespace dcops::esxi::testing
