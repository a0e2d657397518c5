// The dispatcher's /api/v1 against the real migrations on the private PostgreSQL, as the
// dispatcher's database role; the HTTP layer around it only copies fields.
#include "api.hpp"

#include <rapidjson/document.h>

#include <catch2/catch.hpp>

#include "dcops/common/clock.hpp"
#include "test_db.hpp"

namespace dcops::dispatcher {
namespace {

using testing::Exec;
using testing::Scalar;

struct Fixture {
  testing::TestDb tdb;
  db::Connection su = tdb.Connect();
  tls::SecretBox box = *tls::SecretBox::FromKeyBytes(tls::SecretBox::NewHexKey());
  SecretRegistry redact;
  MemorySink sink;
  FakeClock clock;
  Logger log{"test", sink, clock, &redact};
  Api api{"default", "api-token-123", Options(), box, redact, log, "viewer-token-456"};

  db::DbOptions Options() const {
    db::DbOptions o;
    o.dsn = tdb.dsn();
    o.role = "dcops_dispatcher";
    return o;
  }
  ApiResponse Call(const std::string& method, const std::string& path, const std::string& body = "",
                   std::map<std::string, std::string> query = {}) {
    return api.Handle({method, path, std::move(query), "Bearer api-token-123", "alice", body, "", false});
  }
};

rapidjson::Document Json(const ApiResponse& r) {
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

std::string ErrorMessage(const ApiResponse& r) {
  auto d = Json(r);
  REQUIRE(d.HasMember("error"));
  return d["error"]["message"].GetString();
}

TEST_CASE("The API refuses a missing or wrong token, and is off without one", "[api]") {
  Fixture f;
  CHECK(f.api.Handle({"GET", "/api/v1/jobs", {}, "", "", "", "", false}).status == 401);
  CHECK(f.api.Handle({"GET", "/api/v1/jobs", {}, "Bearer api-token-12", "", "", "", false}).status == 401);
  CHECK(f.api.Handle({"GET", "/api/v1/jobs", {}, "api-token-123", "", "", "", false}).status == 401);
  Api off("default", "", f.Options(), f.box, f.redact, f.log);
  auto r = off.Handle({"GET", "/api/v1/jobs", {}, "Bearer ", "", "", "", false});
  CHECK(r.status == 503);
  CHECK(ErrorMessage(r) == "the API is disabled: give the dispatcher DCOPS_API_TOKEN_FILE");
}

TEST_CASE("Jobs are created, read, listed and cancelled through the API", "[api]") {
  Fixture f;
  auto created = f.Call("POST", "/api/v1/jobs",
                        R"({"job_type":"server.power","target_scope":{"bmc_addresses":["127.0.1.1:443"]},
                            "params":{"action":"On"},"priority":5})");
  REQUIRE(created.status == 201);
  const std::string id = Json(created)["id"].GetString();
  CHECK(Scalar(f.su, "SELECT created_via || ' ' || priority FROM jobs WHERE id = $1", {id}) == "dispatcher 5");
  CHECK(Scalar(f.su, "SELECT actor_role FROM audit_log WHERE action = 'job.create' AND object_id = $1", {id}) ==
        "dispatcher:alice");

  auto job = f.Call("GET", "/api/v1/jobs/" + id);
  REQUIRE(job.status == 200);
  CHECK(std::string(Json(job)["status"].GetString()) == "pending");

  auto list = f.Call("GET", "/api/v1/jobs", "", {{"status", "pending"}});
  REQUIRE(list.status == 200);
  CHECK(Json(list)["jobs"].Size() == 1);
  CHECK(Json(f.Call("GET", "/api/v1/jobs", "", {{"status", "running"}}))["jobs"].Size() == 0);

  Exec(f.su, "INSERT INTO job_events(job_id, level, message) VALUES ($1, 'info', 'one'), ($1, 'info', 'two')", {id});
  auto events = Json(f.Call("GET", "/api/v1/jobs/" + id + "/events"));
  REQUIRE(events["events"].Size() >= 2);
  const auto last = events["events"][events["events"].Size() - 1]["id"].GetInt64();
  auto after = Json(f.Call("GET", "/api/v1/jobs/" + id + "/events", "", {{"after", std::to_string(last)}}));
  CHECK(after["events"].Size() == 0);

  auto cancelled = f.Call("POST", "/api/v1/jobs/" + id + "/cancel");
  REQUIRE(cancelled.status == 200);
  CHECK(std::string(Json(cancelled)["result"].GetString()) == "cancelled");
  CHECK(Scalar(f.su, "SELECT status FROM jobs WHERE id = $1", {id}) == "cancelled");
}

TEST_CASE("Bad job requests get 400 with the parameter named, and lose nothing", "[api]") {
  Fixture f;
  auto bad_action = f.Call("POST", "/api/v1/jobs",
                           R"({"job_type":"server.power","target_scope":{"bmc_addresses":["127.0.1.1"]},
                               "params":{"action":"Explode"}})");
  CHECK(bad_action.status == 400);
  CHECK(ErrorMessage(bad_action).find("params.action") == 0);
  auto unknown = f.Call("POST", "/api/v1/jobs", R"({"job_type":"server.teleport","target_scope":{"all_servers":true}})");
  CHECK(unknown.status == 400);
  CHECK(ErrorMessage(unknown) == "job_type: unknown job type \"server.teleport\"");
  auto no_scope = f.Call("POST", "/api/v1/jobs", R"({"job_type":"server.refresh"})");
  CHECK(no_scope.status == 400);
  CHECK(ErrorMessage(no_scope) == "target_scope: is required");
  CHECK(f.Call("POST", "/api/v1/jobs", "{not json").status == 400);
  CHECK(f.Call("POST", "/api/v1/jobs", R"({"job_type":"server.refresh","target_scope":{"all_servers":true},
                                          "priority":"high"})").status == 400);
  auto elsewhere = f.Call("POST", "/api/v1/jobs", R"({"job_type":"server.refresh",
                                                    "target_scope":{"all_servers":true,"site":"lab"}})");
  CHECK(elsewhere.status == 400);
  CHECK(ErrorMessage(elsewhere) == "target_scope.site: this dispatcher serves site default only");
  CHECK(Scalar(f.su, "SELECT count(*) FROM jobs") == "0");

