// inventory.ome_sync against the OME simulator (HTTPS on loopback, pinned), with a recording
// step context standing in for the dispatcher's stream.
#include "ome_sync_step.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <rapidjson/document.h>

#include <set>

#include "dcops/agent/recording_context.hpp"
#include "dcops/http/transport.hpp"
#include "ome_details.hpp"
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

TEST_CASE("An OME sync with details carries each server's components, firmware per instance and OS host name", "[ome_sync][net]") {
  Rig rig("127.0.76.6", 4);
  agent::RecordingStepContext ctx(rig.Assignment(R"("page_size":40,"details":true)"), SystemClock::Instance());
  auto out = RunOmeSync(ctx, rig.http);
  REQUIRE(out.kind == agent::StepOutcome::Kind::kSucceeded);
  REQUIRE(ctx.inventory().size() == 1);
  auto batch = Json(ctx.inventory()[0].json);
  REQUIRE(batch.Size() == 4);
  const auto devices = rig.model.AllDevices();
  for (const auto& server : batch.GetArray()) {
    const auto device = rig.model.Find(server["ome_device_id"].GetInt());
    REQUIRE(device);
    const auto facts = sim::ome::FactsOf(*device);
    INFO(device->id);
    CHECK(server["processors"].Size() == 2);
    CHECK(static_cast<int>(server["memory"].Size()) == facts.dimms);
    REQUIRE(server["drives"].Size() == 2);
    CHECK(std::string(server["drives"][0]["slot"].GetString()) == facts.first_disk_slot);
    CHECK(server["drives"][0]["capacity_bytes"].GetInt64() == facts.first_disk_bytes);
    CHECK(server["drives"][1]["predicted_failure"].GetBool() == facts.second_disk_predicts_failure);
    CHECK(server["controllers"].Size() == 1);
    CHECK(server["nics"].Size() == 4);
    CHECK(server["power_supplies"].Size() == 2);
    CHECK(static_cast<int>(server["firmware"].Size()) == facts.installed_firmware);
    CHECK(std::string(server["hostname"].GetString()) == facts.hostname);
  }
  auto result = Json(out.result_json);
  CHECK(result["details_read"].GetInt() == 4);
  CHECK(result["details_failed"].Empty());
}

TEST_CASE("A server whose details OME cannot give is kept without them, reported, and the sync succeeds", "[ome_sync][net]") {
  Rig rig("127.0.76.7", 6);
  const auto devices = rig.model.AllDevices();
  const int broken = devices[3].id;  // a server (the 2 chassis come first)
  rig.model.FailDetails(broken);
  agent::RecordingStepContext ctx(rig.Assignment(R"("page_size":40,"details":true)"), SystemClock::Instance());
  auto out = RunOmeSync(ctx, rig.http);
  REQUIRE(out.kind == agent::StepOutcome::Kind::kSucceeded);
  auto result = Json(out.result_json);
  CHECK(result["devices"].GetInt() == 6);
  CHECK(result["details_read"].GetInt() == 5);
  REQUIRE(result["details_failed"].Size() == 1);
  CHECK(result["details_failed"][0]["id"].GetInt() == broken);
  CHECK(std::string(result["details_failed"][0]["error"].GetString()).find("CGEN1009") != std::string::npos);
  auto batch = Json(ctx.inventory()[0].json);
  int without = 0;
  for (const auto& server : batch.GetArray()) {
    if (!server.HasMember("processors")) {
      ++without;
      CHECK(server["ome_device_id"].GetInt() == broken);
    }
  }
  CHECK(without == 1);
  bool evented = false;
  for (const auto& e : ctx.events()) evented = evented || e.find(std::to_string(broken) + ": details not read") != std::string::npos;
  CHECK(evented);
  CHECK(rig.model.SessionCount() == 0);
}

TEST_CASE("A sync in which no server's details can be read fails instead of reporting an empty estate", "[ome_sync][net]") {
  Rig rig("127.0.76.8", 3);
  for (const auto& d : rig.model.AllDevices()) rig.model.FailDetails(d.id);
  agent::RecordingStepContext ctx(rig.Assignment(R"("details":true)"), SystemClock::Instance());
  auto out = RunOmeSync(ctx, rig.http);
  REQUIRE(out.kind == agent::StepOutcome::Kind::kFailed);
  CHECK(out.error.code == "ome.details_unreadable");
  CHECK(out.error.message.find("none of the 3 servers") != std::string::npos);
  CHECK(rig.model.SessionCount() == 0);
}

