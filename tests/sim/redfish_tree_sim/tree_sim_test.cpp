// redfish-tree-sim against both fixture trees, through TreeSim::Handle with a hand-moved clock,
// plus one HTTPS round trip through the real server on 127.0.0.1.
#include "tree_sim.hpp"

#include <httplib.h>
#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <set>
#include <string>

#include "options.hpp"
#include "server.hpp"

namespace dcops::sim::tree {
namespace {

using namespace std::chrono_literals;

constexpr const char* kGenericReset = "/redfish/v1/Systems/1/Actions/Reset";
constexpr const char* kDmtfReset = "/redfish/v1/Systems/437XR1138R2/Actions/ComputerSystem.Reset";

std::string Fixture(const char* name) { return std::string(DCOPS_REDFISH_FIXTURES) + "/" + name; }

std::string Base64(const std::string& in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int bits = 0;
  unsigned buffer = 0;
  for (unsigned char c : in) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(buffer >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (6 - bits)) & 63]);
  while (out.size() % 4 != 0) out.push_back('=');
  return out;
}

SimOptions Options(const char* tree) {
  SimOptions o;
  o.tree = Fixture(tree);
  o.user = "root";
  o.password = "s3cret";
  o.restart = 1500ms;
  o.task = 3000ms;
  return o;
}

rapidjson::Document Parse(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str(), body.size());
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

std::string MessageId(const SimResponse& r) {
  const auto d = Parse(r.body);
  return d["error"]["@Message.ExtendedInfo"][0]["MessageId"].GetString();
}

std::string HeaderOf(const SimResponse& r, const std::string& name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return "";
}

// A simulator with a clock the test moves.
struct Sim {
  std::unique_ptr<TreeSim> sim;
  Clock::time_point now = Clock::time_point{} + 1h;

  explicit Sim(const SimOptions& o) {
    auto created = TreeSim::Create(o);
    if (!created) FAIL(created.error().message);
    sim = std::move(*created);
    sim->SetClock([this] { return now; },
                  [] { return WallClock::time_point{} + std::chrono::seconds(1700000000); });
  }

  SimResponse Call(const std::string& method, const std::string& target,
                   const std::string& body = "", bool basic = true,
                   std::map<std::string, std::string> headers = {}) {
    if (basic) headers["authorization"] = "Basic " + Base64("root:s3cret");
    return sim->Handle(SimRequest{method, target, std::move(headers), body});
  }
  SimResponse Get(const std::string& target) { return Call("GET", target); }
  SimResponse Post(const std::string& target, const std::string& body) {
    return Call("POST", target, body);
  }
  rapidjson::Document Resource(const std::string& uri) {
    const auto body = sim->Resource(uri);
    REQUIRE(body.has_value());
    return Parse(*body);
  }
  std::string Power(const std::string& system) {
    return Resource(system)["PowerState"].GetString();
  }
  rapidjson::Document State() { return Parse(sim->State()); }
};

}  // namespace

TEST_CASE("tree_sim: only the service root answers without credentials", "[tree_sim]") {
  for (const char* tree : {"dmtf-public-rackmount1", "generic-bmc"}) {
    Sim s(Options(tree));
    for (const char* open : {"/redfish", "/redfish/v1", "/redfish/v1/", "/redfish/v1/odata"}) {
      CHECK(s.Call("GET", open, "", false).status == 200);
    }
    const auto denied = s.Call("GET", "/redfish/v1/Systems", "", false);
    CHECK(denied.status == 401);
    CHECK(HeaderOf(denied, "WWW-Authenticate").starts_with("Basic realm="));
    CHECK(s.Call("GET", "/redfish/v1/NoSuchThing", "", false).status == 401);
    auto wrong = s.Call("GET", "/redfish/v1/Systems", "", false,
                        {{"authorization", "Basic " + Base64("root:wrong")}});
    CHECK(wrong.status == 401);
    const auto ok = s.Get("/redfish/v1/Systems/");
    REQUIRE(ok.status == 200);
    CHECK(Parse(ok.body)["Members@odata.count"].GetInt() == 1);
    const auto missing = s.Get("/redfish/v1/NoSuchThing?x=1");
    CHECK(missing.status == 404);
    CHECK(MessageId(missing) == "Base.1.8.ResourceMissingAtURI");
    CHECK(s.State()["unauthorized"].GetInt() == 3);
  }
  Sim dmtf(Options("dmtf-public-rackmount1"));
  const auto metadata = dmtf.Call("GET", "/redfish/v1/$metadata", "", false);
  CHECK(metadata.status == 200);
  CHECK(metadata.content_type == "application/xml");
}