  CHECK(f.Call("GET", "/api/v1/jobs/not-a-uuid").status == 404);
  CHECK(f.Call("GET", "/api/v1/jobs/00000000-0000-4000-8000-000000000000").status == 404);
  CHECK(f.Call("GET", "/api/v1/jobs", "", {{"limit", "0"}}).status == 400);
  CHECK(f.Call("DELETE", "/api/v1/jobs").status == 404);
  CHECK(f.Call("GET", "/api/v1/nothing").status == 404);
}

TEST_CASE("A job of another site is not visible, cancellable or resumable through this site's API", "[api]") {
  Fixture f;
  Exec(f.su, "SELECT dispatcher_v1_site_led('lab', 'dispatcher-lab')");
  const std::string other = Scalar(f.su,
      "SELECT dispatcher_v1_create_job('lab', 'server.refresh', '{\"all_servers\":true}', '{}')");
  CHECK(f.Call("GET", "/api/v1/jobs/" + other).status == 404);
  CHECK(Json(f.Call("GET", "/api/v1/jobs"))["jobs"].Size() == 0);
  // Nor can it be cancelled, resumed or read event by event from here.
  CHECK(f.Call("POST", "/api/v1/jobs/" + other + "/cancel").status == 404);
  CHECK(f.Call("POST", "/api/v1/jobs/" + other + "/resume", R"({"resolution":"retry"})").status == 404);
  CHECK(f.Call("GET", "/api/v1/jobs/" + other + "/events").status == 404);
  CHECK(Scalar(f.su, "SELECT cancel_requested_at IS NULL FROM jobs WHERE id = $1", {other}) == "t");
}