TEST_CASE("A thousand servers with details on one page go as batches under the stream's limit", "[ome_sync][net]") {
  Rig rig("127.0.76.9", 1000);
  agent::RecordingStepContext ctx(rig.Assignment(R"("page_size":1000,"details":true,"details_parallelism":8)"),
                                  SystemClock::Instance());
  auto out = RunOmeSync(ctx, rig.http);
  REQUIRE(out.kind == agent::StepOutcome::Kind::kSucceeded);
  auto result = Json(out.result_json);
  CHECK(result["devices"].GetInt() == 1000);
  CHECK(result["details_read"].GetInt() == 1000);
  std::size_t bytes = 0;
  std::set<int> ids;
  for (const auto& b : ctx.inventory()) {
    CHECK(b.json.size() <= agent::kMaxInventoryBatchBytes);
    bytes += b.json.size();
    const auto batch = Json(b.json);
    for (const auto& server : batch.GetArray()) ids.insert(server["ome_device_id"].GetInt());
  }
  CHECK(bytes > 2 * agent::kMaxInventoryBatchBytes);  // one page really is bigger than a batch
  CHECK(static_cast<int>(ctx.inventory().size()) == result["batches"].GetInt());
  CHECK(ids.size() == 1000);
}

TEST_CASE("Details are read details_parallelism at a time over one session", "[ome_sync][net]") {
  Rig rig("127.0.76.10", 12);
  rig.server.GatherDetails(3);  // the first three are answered only once all three are in flight
  agent::RecordingStepContext ctx(rig.Assignment(R"("details":true,"details_parallelism":3)"), SystemClock::Instance());
  auto out = RunOmeSync(ctx, rig.http);
  REQUIRE(out.kind == agent::StepOutcome::Kind::kSucceeded);
  CHECK(rig.server.max_details_in_flight() == 3);
  CHECK(Json(out.result_json)["details_read"].GetInt() == 12);
  agent::RecordingStepContext bad(rig.Assignment(R"("details":true,"details_parallelism":17)"), SystemClock::Instance());
  out = RunOmeSync(bad, rig.http);
  REQUIRE(out.kind == agent::StepOutcome::Kind::kFailed);
  CHECK(out.error.message == "params.details_parallelism: must be an integer from 1 to 16");
}

TEST_CASE("OME's session limit snoozes the sync whatever status or wording it comes with", "[ome_sync][net]") {
  struct Answer {
    int status;
    const char* id;
    const char* message;
  };
  const Answer answers[] = {
      {400, "CURS1209", "Unable to create a new session because the maximum number of sessions for this user has been reached."},
      {503, "CURS1209", "Unable to create a new session because the maximum number of sessions for this user has been reached."},
      {403, "CSES9999", "The maximum number of API sessions has been reached."}};
  int n = 0;
  for (const auto& answer : answers) {
    INFO(answer.status << " " << answer.id);
    sim::ome::Options o = Rig::Options(2, 1);
    o.session_cap_answer = {answer.status, answer.id, answer.message};
    sim::ome::Model model(o);
    sim::ome::Server server(model, fmt::format("127.0.76.{}", 20 + ++n).c_str(), 18446);
    REQUIRE(server.Start().empty());
    bool capped = false;
    REQUIRE(model.Login("admin", "ome-pass", &capped));  // someone else holds the one session
    http::CurlTransport transport;
    http::Client http{http::ClientOptions{}, transport, SystemClock::Instance()};
    agent::Assignment a;
    a.task_id = "t1";
    a.step_kind = "inventory.ome_sync";
    a.params_json = fmt::format(R"({{"_endpoint":{{"id":"e1","address":"127.0.76.{}:18446"}}}})", 20 + n);
    a.credentials = {"admin", "ome-pass"};
    a.tls.pinned_sha256 = server.fingerprint();
    agent::RecordingStepContext ctx(a, SystemClock::Instance());
    auto out = RunOmeSync(ctx, http);
    CHECK(out.kind == agent::StepOutcome::Kind::kSnoozed);
    CHECK(out.reason.find(answer.message) != std::string::npos);
  }
}

}  // namespace
}  // namespace dcops::omesync