TEST_CASE("tree_sim: sessions on the DMTF tree: login, use, list, logout", "[tree_sim]") {
  Sim s(Options("dmtf-public-rackmount1"));
  const char* sessions = "/redfish/v1/SessionService/Sessions";
  CHECK(s.Call("POST", sessions, R"({"UserName":"root","Password":"nope"})", false).status == 401);
  const auto login = s.Call("POST", sessions, R"({"UserName":"root","Password":"s3cret"})", false);
  REQUIRE(login.status == 201);
  const std::string token = HeaderOf(login, "X-Auth-Token");
  const std::string location = HeaderOf(login, "Location");
  REQUIRE_FALSE(token.empty());
  CHECK(location.starts_with(std::string(sessions) + "/"));
  CHECK(Parse(login.body)["UserName"] == "root");
  CHECK(s.Call("GET", "/redfish/v1/Systems", "", false, {{"x-auth-token", token}}).status == 200);
  const auto list = Parse(s.Call("GET", sessions, "", false, {{"x-auth-token", token}}).body);
  REQUIRE(list["Members"].Size() == 1);
  CHECK(list["Members"][0]["@odata.id"] == location.c_str());
  CHECK(s.State()["sessions_open"].GetInt() == 1);
  CHECK(s.Call("DELETE", location, "", false, {{"x-auth-token", token}}).status == 204);
  CHECK(s.Call("GET", "/redfish/v1/Systems", "", false, {{"x-auth-token", token}}).status == 401);
  const auto state = s.State();
  CHECK(state["sessions_open"].GetInt() == 0);
  CHECK(state["logins"].GetInt() == 1);

  SimOptions session_only = Options("dmtf-public-rackmount1");
  session_only.auth = AuthMode::kSession;
  Sim strict(session_only);
  const auto no_basic = strict.Get("/redfish/v1/Systems");
  CHECK(no_basic.status == 401);
  CHECK(HeaderOf(no_basic, "WWW-Authenticate").empty());

  SimOptions basic_only = Options("dmtf-public-rackmount1");
  basic_only.auth = AuthMode::kBasic;
  Sim basic(basic_only);
  CHECK(basic.Post(sessions, R"({"UserName":"root","Password":"s3cret"})").status == 405);
}

TEST_CASE("tree_sim: the generic BMC has no sessions, only Basic", "[tree_sim]") {
  Sim s(Options("generic-bmc"));
  const auto root = Parse(s.Call("GET", "/redfish/v1", "", false).body);
  CHECK_FALSE(root.HasMember("SessionService"));
  CHECK(s.Post("/redfish/v1/SessionService/Sessions", R"({"UserName":"root","Password":"s3cret"})")
            .status == 404);
  CHECK(s.Call("POST", "/redfish/v1/SessionService/Sessions", "{}", false).status == 401);
  SimOptions session_only = Options("generic-bmc");
  session_only.auth = AuthMode::kSession;
  CHECK_FALSE(TreeSim::Create(session_only).ok());
  // All four firmware entries share "Id": "FW"; only @odata.id tells them apart.
  const auto fw = Parse(s.Get("/redfish/v1/UpdateService/FirmwareInventory").body);
  std::set<std::string> ids;
  for (const auto& m : fw["Members"].GetArray()) {
    const std::string id = m["@odata.id"].GetString();
    ids.insert(id);
    CHECK(Parse(s.Get(id).body)["Id"] == "FW");
  }
  CHECK(ids.size() == 4);
}