TEST_CASE("Credential sets are stored sealed and listed without their secret", "[api]") {
  Fixture f;
  auto put = f.Call("PUT", "/api/v1/credential-sets/idrac-lab",
                    R"({"kind":"idrac","username":"root","password":"s3cret-Pa55"})");
  REQUIRE(put.status == 200);
  const std::string id = Json(put)["id"].GetString();
  // Sealed with the site key, bound to its name.
  const std::string hex = Scalar(f.su, "SELECT encode(ciphertext, 'hex') FROM credential_sets WHERE id = $1", {id});
  std::string sealed;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) sealed += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  CHECK(*f.box.Open(sealed, "idrac-lab") == "s3cret-Pa55");

  auto list = f.Call("GET", "/api/v1/credential-sets");
  REQUIRE(list.status == 200);
  CHECK(list.body.find("s3cret-Pa55") == std::string::npos);
  auto d = Json(list);
  REQUIRE(d["credential_sets"].Size() == 1);
  CHECK(d["credential_sets"][0]["has_secret"].GetBool());
  CHECK(std::string(d["credential_sets"][0]["username"].GetString()) == "root");
  for (const auto& line : f.sink.lines()) CHECK(line.find("s3cret-Pa55") == std::string::npos);
  CHECK(f.redact.Scrub("pw s3cret-Pa55") == "pw [REDACTED]");

  auto bad_kind = f.Call("PUT", "/api/v1/credential-sets/x", R"({"kind":"ipmi","username":"u","password":"p"})");
  CHECK(bad_kind.status == 400);
  CHECK(ErrorMessage(bad_kind) == "kind: must be one of idrac, redfish, vcenter, esxi, ome, zfs");
  CHECK(f.Call("PUT", "/api/v1/credential-sets/-bad", R"({"kind":"idrac","password":"p"})").status == 400);
  CHECK(f.Call("PUT", "/api/v1/credential-sets/x", R"({"kind":"idrac","username":"u"})").status == 400);
}

TEST_CASE("Queue depth counts the site's unfinished steps by state", "[api]") {
  Fixture f;
  const std::string job = Scalar(f.su,
      "SELECT dispatcher_v1_create_job('default', 'server.refresh', '{\"bmc_addresses\":[\"127.0.1.1\"]}', '{}')");
  Exec(f.su, "SELECT dispatcher_v1_plan_job($1, '[{\"key\":\"a\",\"kind\":\"server.refresh\",\"target\":\"idrac:127.0.1.1\"},"
             "{\"key\":\"b\",\"kind\":\"server.refresh\",\"target\":\"idrac:127.0.1.2\",\"depends_on\":[\"a\"]}]')", {job});
  auto depth = f.api.QueueDepth();
  REQUIRE(depth.ok());
  CHECK((*depth)["ready"] == 1);
  CHECK((*depth)["blocked"] == 1);
  CHECK((*depth)["running"] == 0);
}

TEST_CASE("Agents of the site are listed", "[api]") {
  Fixture f;
  Exec(f.su, "SELECT dispatcher_v1_register_agent('w1', 'default', 'idrac-worker', '0.1', 'h', 8, '{server.power}')");
  Exec(f.su, "SELECT dispatcher_v1_register_agent('w2', 'lab', 'idrac-worker', '0.1', 'h', 8, '{server.power}')");
  auto d = Json(f.Call("GET", "/api/v1/agents"));
  REQUIRE(d["agents"].Size() == 1);
  CHECK(std::string(d["agents"][0]["id"].GetString()) == "w1");
  CHECK(std::string(d["agents"][0]["status"].GetString()) == "online");
}

// An open identity conflict of `site` (rows written as the resolver would write them).
std::string AddConflict(db::Connection& su, const std::string& site, const std::string& kind,
                        const std::string& subject, const std::string& server_ids, int minutes_ago) {
  return Scalar(su,
      "INSERT INTO server_identity_conflicts(site, kind, subject, message, server_ids, evidence, last_seen_at) "
      "VALUES ($1, $2, $3, 'two servers claim ' || $3, $4::uuid[], '{\"seen\":\"test\"}', "
      "now() - make_interval(mins => $5::int)) RETURNING id",
      {site, kind, subject, server_ids, std::to_string(minutes_ago)});
}

