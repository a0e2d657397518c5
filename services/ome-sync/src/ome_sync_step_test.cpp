// inventory.ome_sync against the OME simulator (HTTPS on loopback, pinned), with a recording
// step context standing in for the dispatcher's stream.
#include "ome_sync_step.hpp"

#include <catch2/catch.hpp>
#include <rapidjson/document.h>

#include <set>

#include "dcops/agent/recording_context.hpp"
#include "dcops/http/transport.hpp"
#include "ome_server.hpp"

namespace dcops::omesync {
namespace {

struct Rig {
  sim::ome::Model model;
  sim::ome::Server server;
  http::CurlTransport transport;
  http::Client http{http::ClientOptions{}, transport, SystemClock::Instance()};
  std::string address;
  Rig(const char* ip, int servers, int cap = 100)
      : model(Options(servers, cap)), server(model, ip, 18446), address(std::string(ip) + ":18446") {
    REQUIRE(server.Start().empty());
  }
  static sim::ome::Options Options(int servers, int cap) {
    sim::ome::Options o;
    o.servers = servers;
    o.chassis = 2;
    o.session_cap = cap;
    return o;
  }
  agent::Assignment Assignment(const std::string& params = R"("page_size":40)") const {
    agent::Assignment a;
    a.task_id = "t1";
    a.step_kind = "inventory.ome_sync";
    a.target = "ome:e1";
    a.params_json = "{" + params + R"(,"_endpoint":{"id":"e1","address":")" + address + R"("}})";
    a.credentials = {"admin", "ome-pass"};
    a.tls.pinned_sha256 = server.fingerprint();
    return a;
  }
};

rapidjson::Document Json(const std::string& s) {
  rapidjson::Document d;
  d.Parse(s.c_str());
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

TEST_CASE("An OME sync streams every server in batches and logs out", "[ome_sync][net]") {
  Rig rig("127.0.76.1", 100);
  agent::RecordingStepContext ctx(rig.Assignment(), SystemClock::Instance());
  auto out = RunOmeSync(ctx, rig.http);
  REQUIRE(out.kind == agent::StepOutcome::Kind::kSucceeded);
  auto result = Json(out.result_json);
  CHECK(result["devices"].GetInt() == 100);
  CHECK(result["total"].GetInt() == 100);  // the filter left the 2 chassis out
  CHECK(result["batches"].GetInt() == 3);  // 40 + 40 + 20
  CHECK(result["failed"].Empty());
  REQUIRE(ctx.inventory().size() == 3);
  std::set<std::string> tags;
  for (const auto& b : ctx.inventory()) {
    CHECK(b.kind == "ome.devices");
    auto batch = Json(b.json);
    for (const auto& d : batch.GetArray()) tags.insert(d["service_tag"].GetString());
  }
  CHECK(tags.size() == 100);
  auto first = Json(ctx.inventory()[0].json);
  // Device 0 of the simulator: powered off (every 7th), warning (every 11th).
  CHECK(std::string(first[0]["bmc_address"].GetString()) == "127.0.120.1");
  CHECK(std::string(first[0]["power_state"].GetString()) == "Off");
  CHECK(std::string(first[0]["health"].GetString()) == "Warning");
  CHECK(first[0]["ome_device_id"].IsInt());
  CHECK(rig.model.SessionCount() == 0);
  CHECK(ctx.progress().back() == 99);
}

TEST_CASE("An OME sync keeps the devices it can read and reports the ones it cannot", "[ome_sync][net]") {
  Rig rig("127.0.76.2", 30);
  const auto devices = rig.model.AllDevices();
  const int broken = devices[5].id;  // a server (the 2 chassis come first)
  rig.model.GarbleDevice(broken);
  agent::RecordingStepContext ctx(rig.Assignment(), SystemClock::Instance());
  auto out = RunOmeSync(ctx, rig.http);
  REQUIRE(out.kind == agent::StepOutcome::Kind::kSucceeded);
  auto result = Json(out.result_json);
  CHECK(result["devices"].GetInt() == 29);
  REQUIRE(result["failed"].Size() == 1);
  CHECK(result["failed"][0]["id"].GetInt() == broken);
  CHECK(std::string(result["failed"][0]["error"].GetString()).find("DeviceServiceTag") != std::string::npos);
  REQUIRE_FALSE(ctx.events().empty());
  CHECK(ctx.events()[0].find(std::to_string(broken)) != std::string::npos);
}

TEST_CASE("An OME sync that fails mid-read logs out, and a full OME snoozes it", "[ome_sync][net]") {
  Rig rig("127.0.76.3", 100);
  agent::RecordingStepContext ctx(rig.Assignment(), SystemClock::Instance());
  ctx.FailInventoryFrom(1);  // the lease is lost after the first batch
  auto out = RunOmeSync(ctx, rig.http);
  REQUIRE(out.kind == agent::StepOutcome::Kind::kFailed);
  CHECK(out.error.code == "agent.lease_lost");
  CHECK(rig.model.SessionCount() == 0);

  rig.server.SetFault(sim::ome::Fault::kHtml);
  agent::RecordingStepContext html(rig.Assignment(), SystemClock::Instance());
  out = RunOmeSync(html, rig.http);
  REQUIRE(out.kind == agent::StepOutcome::Kind::kFailed);
  CHECK(out.error.message.find("/api/DeviceService/Devices") == 0);  // an HTML error page, named
  CHECK(html.inventory().empty());
  CHECK(rig.model.SessionCount() == 0);
  rig.server.SetFault(sim::ome::Fault::kNone);

  Rig full("127.0.76.4", 5, 1);
  bool capped = false;
  REQUIRE(full.model.Login("admin", "ome-pass", &capped));  // someone else holds the one session
  agent::RecordingStepContext snoozed(full.Assignment(), SystemClock::Instance());
  out = RunOmeSync(snoozed, full.http);
  CHECK(out.kind == agent::StepOutcome::Kind::kSnoozed);
  CHECK(out.reason.find("CURS1209") != std::string::npos);
}

TEST_CASE("An OME sync refuses bad params and wrong credentials without leaking the password", "[ome_sync][net]") {
  Rig rig("127.0.76.5", 3);
  agent::RecordingStepContext bad(rig.Assignment(R"("page_size":0)"), SystemClock::Instance());
  auto out = RunOmeSync(bad, rig.http);
  REQUIRE(out.kind == agent::StepOutcome::Kind::kFailed);
  CHECK(out.error.message == "params.page_size: must be an integer from 1 to 1000");
  auto a = rig.Assignment();
  a.credentials.password = "Wrong-Secret-42";
  agent::RecordingStepContext denied(a, SystemClock::Instance());
  out = RunOmeSync(denied, rig.http);
  REQUIRE(out.kind == agent::StepOutcome::Kind::kFailed);
  CHECK(out.error.code == "ome.auth");
  CHECK(out.error.message.find("Wrong-Secret-42") == std::string::npos);
}

TEST_CASE("An OME sync with details carries each server's processors, memory, drives and firmware", "[ome_sync][net]") {
  Rig rig("127.0.76.6", 4);
  agent::RecordingStepContext ctx(rig.Assignment(R"("page_size":40,"details":true)"), SystemClock::Instance());
  auto out = RunOmeSync(ctx, rig.http);
  REQUIRE(out.kind == agent::StepOutcome::Kind::kSucceeded);
  REQUIRE(ctx.inventory().size() == 1);
  auto batch = Json(ctx.inventory()[0].json);
  REQUIRE(batch.Size() == 4);
  const auto& server = batch[0];
  CHECK(server["processors"].Size() == 2);
  CHECK(server["memory"].Size() == 4);
  CHECK(server["drives"].Size() == 2);
  CHECK(server["drives"][1]["capacity_bytes"].GetInt64() > 1900000000000);  // "1.82 TB"
  CHECK(server["firmware"].Size() == 3);
  CHECK(Json(out.result_json)["details_failed"].Empty());
}

}  // namespace
}  // namespace dcops::omesync