TEST_CASE("tree_sim: paging with nextLink, $skip and $top", "[tree_sim]") {
  SimOptions o = Options("generic-bmc");
  o.page_size = 25;
  Sim s(o);
  const std::string entries = "/redfish/v1/Systems/1/LogServices/Log/Entries";
  std::set<std::string> seen;
  std::string next = entries + "/";
  int pages = 0;
  while (!next.empty()) {
    const auto page = s.Get(next);
    REQUIRE(page.status == 200);
    const auto d = Parse(page.body);
    CHECK(d["Members@odata.count"].GetInt() == 80);
    CHECK(d["Members"].Size() <= 25);
    for (const auto& m : d["Members"].GetArray()) seen.insert(m["@odata.id"].GetString());
    next = d.HasMember("Members@odata.nextLink") ? d["Members@odata.nextLink"].GetString() : "";
    if (pages == 0) CHECK(next == entries + "?$skip=25");
    REQUIRE(++pages < 10);
  }
  CHECK(pages == 4);
  CHECK(seen.size() == 80);
  const auto top = Parse(s.Get(entries + "?$skip=78&$top=5").body);
  CHECK(top["Members"].Size() == 2);
  CHECK_FALSE(top.HasMember("Members@odata.nextLink"));
  const auto small = Parse(s.Get(entries + "?%24top=3").body);
  CHECK(small["Members"].Size() == 3);
  CHECK_FALSE(small.HasMember("Members@odata.nextLink"));
  CHECK(s.Get(entries + "?$skip=abc").status == 400);
  // Collections no larger than a page are whole.
  CHECK_FALSE(
      Parse(s.Get("/redfish/v1/Systems/1/Memory").body).HasMember("Members@odata.nextLink"));
}

TEST_CASE("tree_sim: a self-referencing nextLink", "[tree_sim]") {
  SimOptions o = Options("generic-bmc");
  o.page_size = 25;
  o.self_next_links = {"/redfish/v1/Systems/1/LogServices/Log/Entries"};
  Sim s(o);
  const auto first = Parse(s.Get("/redfish/v1/Systems/1/LogServices/Log/Entries").body);
  REQUIRE(first.HasMember("Members@odata.nextLink"));
  const std::string next = first["Members@odata.nextLink"].GetString();
  CHECK(next == "/redfish/v1/Systems/1/LogServices/Log/Entries");
  const auto again = Parse(s.Get(next).body);
  CHECK(again["Members"] == first["Members"]);
  CHECK(again["Members@odata.nextLink"] == first["Members@odata.nextLink"]);
}

TEST_CASE("tree_sim: $expand only where the service root offers it", "[tree_sim]") {
  Sim dmtf(Options("dmtf-public-rackmount1"));
  const auto expanded = Parse(dmtf.Get("/redfish/v1/Systems?$expand=.($levels=1)").body);
  CHECK(expanded["Members"][0]["Id"] == "437XR1138R2");
  const auto star = Parse(dmtf.Get("/redfish/v1/Systems?$expand=*($levels=1)").body);
  CHECK(star["Members"][0].HasMember("PowerState"));
  Sim generic(Options("generic-bmc"));
  const auto plain = Parse(generic.Get("/redfish/v1/Systems?$expand=.").body);
  CHECK_FALSE(plain["Members"][0].HasMember("Id"));
}

TEST_CASE("tree_sim: the generic Reset action is checked against its ActionInfo", "[tree_sim]") {
  Sim s(Options("generic-bmc"));
  const auto refused = s.Post(kGenericReset, R"({"ResetType":"GracefulRestart"})");
  CHECK(refused.status == 400);
  CHECK(MessageId(refused) == "Base.1.8.ActionParameterValueNotInList");
  CHECK(MessageId(s.Post(kGenericReset, "{}")) == "Base.1.8.ActionParameterMissing");
  CHECK(MessageId(s.Post(kGenericReset, "ForceOff")) == "Base.1.8.MalformedJSON");
  CHECK(MessageId(s.Post(kGenericReset, "[]")) == "Base.1.8.MalformedJSON");
  CHECK(s.Power("/redfish/v1/Systems/1") == "On");
  // The conventional URI is not this BMC's target.
  CHECK(s.Post("/redfish/v1/Systems/1/Actions/ComputerSystem.Reset", R"({"ResetType":"ForceOff"})")
            .status == 404);
  CHECK(s.Post("/redfish/v1/Systems/1", R"({"ResetType":"ForceOff"})").status == 405);
  CHECK(s.Get(kGenericReset).status == 405);
  const auto off = s.Post(kGenericReset, R"({"ResetType":"ForceOff"})");
  CHECK(off.status == 204);
  CHECK(off.body.empty());
  CHECK(s.Power("/redfish/v1/Systems/1") == "Off");
  const auto state = s.State();
  CHECK(state["power_state"] == "Off");
  REQUIRE(state["actions"].Size() == 1);
  CHECK(state["actions"][0]["target"] == kGenericReset);
  CHECK(state["actions"][0]["type"] == "#ComputerSystem.Reset");
  CHECK(state["actions"][0]["body"]["ResetType"] == "ForceOff");
  CHECK(s.Post(kGenericReset, R"({"ResetType":"On"})").status == 204);
  CHECK(s.Power("/redfish/v1/Systems/1") == "On");
}