TEST_CASE("Identity conflicts of the site are listed by status, newest first", "[api][identity]") {
  Fixture f;
  const std::string a = Scalar(f.su, "INSERT INTO servers(service_tag) VALUES ('AAA1111') RETURNING id");
  const std::string b = Scalar(f.su, "INSERT INTO servers(service_tag) VALUES ('BBB2222') RETURNING id");
  const std::string pair = "{" + a + "," + b + "}";
  const std::string older = AddConflict(f.su, "default", "address_claimed", "address:127.0.1.4", pair, 30);
  const std::string newer = AddConflict(f.su, "default", "might_be_same", "serial:SN-1", pair, 5);
  const std::string closed = AddConflict(f.su, "default", "evidence_disagrees", "tag:AAA1111", pair, 1);
  Exec(f.su, "UPDATE server_identity_conflicts SET status = 'dismissed' WHERE id = $1", {closed});
  AddConflict(f.su, "lab", "address_claimed", "address:127.0.1.5", pair, 1);

  auto open = f.Call("GET", "/api/v1/identity-conflicts");
  REQUIRE(open.status == 200);
  auto d = Json(open);
  REQUIRE(d["identity_conflicts"].IsArray());
  REQUIRE(d["identity_conflicts"].Size() == 2);
  const auto& first = d["identity_conflicts"][0];
  CHECK(std::string(first["id"].GetString()) == newer);
  CHECK(std::string(d["identity_conflicts"][1]["id"].GetString()) == older);
  CHECK(std::string(first["kind"].GetString()) == "might_be_same");
  CHECK(std::string(first["subject"].GetString()) == "serial:SN-1");
  CHECK(std::string(first["status"].GetString()) == "open");
  CHECK(std::string(first["message"].GetString()) == "two servers claim serial:SN-1");
  CHECK(first["server_ids"].Size() == 2);
  CHECK(first["host_id"].IsNull());
  CHECK(first["seen_count"].GetInt() == 1);
  CHECK(first["last_seen_at"].IsString());

  CHECK(Json(f.Call("GET", "/api/v1/identity-conflicts", "", {{"status", "all"}}))["identity_conflicts"].Size() == 3);
  auto dismissed = Json(f.Call("GET", "/api/v1/identity-conflicts", "", {{"status", "dismissed"}}));
  REQUIRE(dismissed["identity_conflicts"].Size() == 1);
  CHECK(std::string(dismissed["identity_conflicts"][0]["id"].GetString()) == closed);
  CHECK(Json(f.Call("GET", "/api/v1/identity-conflicts", "", {{"limit", "1"}}))["identity_conflicts"].Size() == 1);

  auto bad_status = f.Call("GET", "/api/v1/identity-conflicts", "", {{"status", "pending"}});
  CHECK(bad_status.status == 400);
  CHECK(ErrorMessage(bad_status).rfind("status: ", 0) == 0);
  auto bad_limit = f.Call("GET", "/api/v1/identity-conflicts", "", {{"limit", "0"}});
  CHECK(bad_limit.status == 400);
  CHECK(ErrorMessage(bad_limit) == "limit: must be an integer between 1 and 1000");
}

