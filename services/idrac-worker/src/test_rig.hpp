#pragma once
// A simulated fleet plus everything a step needs to run against it (tests only).
#include <catch2/catch.hpp>
#include <rapidjson/document.h>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>

#include "dcops/agent/recording_context.hpp"
#include "fleet.hpp"
#include "image_share.hpp"
#include "steps.hpp"

namespace dcops::idrac {

// A step's result as a JSON object (fails the test when it is not one).
inline rapidjson::Document Parsed(const std::string& json) {
  rapidjson::Document d;
  d.Parse(json.c_str());
  REQUIRE(d.IsObject());
  return d;
}

struct WorkerRig {
  static constexpr int kPort = 18443;
  sim::Fleet fleet;
  http::CurlTransport transport;
  http::Client http;
  redfish::SessionCache sessions;
  redfish::BreakerBoard breakers{{5, std::chrono::milliseconds(400)}};
  WorkerDeps deps;
  agent::StepRegistry steps;
  // The site's file share the BMCs fetch SimpleUpdate packages from (Image()).
  std::string image_dir;
  sim::ImageShare share;

  WorkerRig(const std::string& first, int count, int legacy_every = 0, int impostors = 0)
      : WorkerRig(Options(first, count, legacy_every, impostors)) {}
  // A fleet shaped by the caller (start from Options(): vendors, ...).
  explicit WorkerRig(const sim::FleetOptions& options)
      : fleet(options),
        http(http::ClientOptions{}, transport, SystemClock::Instance()),
        deps{http, sessions, breakers, SystemClock::Instance(), Fast(), FastOps(), FastDiscovery()},
        steps(MakeSteps(deps)) {
    static std::atomic<int> rigs{0};
    image_dir = "/tmp/dcops-worker-rig-" + std::to_string(::getpid()) + "-" + std::to_string(rigs++);
    std::filesystem::create_directories(image_dir);
    REQUIRE(share.Start("127.0.0.1", 0, image_dir).empty());
    REQUIRE(fleet.Start().empty());
  }
  ~WorkerRig() {
    fleet.Stop();
    share.Stop();
    std::filesystem::remove_all(image_dir);
  }
  // Puts `name` on the share (by default a Dell update package: it starts as a Windows
  // executable) and returns its URL.
  std::string Image(const std::string& name, const std::string& content = sim::kUpdatePackage) {
    std::ofstream(image_dir + "/" + name, std::ios::binary) << content;
    return share.base_url() + "/" + name;
  }
  static sim::FleetOptions Options(const std::string& first, int count, int legacy_every, int impostors) {
    sim::FleetOptions o;
    o.impostors = impostors;
    o.count = count;
    o.first_address = first;
    o.port = kPort;
    o.threads_per_bmc = 2;
    o.legacy_every = legacy_every;
    o.timing.power_on = std::chrono::milliseconds(200);
    o.timing.power_off = std::chrono::milliseconds(150);
    o.timing.graceful_shutdown = std::chrono::milliseconds(300);
    o.timing.restart = std::chrono::milliseconds(400);
    o.timing.job_run = std::chrono::milliseconds(300);
    o.timing.idrac_restart = std::chrono::milliseconds(600);
    o.timing.download = std::chrono::milliseconds(50);
    return o;
  }
  static DiscoveryOptions FastDiscovery() {
    DiscoveryOptions o;
    o.probe_timeout = std::chrono::milliseconds(300);
    o.progress_every = std::chrono::milliseconds(50);
    return o;
  }
  static OperationOptions FastOps() {
    OperationOptions o;
    o.poll_interval = std::chrono::milliseconds(40);
    o.task_timeout = std::chrono::milliseconds(20000);
    o.restart_timeout = std::chrono::milliseconds(20000);
    o.lc_ready_timeout = std::chrono::milliseconds(5000);
    return o;
  }
  static PowerOptions Fast() {
    PowerOptions p;
    p.poll_interval = std::chrono::milliseconds(25);
    p.restart_observe = std::chrono::milliseconds(5000);
    p.settle_timeout = std::chrono::milliseconds(10000);
    return p;
  }
  agent::Assignment AssignmentFor(const std::string& address, const std::string& kind,
                                  const std::string& params) {
    agent::Assignment a;
    a.task_id = "00000000-0000-0000-0000-0000000000aa";
    a.step_kind = kind;
    a.target = "idrac:" + address + ":" + std::to_string(kPort);
    a.params_json = params;
    a.credentials = {"root", "calvin"};
    a.tls.pinned_sha256 = fleet.FingerprintOf(address);
    return a;
  }
  agent::StepOutcome Run(agent::RecordingStepContext& ctx) {
    const auto* fn = steps.Find(ctx.assignment().step_kind);
    REQUIRE(fn != nullptr);
    return (*fn)(ctx);
  }
  sim::Bmc& Bmc(const std::string& address) { return *fleet.Find(address); }
};

}  // namespace dcops::idrac