TEST_CASE("tree_sim: a restart is visible unless --invisible-restart", "[tree_sim]") {
  Sim generic(Options("generic-bmc"));
  CHECK(generic.Post(kGenericReset, R"({"ResetType":"ForceRestart"})").status == 204);
  CHECK(generic.Power("/redfish/v1/Systems/1") == "Off");
  generic.now += 1499ms;
  CHECK(generic.Power("/redfish/v1/Systems/1") == "Off");
  generic.now += 1ms;
  CHECK(generic.Power("/redfish/v1/Systems/1") == "On");
  CHECK_FALSE(generic.Resource("/redfish/v1/Systems/1").HasMember("LastResetTime"));

  Sim dmtf(Options("dmtf-public-rackmount1"));
  const std::string system = "/redfish/v1/Systems/437XR1138R2";
  const std::string before = dmtf.Resource(system)["LastResetTime"].GetString();
  CHECK(dmtf.Post(kDmtfReset, R"({"ResetType":"GracefulRestart"})").status == 204);
  CHECK(dmtf.Power(system) == "Off");
  CHECK(dmtf.Resource(system)["LastResetTime"].GetString() != before);
  dmtf.now += 2s;
  CHECK(dmtf.Power(system) == "On");

  SimOptions o = Options("dmtf-public-rackmount1");
  o.invisible_restart = true;
  Sim invisible(o);
  const std::string unchanged = *invisible.sim->Resource(system);
  CHECK(invisible.Post(kDmtfReset, R"({"ResetType":"ForceRestart"})").status == 204);
  CHECK(*invisible.sim->Resource(system) == unchanged);
  invisible.now += 5s;
  CHECK(*invisible.sim->Resource(system) == unchanged);
  CHECK(invisible.State()["actions"].Size() == 1);
}

TEST_CASE("tree_sim: PATCH of the boot override", "[tree_sim]") {
  Sim s(Options("generic-bmc"));
  const std::string system = "/redfish/v1/Systems/1";
  const auto ok = s.Call("PATCH", system,
                         R"({"Boot":{"BootSourceOverrideTarget":"Pxe",)"
                         R"("BootSourceOverrideEnabled":"Once"}})");
  REQUIRE(ok.status == 200);
  CHECK(Parse(ok.body)["Boot"]["BootSourceOverrideTarget"] == "Pxe");
  CHECK(s.Resource(system)["Boot"]["BootSourceOverrideEnabled"] == "Once");
  CHECK(s.Resource(system)["Boot"]["BootSourceOverrideMode"] == "UEFI");  // merged, not replaced
  const auto bad = s.Call("PATCH", system, R"({"Boot":{"BootSourceOverrideTarget":"Floppy"}})");
  CHECK(bad.status == 400);
  CHECK(MessageId(bad) == "Base.1.8.PropertyValueNotInList");
  CHECK(s.Resource(system)["Boot"]["BootSourceOverrideTarget"] == "Pxe");
  CHECK(MessageId(s.Call("PATCH", system, R"({"PowerState":"Off"})")) ==
        "Base.1.8.PropertyNotWritable");
  CHECK(MessageId(s.Call("PATCH", system, R"({"Id":"2"})")) == "Base.1.8.PropertyNotWritable");
  CHECK(MessageId(s.Call("PATCH", system, R"({"Color":"Blue"})")) == "Base.1.8.PropertyUnknown");
  CHECK(MessageId(s.Call("PATCH", system, "{")) == "Base.1.8.MalformedJSON");
  CHECK(s.Call("PATCH", "/redfish/v1/Systems", R"({"Name":"x"})").status == 405);
  // If-Match against @odata.etag.
  const std::string etag = s.Resource(system)["@odata.etag"].GetString();
  CHECK(s.Call("PATCH", system, R"({"HostName":"a"})", true, {{"if-match", "W/\"old\""}}).status ==
        412);
  const auto matched = s.Call("PATCH", system, R"({"HostName":"b"})", true, {{"if-match", etag}});
  CHECK(matched.status == 200);
  CHECK(HeaderOf(matched, "ETag") != etag);
  const auto state = s.State();
  REQUIRE(state["patches"].Size() == 2);
  CHECK(state["patches"][0]["uri"] == system.c_str());
}