TEST_CASE("An identity conflict is resolved through the API once, by the caller", "[api][identity]") {
  Fixture f;
  const std::string a = Scalar(f.su, "INSERT INTO servers(service_tag, bmc_address) VALUES ('AAA1111', '127.0.1.4') RETURNING id");
  const std::string b = Scalar(f.su, "INSERT INTO servers(service_tag) VALUES ('BBB2222') RETURNING id");
  const std::string c = Scalar(f.su, "INSERT INTO servers(service_tag) VALUES ('CCC3333') RETURNING id");
  const std::string id = AddConflict(f.su, "default", "address_claimed", "address:127.0.1.4", "{" + a + "," + b + "}", 0);
  const std::string path = "/api/v1/identity-conflicts/" + id + "/resolve";

  // Refused before anything changes, with the field named.
  auto not_json = f.Call("POST", path, "{not json");
  CHECK(not_json.status == 400);
  CHECK(ErrorMessage(not_json) == "body: must be a JSON object");
  auto no_action = f.Call("POST", path, R"({"server_id":")" + b + "\"}");
  CHECK(no_action.status == 400);
  CHECK(ErrorMessage(no_action) == "action: is required (dismiss, merge, link, unlink, assign or accept)");
  auto number = f.Call("POST", path, R"({"action":"assign","server_id":7})");
  CHECK(number.status == 400);
  CHECK(ErrorMessage(number) == "server_id: must be a string");
  auto not_uuid = f.Call("POST", path, R"({"action":"assign","server_id":"server-b"})");
  CHECK(not_uuid.status == 400);
  CHECK(ErrorMessage(not_uuid) == "server_id: must be a server UUID");
  auto bad_action = f.Call("POST", path, R"({"action":"explode"})");
  CHECK(bad_action.status == 400);
  CHECK(ErrorMessage(bad_action).rfind("action: ", 0) == 0);
  auto stranger = f.Call("POST", path, R"({"action":"assign","server_id":")" + c + "\"}");
  CHECK(stranger.status == 400);
  CHECK(ErrorMessage(stranger).rfind("server_id: ", 0) == 0);
  auto missing = f.Call("POST", path, R"({"action":"assign"})");
  CHECK(missing.status == 400);
  CHECK(ErrorMessage(missing).rfind("server_id: ", 0) == 0);
  CHECK(f.Call("POST", "/api/v1/identity-conflicts/not-a-uuid/resolve", R"({"action":"dismiss"})").status == 404);
  auto unknown = f.Call("POST", "/api/v1/identity-conflicts/00000000-0000-4000-8000-000000000000/resolve",
                        R"({"action":"dismiss"})");
  CHECK(unknown.status == 404);
  CHECK(ErrorMessage(unknown).rfind("conflict: ", 0) == 0);
  CHECK(f.Call("GET", path).status == 404);
  CHECK(Scalar(f.su, "SELECT status FROM server_identity_conflicts WHERE id = $1", {id}) == "open");

  auto done = f.Call("POST", path, R"({"action":"assign","server_id":")" + b + R"(","note":"b is the one in rack 4"})");
  REQUIRE(done.status == 200);
  auto d = Json(done);
  CHECK(std::string(d["id"].GetString()) == id);
  CHECK(std::string(d["status"].GetString()) == "resolved");
  CHECK(std::string(d["resolution"]["action"].GetString()) == "assign");
  CHECK(std::string(d["resolution"]["server_id"].GetString()) == b);
  CHECK(std::string(d["resolution"]["note"].GetString()) == "b is the one in rack 4");
  CHECK(Scalar(f.su, "SELECT id FROM servers WHERE bmc_address IS NOT NULL") == b);
  CHECK(Scalar(f.su, "SELECT resolved_by FROM server_identity_conflicts WHERE id = $1", {id}) == "alice");
  CHECK(Scalar(f.su, "SELECT details ->> 'actor' FROM audit_log WHERE action = 'identity.resolve' AND object_id = $1",
               {id}) == "alice");

  auto again = f.Call("POST", path, R"({"action":"dismiss"})");
  CHECK(again.status == 409);
  CHECK(std::string(Json(again)["error"]["code"].GetString()) == "conflict");
  CHECK(Json(f.Call("GET", "/api/v1/identity-conflicts"))["identity_conflicts"].Size() == 0);
}

TEST_CASE("A dismissed identity conflict keeps its servers apart", "[api][identity]") {
  Fixture f;
  const std::string a = Scalar(f.su, "INSERT INTO servers(service_tag) VALUES ('AAA1111') RETURNING id");
  const std::string b = Scalar(f.su, "INSERT INTO servers(service_tag) VALUES ('BBB2222') RETURNING id");
  const std::string id = AddConflict(f.su, "default", "might_be_same", "serial:SN-1", "{" + a + "," + b + "}", 0);
  auto done = f.Call("POST", "/api/v1/identity-conflicts/" + id + "/resolve", R"({"action":"dismiss","server_id":null})");
  REQUIRE(done.status == 200);
  CHECK(std::string(Json(done)["status"].GetString()) == "dismissed");
  CHECK(Scalar(f.su, "SELECT count(*) FROM servers") == "2");
}


TEST_CASE("A body nested tens of thousands of levels deep is refused before anything parses it", "[api][secrets][attack]") {
  Fixture f;
  const std::string deep = std::string(70000, '[') + std::string(70000, ']');
  auto r = f.Call("POST", "/api/v1/jobs",
                  R"({"job_type":"server.power","target_scope":{"bmc_addresses":["127.0.1.1"]},"params":{"x":)" + deep + "}}");
  CHECK(r.status == 400);
  CHECK(ErrorMessage(r) == "body: nested deeper than 64 levels");
  CHECK(Scalar(f.su, "SELECT count(*) FROM jobs") == "0");
  // The API still answers.
  CHECK(f.Call("GET", "/api/v1/jobs").status == 200);
}


