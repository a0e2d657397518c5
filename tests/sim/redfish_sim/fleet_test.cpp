// The simulated fleet over real HTTPS, through our own HTTP client: each BMC on its own
// loopback address, sessions with a cap, power actions, broken answers, the control endpoint.
#include "fleet.hpp"

#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <rapidjson/document.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "dcops/common/clock.hpp"
#include "image_share.hpp"
#include "sim_tls.hpp"
#include "dcops/http/client.hpp"

namespace dcops::sim {
namespace {

constexpr int kPort = 18443;

struct Rig {
  Fleet fleet;
  http::CurlTransport transport;
  explicit Rig(const std::string& first, int count = 3) : fleet(Options(first, count)) {
    const std::string error = fleet.Start();
    REQUIRE(error.empty());
  }
  static FleetOptions Options(const std::string& first, int count) {
    FleetOptions o;
    o.count = count;
    o.first_address = first;
    o.port = kPort;
    o.timing.power_on = milliseconds(200);
    o.timing.power_off = milliseconds(100);
    o.timing.restart = milliseconds(200);
    o.threads_per_bmc = 2;
    return o;
  }
  // An HTTP client that trusts exactly this BMC's certificate.
  http::Response Send(const std::string& address, http::Method method, const std::string& path,
                      const std::string& body = "", const http::Headers& headers = {},
                      bool basic = true) {
    http::ClientOptions o;
    o.retry.max_attempts = 1;
    o.tls.pinned_sha256 = fleet.FingerprintOf(address);
    http::Client client(o, transport, SystemClock::Instance());
    http::Request req;
    req.method = method;
    req.url = "https://" + address + ":" + std::to_string(kPort) + path;
    req.body = body;
    req.headers = headers;
    if (basic) req.basic_auth = http::BasicAuth{"root", "calvin"};
    auto r = client.Execute(req);
    REQUIRE(r.ok());
    return *r;
  }
  rapidjson::Document Control(const std::string& path) {
    http::ClientOptions o;
    http::Client client(o, transport, SystemClock::Instance());
    http::Request req;
    req.url = "http://127.0.0.1:" + std::to_string(fleet.control_port()) + path;
    auto r = client.Execute(req);
    REQUIRE(r.ok());
    rapidjson::Document doc;
    doc.Parse(r->body.c_str());
    REQUIRE_FALSE(doc.HasParseError());
    return doc;
  }
};

std::string Field(const std::string& json, const char* key) {
  rapidjson::Document doc;
  doc.Parse(json.c_str());
  REQUIRE_FALSE(doc.HasParseError());
  REQUIRE(doc.HasMember(key));
  return doc[key].GetString();
}

TEST_CASE("Addresses never leave the loopback range", "[sim]") {
  CHECK(NthLoopbackAddress("127.0.1.1", 0) == "127.0.1.1");
  CHECK(NthLoopbackAddress("127.0.1.250", 10) == "127.0.2.4");
  CHECK(NthLoopbackAddress("127.255.255.250", 10).empty());
  CHECK(NthLoopbackAddress("10.0.0.1", 0).empty());
  CHECK(NthLoopbackAddress("not an address", 0).empty());
  FleetOptions o;
  o.first_address = "192.168.0.1";
  Fleet fleet(o);
  CHECK(fleet.Start().find("would leave 127.0.0.0/8") != std::string::npos);
}

TEST_CASE("A second fleet on taken addresses refuses to start", "[sim][net]") {
  Rig rig("127.0.24.1", 2);
  Fleet second(Rig::Options("127.0.24.2", 1));
  CHECK(second.Start() == "127.0.24.2:18443 is already in use (another simulator?)");
}

TEST_CASE("Each BMC has its own address, identity and certificate", "[sim][net]") {
  Rig rig("127.0.20.1");
  auto a = rig.Send("127.0.20.1", http::Method::kGet, "/redfish/v1", "", {}, false);
  auto b = rig.Send("127.0.20.2", http::Method::kGet, "/redfish/v1", "", {}, false);
  REQUIRE(a.status == 200);
  rapidjson::Document da, db;
  da.Parse(a.body.c_str());
  db.Parse(b.body.c_str());
  const std::string tag_a = da["Oem"]["Dell"]["ServiceTag"].GetString();
  CHECK(tag_a.size() == 7);
  CHECK(tag_a != db["Oem"]["Dell"]["ServiceTag"].GetString());
  CHECK(rig.fleet.FingerprintOf("127.0.20.1") != rig.fleet.FingerprintOf("127.0.20.2"));
  auto sys = rig.Send("127.0.20.1", http::Method::kGet, "/redfish/v1/Systems/System.Embedded.1");
  CHECK(Field(sys.body, "SKU") == tag_a);
  CHECK(Field(sys.body, "PowerState") == "On");
  auto anonymous = rig.Send("127.0.20.1", http::Method::kGet, "/redfish/v1/Systems", "", {}, false);
  CHECK(anonymous.status == 401);
}

TEST_CASE("Sessions: X-Auth-Token works, the ninth session gets 503 RAC0218", "[sim][net]") {
  Rig rig("127.0.21.1", 1);
  const std::string login = R"({"UserName":"root","Password":"calvin"})";
  std::vector<std::string> locations;
  std::string token;
  for (int i = 0; i < 8; ++i) {
    auto r = rig.Send("127.0.21.1", http::Method::kPost, "/redfish/v1/SessionService/Sessions",
                      login, {{"Content-Type", "application/json"}}, false);
    REQUIRE(r.status == 201);
    token = r.Header("X-Auth-Token");
    locations.push_back(r.Header("Location"));
  }
  auto ninth = rig.Send("127.0.21.1", http::Method::kPost, "/redfish/v1/SessionService/Sessions",
                        login, {{"Content-Type", "application/json"}}, false);
  CHECK(ninth.status == 503);
  CHECK(ninth.body.find("RAC0218") != std::string::npos);
  auto with_token = rig.Send("127.0.21.1", http::Method::kGet, "/redfish/v1/Systems", "",
                             {{"X-Auth-Token", token}}, false);
  CHECK(with_token.status == 200);
  CHECK(rig.Send("127.0.21.1", http::Method::kDelete, locations.back(), "",
                 {{"X-Auth-Token", token}}, false).status == 204);
  auto gone = rig.Send("127.0.21.1", http::Method::kGet, "/redfish/v1/Systems", "",
                       {{"X-Auth-Token", token}}, false);
  CHECK(gone.status == 401);
  auto bad = rig.Send("127.0.21.1", http::Method::kPost, "/redfish/v1/SessionService/Sessions",
                      R"({"UserName":"root","Password":"nope"})", {}, false);
  CHECK(bad.status == 401);
  auto fleet = rig.Control("/control/bmcs");
  CHECK(fleet[0]["counters"]["sessions_high"].GetInt() == 8);
  CHECK(fleet[0]["counters"]["sessions_refused"].GetInt() == 1);
}

TEST_CASE("Power actions over Redfish, counted by the control endpoint", "[sim][net]") {
  Rig rig("127.0.22.1", 2);
  const std::string reset = "/redfish/v1/Systems/System.Embedded.1/Actions/ComputerSystem.Reset";
  auto r = rig.Send("127.0.22.1", http::Method::kPost, reset, R"({"ResetType":"ForceRestart"})",
                    {{"Content-Type", "application/json"}});
  CHECK(r.status == 204);
  auto on = rig.Send("127.0.22.2", http::Method::kPost, reset, R"({"ResetType":"On"})");
  CHECK(on.status == 409);
  CHECK(on.body.find("PSU501") != std::string::npos);
  auto junk = rig.Send("127.0.22.2", http::Method::kPost, reset, "{not json");
  CHECK(junk.status == 400);
  auto fleet = rig.Control("/control/bmcs");
  REQUIRE(fleet.Size() == 2);
  CHECK(std::string(fleet[0]["address"].GetString()) == "127.0.22.1");
  CHECK(fleet[0]["counters"]["effective_resets"].GetInt() == 1);
  CHECK(fleet[0]["counters"]["resets_by_type"]["ForceRestart"].GetInt() == 1);
  CHECK(fleet[1]["counters"]["effective_resets"].GetInt() == 0);
  CHECK(fleet[1]["counters"]["refused_actions"].GetInt() == 1);
  CHECK(fleet[0]["counters"]["requests"].GetInt() >= 1);
}

TEST_CASE("Injected faults: HTML pages, truncated JSON, not-ready answers", "[sim][net]") {
  Rig rig("127.0.23.1", 1);
  Bmc* bmc = rig.fleet.Find("127.0.23.1");
  REQUIRE(bmc != nullptr);
  Faults f;
  f.mode = Mode::kHtml;
  bmc->SetFaults(f);
  auto html = rig.Send("127.0.23.1", http::Method::kGet, "/redfish/v1/Systems/System.Embedded.1");
  CHECK(html.Header("Content-Type").find("text/html") != std::string::npos);
  f.mode = Mode::kTruncated;
  bmc->SetFaults(f);
  auto cut = rig.Send("127.0.23.1", http::Method::kGet, "/redfish/v1/Systems/System.Embedded.1");
  rapidjson::Document doc;
  doc.Parse(cut.body.c_str());
  CHECK(doc.HasParseError());
  f.mode = Mode::kNotReady;
  bmc->SetFaults(f);
  auto busy = rig.Send("127.0.23.1", http::Method::kGet, "/redfish/v1/Systems");
  CHECK(busy.status == 503);
  CHECK(busy.body.find("SYS518") != std::string::npos);
}

TEST_CASE("SimpleUpdate fetches its package from the share: a package is scheduled, a missing file fails with SUP0106", "[sim][net]") {
  const std::string dir = "/tmp/dcops-image-share-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/BIOS_8T4P1_WN64_1.13.2.EXE") << kUpdatePackage;
  ImageShare share;
  REQUIRE(share.Start("127.0.27.200", 0, dir).empty());
  FleetOptions o = Rig::Options("127.0.27.1", 2);
  o.timing.download = milliseconds(0);
  Fleet fleet(o);
  REQUIRE(fleet.Start().empty());
  auto post = [&](const std::string& address, const std::string& file) {
    http::ClientOptions co;
    co.retry.max_attempts = 1;
    co.tls.pinned_sha256 = fleet.FingerprintOf(address);
    http::CurlTransport transport;
    http::Client c(co, transport, SystemClock::Instance());
    http::Request req;
    req.method = http::Method::kPost;
    req.url = "https://" + address + ":" + std::to_string(kPort) +
              "/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate";
    req.body = R"({"ImageURI":")" + share.base_url() + "/" + file + R"("})";
    req.basic_auth = http::BasicAuth{"root", "calvin"};
    auto r = c.Execute(req);
    REQUIRE(r.ok());
    REQUIRE(r->status == 202);
    const std::string task = r->Header("Location");
    return task.substr(task.rfind('/') + 1);
  };
  const std::string good = post("127.0.27.1", "BIOS_8T4P1_WN64_1.13.2.EXE");
  const std::string missing = post("127.0.27.2", "BIOS_8T4P1_WN64_9.9.9.EXE");
  Bmc* a = fleet.Find("127.0.27.1");
  Bmc* b = fleet.Find("127.0.27.2");
  // The fetch runs on the simulator's own threads: wait for the jobs to leave Downloading.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  auto state = [](Bmc* bmc, const std::string& job) { return bmc->Job(job, std::chrono::steady_clock::now())->state; };
  while ((state(a, good) == "Downloading" || state(b, missing) == "Downloading") &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));  // a poll of the condition above
  }
  CHECK(state(a, good) == "Scheduled");  // a BIOS package waits for the next reboot
  CHECK(a->counters().images_fetched == 1);
  CHECK(a->counters().image_bytes > 2);
  const auto failed = b->Job(missing, std::chrono::steady_clock::now());
  CHECK(failed->state == "Failed");
  CHECK(failed->message_id == "SUP0106");
  CHECK(b->counters().image_fetch_failures == 1);
  fleet.Stop();
  share.Stop();  // the share counts a request once its answer is out: read its counts after
  CHECK(share.files_served() == 1);
  CHECK(share.not_found() == 1);
  std::filesystem::remove_all(dir);
}