TEST_CASE("tree_sim: BIOS settings stay pending until the system resets", "[tree_sim]") {
  Sim s(Options("generic-bmc"));
  const std::string bios = "/redfish/v1/Systems/1/Bios";
  const auto staged =
      s.Call("PATCH", bios + "/SD", R"({"Attributes":{"ProcVirtualization":"Disabled"}})");
  REQUIRE(staged.status == 200);
  CHECK(s.Resource(bios + "/SD")["Attributes"]["ProcVirtualization"] == "Disabled");
  CHECK(s.Resource(bios)["Attributes"]["ProcVirtualization"] == "Enabled");
  CHECK(s.Call("PATCH", bios + "/SD", R"({"Attributes":{"NoSuchKnob":1}})").status == 400);
  CHECK(s.Post(kGenericReset, R"({"ResetType":"ForceOff"})").status == 204);
  CHECK(s.Resource(bios)["Attributes"]["ProcVirtualization"] == "Enabled");       // off is no boot
  CHECK(s.Post(kGenericReset, R"({"ResetType":"ForceRestart"})").status == 204);  // Off -> On
  CHECK(s.Power("/redfish/v1/Systems/1") == "On");
  CHECK(s.Resource(bios)["Attributes"]["ProcVirtualization"] == "Disabled");

  Sim dmtf(Options("dmtf-public-rackmount1"));
  const std::string dbios = "/redfish/v1/Systems/437XR1138R2/Bios";
  REQUIRE(
      dmtf.Call("PATCH", dbios + "/Settings", R"({"Attributes":{"AdminPhone":"555"}})").status ==
      200);
  REQUIRE(dmtf.Post(kDmtfReset, R"({"ResetType":"ForceRestart"})").status == 204);
  CHECK(dmtf.Resource(dbios)["Attributes"]["AdminPhone"] == "");
  dmtf.now += 1500ms;
  CHECK(dmtf.Resource(dbios)["Attributes"]["AdminPhone"] == "555");
}