TEST_CASE("A NUL inside a field and an actor with control characters are refused, nothing written", "[api][secrets][attack]") {
  Fixture f;
  auto nul = f.Call("POST", "/api/v1/jobs",
                    R"({"job_type":"server.power\u0000.evil","target_scope":{"bmc_addresses":["127.0.1.1"]},"params":{"action":"On"}})");
  CHECK(nul.status == 400);
  CHECK(ErrorMessage(nul) == "body: contains a NUL character (\\u0000)");
  auto forged = f.api.Handle({"POST", "/api/v1/jobs", {}, "Bearer api-token-123", "alice\nlevel=error msg=forged",
                              R"({"job_type":"server.power","target_scope":{"bmc_addresses":["127.0.1.1"]},"params":{"action":"On"}})", "", false});
  CHECK(forged.status == 400);
  CHECK(ErrorMessage(forged) == "actor: 1-100 letters, digits, '.', '_', '-', ':', '@'");
  CHECK(Scalar(f.su, "SELECT count(*) FROM jobs") == "0");
}

TEST_CASE("The viewer token and a viewer's console session read, and only the operator acts", "[api][console]") {
  Fixture f;
  auto viewer = [&](const std::string& method, const std::string& path, const std::string& body = "") {
    return f.api.Handle({method, path, {}, "Bearer viewer-token-456", "mallory", body, "", false});
  };
  CHECK(viewer("GET", "/api/v1/jobs").status == 200);
  CHECK(std::string(Json(viewer("GET", "/api/v1/whoami"))["role"].GetString()) == "viewer");
  auto refused = viewer("POST", "/api/v1/jobs", R"({"job_type":"server.refresh","target_scope":{"all_servers":true}})");
  CHECK(refused.status == 403);
  CHECK(ErrorMessage(refused) == "this needs the operator token; a viewer reads only");
  CHECK(viewer("PUT", "/api/v1/credential-sets/x", R"({"kind":"idrac","username":"u","password":"p"})").status == 403);
  CHECK(Scalar(f.su, "SELECT count(*) FROM jobs") == "0");
  CHECK(Scalar(f.su, "SELECT count(*) FROM credential_sets") == "0");

  auto session = f.api.access().Login("viewer-token-456", "vera");
  REQUIRE(session);
  const std::string cookie = "dcops_session=" + *session;
  CHECK(f.api.Admits("", cookie));
  CHECK_FALSE(f.api.Admits("", "dcops_session=" + std::string(64, '0')));
  CHECK(f.api.Handle({"GET", "/api/v1/jobs", {}, "", "", "", cookie, true}).status == 200);
  CHECK(f.api.Handle({"POST", "/api/v1/jobs", {}, "", "", R"({"job_type":"server.refresh","target_scope":{"all_servers":true}})",
                      cookie, true}).status == 403);
}

TEST_CASE("An operator's console session acts as its login name, and only with the console's header", "[api][console]") {
  Fixture f;
  auto session = f.api.access().Login("api-token-123", "alice");
  REQUIRE(session);
  const std::string cookie = "dcops_session=" + *session;
  const std::string body = R"({"job_type":"server.refresh","target_scope":{"all_servers":true}})";
  // A form another site's page posts carries the cookie (were SameSite not honoured) but
  // cannot add the header.
  auto forged = f.api.Handle({"POST", "/api/v1/jobs", {}, "", "", body, cookie, false});
  CHECK(forged.status == 403);
  CHECK(ErrorMessage(forged) == "a console request that changes something must send X-Dcops-Console: 1");
  CHECK(Scalar(f.su, "SELECT count(*) FROM jobs") == "0");

  // The actor header is ignored for a session: the login name is the actor.
  auto created = f.api.Handle({"POST", "/api/v1/jobs", {}, "", "somebody-else", body, cookie, true});
  REQUIRE(created.status == 201);
  const std::string id = Json(created)["id"].GetString();
  CHECK(Scalar(f.su, "SELECT actor_role FROM audit_log WHERE action = 'job.create' AND object_id = $1", {id}) ==
        "dispatcher:console:alice");
  auto who = Json(f.api.Handle({"GET", "/api/v1/whoami", {}, "", "", "", cookie, true}));
  CHECK(std::string(who["role"].GetString()) == "operator");
  CHECK(std::string(who["actor"].GetString()) == "console:alice");
  CHECK(std::string(who["site"].GetString()) == "default");

  f.api.access().Logout(cookie);
  CHECK(f.api.Handle({"GET", "/api/v1/jobs", {}, "", "", "", cookie, true}).status == 401);
}