TEST_CASE("The simulator fetches images from loopback addresses only, over http or https", "[sim][net]") {
  CHECK(FetchImage("http://repo.example.com/BIOS.EXE").kind == FetchOutcome::Kind::kUnreachable);
  CHECK(FetchImage("http://repo.example.com/BIOS.EXE").detail.find("loopback only") != std::string::npos);
  // Names that merely start like a loopback address are names, resolved elsewhere.
  CHECK(FetchImage("http://127.example.com/BIOS.EXE").detail.find("loopback only") != std::string::npos);
  CHECK(FetchImage("http://127.0.0.1@repo.example.com/BIOS.EXE").detail.find("loopback only") != std::string::npos);
  CHECK(FetchImage("nfs://127.0.0.1/share/BIOS.EXE").kind == FetchOutcome::Kind::kUnreachable);
  // Nothing listens on the discard port: the transfer fails, it is not a missing file.
  const FetchOutcome closed = FetchImage("http://127.0.0.1:9/BIOS.EXE");
  CHECK(closed.kind == FetchOutcome::Kind::kUnreachable);
  CHECK_FALSE(closed.detail.empty());

  // HTTPS with a self-signed certificate: fetched, as an iDRAC does by default.
  const std::string dir = "/tmp/dcops-image-tls-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  const std::string package = kUpdatePackage;
  std::ofstream(dir + "/BIOS_8T4P1_WN64_1.13.2.EXE") << package;
  std::string fingerprint;
  auto server = SelfSignedServer("127.0.27.201", "share", &fingerprint);
  REQUIRE(server.ok());
  REQUIRE((*server)->set_mount_point("/", dir));
  const int port = (*server)->bind_to_any_port("127.0.27.201");
  REQUIRE(port > 0);
  std::thread serving([&] { (*server)->listen_after_bind(); });
  while (!(*server)->is_running()) std::this_thread::yield();
  const FetchOutcome tls = FetchImage(fmt::format("HTTPS://127.0.27.201:{}/BIOS_8T4P1_WN64_1.13.2.EXE", port));
  const FetchOutcome missing = FetchImage(fmt::format("https://127.0.27.201:{}/BIOS_8T4P1_WN64_9.9.9.EXE", port));
  (*server)->stop();
  serving.join();
  std::filesystem::remove_all(dir);
  CHECK(tls.kind == FetchOutcome::Kind::kOk);
  CHECK(tls.head.rfind("MZ", 0) == 0);
  CHECK(tls.bytes == static_cast<long>(package.size()));
  CHECK(missing.kind == FetchOutcome::Kind::kNotFound);
  CHECK(missing.http_status == 404);
}

}  // namespace
}  // namespace dcops::sim