TEST_CASE("tree_sim: virtual media insert and eject at the manager's own targets", "[tree_sim]") {
  Sim s(Options("generic-bmc"));
  const std::string cd = "/redfish/v1/Managers/bmc/VirtualMedia/CD1";
  CHECK(MessageId(s.Post(cd + "/insert", "{}")) == "Base.1.8.ActionParameterMissing");
  CHECK(s.Post(cd + "/insert", R"({"Image":"https://127.0.0.1/os.iso","Inserted":true})").status ==
        204);
  auto media = s.Resource(cd);
  CHECK(media["Image"] == "https://127.0.0.1/os.iso");
  CHECK(media["Inserted"].GetBool());
  CHECK(media["ConnectedVia"] == "URI");
  const auto again = s.Post(cd + "/insert", R"({"Image":"https://127.0.0.1/other.iso"})");
  CHECK(again.status == 409);
  CHECK(s.Post(cd + "/eject", "{}").status == 204);
  media = s.Resource(cd);
  CHECK(media["Image"].IsNull());
  CHECK_FALSE(media["Inserted"].GetBool());
  CHECK(media["ConnectedVia"] == "NotConnected");
  CHECK(s.Post(cd + "/Actions/VirtualMedia.InsertMedia", R"({"Image":"x"})").status == 404);
}

TEST_CASE("tree_sim: a manager reset makes the whole service answer 503 for a while",
          "[tree_sim]") {
  Sim s(Options("generic-bmc"));
  const char* target = "/redfish/v1/Managers/bmc/Actions/Manager.Reset";
  CHECK(s.Post(target, R"({"ResetType":"ForceOff"})").status == 400);
  CHECK(s.Post(target, R"({"ResetType":"GracefulRestart"})").status == 204);
  const auto down = s.Call("GET", "/redfish/v1", "", false);
  CHECK(down.status == 503);
  CHECK_FALSE(HeaderOf(down, "Retry-After").empty());
  s.now += 1500ms;
  CHECK(s.Call("GET", "/redfish/v1", "", false).status == 200);
}

TEST_CASE("tree_sim: SimpleUpdate: 204 without a TaskService, a Task with one", "[tree_sim]") {
  Sim generic(Options("generic-bmc"));
  const char* target = "/redfish/v1/UpdateService/Actions/SimpleUpdate";
  CHECK(MessageId(generic.Post(target, R"({"TransferProtocol":"HTTP"})")) ==
        "Base.1.8.ActionParameterMissing");
  CHECK(MessageId(
            generic.Post(target, R"({"ImageURI":"ftp://x/fw.bin","TransferProtocol":"FTP"})")) ==
        "Base.1.8.ActionParameterValueNotInList");
  CHECK(generic.Post(target, R"({"ImageURI":"https://127.0.0.1/fw.bin"})").status == 204);
  CHECK(generic.Resource("/redfish/v1/UpdateService/FirmwareInventory/bmc")["Version"] == "2.14.1");

  Sim dmtf(Options("dmtf-public-rackmount1"));
  const auto accepted = dmtf.Post(target, R"({"ImageURI":"https://127.0.0.1/fw.bin"})");
  REQUIRE(accepted.status == 202);
  const std::string task = HeaderOf(accepted, "Location");
  REQUIRE(task.starts_with("/redfish/v1/TaskService/Tasks/"));
  CHECK(Parse(dmtf.Get(task).body)["TaskState"] == "New");
  dmtf.now += 1500ms;
  const auto running = Parse(dmtf.Get(task).body);
  CHECK(running["TaskState"] == "Running");
  CHECK(running["PercentComplete"].GetInt() == 50);
  dmtf.now += 1500ms;
  CHECK(Parse(dmtf.Get(task).body)["TaskState"] == "Completed");
  const auto tasks = Parse(dmtf.Get("/redfish/v1/TaskService/Tasks").body);
  CHECK(tasks["Members@odata.count"].GetInt() == 2);
}

TEST_CASE("tree_sim: options refuse addresses outside 127.0.0.0/8", "[tree_sim]") {
  CHECK(IsLoopback("127.0.3.9"));
  CHECK_FALSE(IsLoopback("10.0.0.1"));
  CHECK_FALSE(IsLoopback("0.0.0.0"));
  const char* argv[] = {"redfish-tree-sim", "--tree",    "x",          "--password-file",
                        "/dev/null",        "--address", "192.168.1.1"};
  const auto parsed = ParseOptions(7, argv);
  REQUIRE_FALSE(parsed.ok());
  CHECK(parsed.error().code == "options.address");
}

TEST_CASE("tree_sim: the HTTPS server and its control endpoint", "[tree_sim]") {
  SimOptions o = Options("generic-bmc");
  o.address = "127.0.0.1";
  o.port = 0;
  auto sim = TreeSim::Create(o);
  REQUIRE(sim.ok());
  Server server(**sim, o);
  const auto started = server.Start();
  REQUIRE(started.ok());
  REQUIRE(server.fingerprint().size() == 64);
  httplib::SSLClient client("127.0.0.1", server.port());
  client.enable_server_certificate_verification(false);
  const auto root = client.Get("/redfish/v1/");
  REQUIRE(root);
  CHECK(root->status == 200);
  CHECK(client.Get("/redfish/v1/Systems/1")->status == 401);
  client.set_basic_auth("root", "s3cret");
  const auto system = client.Get("/redfish/v1/Systems/1/");
  REQUIRE(system);
  CHECK(system->status == 200);
  const auto reset = client.Post(kGenericReset, R"({"ResetType":"ForceOff"})", "application/json");
  REQUIRE(reset);
  CHECK(reset->status == 204);
  httplib::Client control("127.0.0.1", server.control_port());
  const auto state = control.Get("/state");
  REQUIRE(state);
  const auto d = Parse(state->body);
  CHECK(d["power_state"] == "Off");
  CHECK(d["requests"].GetInt() == 4);
  CHECK(d["unauthorized"].GetInt() == 1);
  const auto resource = control.Get("/resource?uri=/redfish/v1/Systems/1");
  REQUIRE(resource);
  CHECK(Parse(resource->body)["PowerState"] == "Off");
  CHECK(control.Get("/resource?uri=/redfish/v1/Nope")->status == 404);
  server.Stop();
}

}  // namespace dcops::sim::tree