TEST_CASE("The console reads job types with their schemas, one step with its result, and schedules", "[api][console]") {
  Fixture f;
  auto types = Json(f.Call("GET", "/api/v1/job-types"));
  REQUIRE(types["job_types"].IsArray());
  bool power = false;
  for (const auto& t : types["job_types"].GetArray()) {
    const std::string name = t["job_type"].GetString();
    CHECK(name != "bench.noop");  // benchmarks only: never offered to an operator
    if (name == "server.power") {
      power = true;
      CHECK(t["params_schema"]["properties"].HasMember("action"));
      CHECK(t["mutating"].GetBool());
    }
  }
  CHECK(power);

  const std::string job = Scalar(f.su,
      "SELECT dispatcher_v1_create_job('default', 'server.refresh', '{\"bmc_addresses\":[\"127.0.1.1\"]}', '{}')");
  // A safety report's shape as the result: what is read back is the step and its result.
  Exec(f.su, "SELECT dispatcher_v1_plan_job($1, '[{\"key\":\"a\",\"kind\":\"server.refresh\",\"target\":\"idrac:127.0.1.1\"}]')", {job});
  const std::string step = Scalar(f.su, "SELECT id FROM job_tasks WHERE job_id = $1", {job});
  Exec(f.su, "UPDATE job_tasks SET result = '{\"safe\":false,\"verdicts\":[{\"blockers\":[{\"vm_name\":\"render\"}]}]}' WHERE id = $1",
       {step});
  auto got = f.Call("GET", "/api/v1/jobs/" + job + "/steps/" + step);
  REQUIRE(got.status == 200);
  auto d = Json(got);
  CHECK(std::string(d["result"]["verdicts"][0]["blockers"][0]["vm_name"].GetString()) == "render");
  CHECK(std::string(d["target"].GetString()) == "idrac:127.0.1.1");
  // A step of another job, or no step at all: 404, never another job's data.
  const std::string other = Scalar(f.su,
      "SELECT dispatcher_v1_create_job('default', 'server.refresh', '{\"all_servers\":true}', '{}')");
  CHECK(f.Call("GET", "/api/v1/jobs/" + other + "/steps/" + step).status == 404);
  CHECK(f.Call("GET", "/api/v1/jobs/" + job + "/steps/not-a-uuid").status == 404);

  Exec(f.su, "INSERT INTO schedules(site, name, job_type, target_scope, interval_seconds) "
             "VALUES ('default', 'hourly-refresh', 'server.refresh', '{\"all_servers\":true}', 3600), "
             "('lab', 'lab-refresh', 'server.refresh', '{\"all_servers\":true}', 3600)");
  auto schedules = Json(f.Call("GET", "/api/v1/schedules"));
  REQUIRE(schedules["schedules"].Size() == 1);
  CHECK(std::string(schedules["schedules"][0]["name"].GetString()) == "hourly-refresh");
  CHECK(schedules["schedules"][0]["interval_seconds"].GetInt() == 3600);

  // Without the loop's view the limits are an empty list, not an error.
  CHECK(Json(f.Call("GET", "/api/v1/limits"))["limits"].Size() == 0);
}

TEST_CASE("Inventory search finds a server with its host and VMs, flags conflicts, and takes the query literally",
          "[api][console]") {
  Fixture f;
  const std::string server = Scalar(f.su,
      "INSERT INTO servers(service_tag, bmc_address, hostname) VALUES ('SRCH001', '127.0.1.9', 'r740-a') RETURNING id");
  const std::string lonely = Scalar(f.su,
      "INSERT INTO servers(service_tag, hostname) VALUES ('ZZZ9999', 'r740-b') RETURNING id");
  Scalar(f.su, "INSERT INTO servers(site, service_tag, hostname) VALUES ('lab', 'SRCH002', 'lab-box') RETURNING id");
  const std::string vc = Scalar(f.su,
      "INSERT INTO vcenters(site, name, address) VALUES ('default', 'vc1', '127.0.2.1') RETURNING id");
  const std::string host = Scalar(f.su,
      "INSERT INTO vcenter_hosts(vcenter_id, moref, name, server_id, link_evidence) "
      "VALUES ($1, 'host-1', 'esx-a.lab', $2, 'service tag') RETURNING id", {vc, server});
  Exec(f.su, "INSERT INTO vcenter_vms(vcenter_id, host_id, moref, name) VALUES ($1, $2, 'vm-1', 'web-1'), "
             "($1, $2, 'vm-2', 'db-1')", {vc, host});
  AddConflict(f.su, "default", "might_be_same", "tag:SRCH001", "{" + server + "," + lonely + "}", 1);

  auto found = f.Call("GET", "/api/v1/inventory", "", {{"q", "srch00"}});
  REQUIRE(found.status == 200);
  auto d = Json(found);
  REQUIRE(d["servers"].Size() == 1);  // the lab site's SRCH002 is not this site's
  CHECK(std::string(d["servers"][0]["id"].GetString()) == server);
  CHECK(d["servers"][0]["open_conflicts"].GetInt() == 1);
  CHECK(std::string(d["servers"][0]["hosts"][0]["name"].GetString()) == "esx-a.lab");
  REQUIRE(d["hosts"].Size() == 1);  // found through its server
  CHECK(std::string(d["hosts"][0]["server_name"].GetString()) == "r740-a");
  CHECK(d["hosts"][0]["vm_count"].GetInt() == 2);
  CHECK(d["vms"].Size() == 2);  // found through their host
  REQUIRE(d["conflicts"].Size() == 1);
  CHECK(std::string(d["conflicts"][0]["kind"].GetString()) == "might_be_same");

  auto vm = Json(f.Call("GET", "/api/v1/inventory", "", {{"q", "DB-1"}}));
  CHECK(vm["servers"].Size() == 0);
  CHECK(vm["vms"].Size() == 1);
  // '%' and '_' are characters, not wildcards.
  auto literal = Json(f.Call("GET", "/api/v1/inventory", "", {{"q", "%"}}));
  CHECK(literal["servers"].Size() == 0);
  CHECK(literal["vms"].Size() == 0);
  CHECK(Json(f.Call("GET", "/api/v1/inventory", "", {{"q", ""}}))["servers"].Size() == 2);
  CHECK(f.Call("GET", "/api/v1/inventory", "", {{"q", std::string(201, 'a')}}).status == 400);
  CHECK(f.Call("GET", "/api/v1/inventory", "", {{"limit", "0"}}).status == 400);
}

TEST_CASE("Agents are listed with the steps they run", "[api][console]") {
  Fixture f;
  Exec(f.su, "SELECT dispatcher_v1_register_agent('w1', 'default', 'idrac-worker', '0.1', 'h', 8, '{server.refresh}')");
  const std::string job = Scalar(f.su,
      "SELECT dispatcher_v1_create_job('default', 'server.refresh', '{\"bmc_addresses\":[\"127.0.1.1\"]}', '{}')");
  Exec(f.su, "SELECT dispatcher_v1_plan_job($1, '[{\"key\":\"a\",\"kind\":\"server.refresh\",\"target\":\"idrac:127.0.1.1\"}]')", {job});
  Exec(f.su, "UPDATE job_tasks SET status = 'running', lease_owner = 'w1', started_at = now(), progress = 40 "
             "WHERE job_id = $1", {job});
  auto d = Json(f.Call("GET", "/api/v1/agents"));
  REQUIRE(d["agents"].Size() == 1);
  REQUIRE(d["agents"][0]["running_steps"].Size() == 1);
  CHECK(std::string(d["agents"][0]["running_steps"][0]["job_id"].GetString()) == job);
  CHECK(std::string(d["agents"][0]["running_steps"][0]["target"].GetString()) == "idrac:127.0.1.1");
}

}  // namespace
}  // namespace dcops::dispatcher
