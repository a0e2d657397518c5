// The CLI's commands against a scripted API: what is sent, what is printed, exit codes.
#include "commands.hpp"
#include "render.hpp"

#include <catch2/catch.hpp>
#include <rapidjson/document.h>
#include <deque>
#include <sstream>

namespace dcops::cli {
namespace {

struct SentCall {
  std::string method, path, body;
};

// Answers calls from a script, in order, and records them.
class ScriptedApi final : public ApiTransport {
 public:
  std::deque<Result<std::string>> answers;
  std::vector<SentCall> calls;
  Result<std::string> Call(const std::string& method, const std::string& path, const std::string& body) override {
    calls.push_back({method, path, body});
    REQUIRE_FALSE(answers.empty());
    auto a = answers.front();
    answers.pop_front();
    return a;
  }
};

struct Run {
  ScriptedApi api;
  FakeClock clock;
  std::ostringstream out, err;
  std::istringstream in;
  int operator()(const std::vector<std::string>& argv, bool interactive = false) {
    Terminal t{out, err, in, interactive};
    auto inv = ParseArgs(argv);
    REQUIRE(inv.ok());
    return RunCommand(*inv, api, clock, t);
  }
};

const char* kJobRunning = R"({"id":"0f8fad5b-d9cb-469f-a165-70867728950e","job_type":"server.power","status":"running",
  "progress":50,"steps_total":2,"steps_finished":1,"steps_failed":0,"steps":[
  {"id":"t1","target":"idrac:127.0.1.1:443","status":"succeeded","progress":100,"attempt":1,"max_attempts":5},
  {"id":"t2","target":"idrac:127.0.1.2:443","status":"running","progress":40,"progress_message":"waiting for Off",
   "attempt":1,"max_attempts":5}]})";
const char* kJobDone = R"({"id":"0f8fad5b-d9cb-469f-a165-70867728950e","job_type":"server.power","status":"failed",
  "progress":100,"steps_total":2,"steps_finished":2,"steps_failed":1,"steps":[
  {"id":"t1","target":"idrac:127.0.1.1:443","status":"succeeded","progress":100,"attempt":1,"max_attempts":5},
  {"id":"t2","target":"idrac:127.0.1.2:443","status":"failed","progress":40,"error_message":"BMC said no",
   "attempt":1,"max_attempts":5}]})";
const std::string kId = "0f8fad5b-d9cb-469f-a165-70867728950e";

Result<std::string> J(const char* body) { return std::string(body); }

TEST_CASE("job create sends type, scope and typed params, and prints the id", "[cli]") {
  Run run;
  run.api.answers.push_back(std::string(R"({"id":")") + kId + "\"}");
  CHECK(run({"job", "create", "server.power", "--target", "127.0.1.1:443,127.0.1.2:443", "--param", "action=On",
             "--param", "graceful_timeout_seconds=60", "--priority", "10"}) == 0);
  REQUIRE(run.api.calls.size() == 1);
  CHECK(run.api.calls[0].method == "POST");
  CHECK(run.api.calls[0].path == "/api/v1/jobs");
  CHECK(run.api.calls[0].body ==
        R"({"job_type":"server.power","target_scope":{"bmc_addresses":["127.0.1.1:443","127.0.1.2:443"]},)"
        R"("params":{"action":"On","graceful_timeout_seconds":60},"priority":10})");
  CHECK(run.out.str() == kId + "\n");
}

TEST_CASE("job resume sends the operator's one choice, and watch ends with 3 on a paused job", "[cli]") {
  Run run;
  run.api.answers.push_back(std::string(R"({"result":"running"})"));
  CHECK(run({"job", "resume", kId, "--skip-host"}) == 0);
  REQUIRE(run.api.calls.size() == 1);
  CHECK(run.api.calls[0].method == "POST");
  CHECK(run.api.calls[0].path == "/api/v1/jobs/" + kId + "/resume");
  CHECK(run.api.calls[0].body == R"({"resolution":"skip_host"})");
  CHECK(run.out.str() == "job " + kId + ": running\n");

  Run both;
  CHECK(both({"job", "resume", kId, "--retry", "--evacuate"}) == 2);
  CHECK(both({"job", "resume", kId}) == 2);
  CHECK(both.api.calls.empty());
  CHECK(both.err.str().find("job resume takes one of --retry, --evacuate, --skip-host") != std::string::npos);

  Run watch;
  const std::string paused = std::string(R"({"id":")") + kId + R"(","status":"paused","steps_total":3,"steps_failed":0,)"
                             R"("pause":{"step":"enter:esx-1","error_message":"blocked"},"steps":[]})";
  watch.api.answers.push_back(std::string(R"({"events":[]})"));
  watch.api.answers.push_back(paused);
  // The pause's own event, read in the round after the job was first seen paused.
  watch.api.answers.push_back(std::string(R"({"events":[{"id":7,"level":"warn","message":"job paused at step enter:esx-1"}]})"));
  watch.api.answers.push_back(paused);
  CHECK(watch({"job", "watch", kId}) == 3);
  CHECK(watch.api.calls.size() == 4);
  CHECK(watch.out.str().find("job paused at step enter:esx-1") != std::string::npos);
  CHECK(watch.out.str().find("paused at step enter:esx-1: blocked") != std::string::npos);
}

TEST_CASE("The API's refusal is printed as it was given, with exit code 1", "[cli]") {
  Run run;
  run.api.answers.push_back(MakeError("api.invalid", "params.action: must be one of On, ForceOff"));
  CHECK(run({"job", "create", "server.power", "--target", "all", "--param", "action=Explode"}) == 1);
  CHECK(run.err.str() == "dcops: params.action: must be one of On, ForceOff\n");
}

TEST_CASE("Usage errors never reach the API", "[cli]") {
  Run run;
  CHECK(run({"job", "create", "server.power", "--param", "action=On"}) == 2);  // no target
  CHECK(run({"job", "create", "server.power", "--target", "all", "--param", "action"}) == 2);
  CHECK(run({"job", "watch", "12"}) == 2);
  CHECK(run({"jobs", "--limit", "many"}) == 2);
  CHECK(run({"credentials", "set", "lab", "--kind", "idrac", "--user", "root"}) == 2);  // no --password-stdin
  CHECK(run({"fly"}) == 2);
  CHECK(run.api.calls.empty());
  CHECK(run.err.str().find("dcops: --param action: expected key=value") != std::string::npos);
}

TEST_CASE("job watch prints events and step changes until the job ends", "[cli]") {
  Run run;
  // Each poll reads the events, then the job (which then knows every step they name).
  run.api.answers = {J(R"({"events":[{"id":7,"task_id":"t2","ts":"2026-11-27T06:40:01.1+00:00","level":"info",
                                    "message":"sending ResetType ForceOff"}]})"),
                     J(kJobRunning), J(R"({"events":[]})"), J(kJobDone), J(R"({"events":[]})"), J(kJobDone)};
  CHECK(run({"job", "watch", kId}) == 1);  // the job failed
  const std::string out = run.out.str();
  CHECK(out.find("06:40:01 info  [idrac:127.0.1.2:443] sending ResetType ForceOff\n") != std::string::npos);
  CHECK(out.find("step idrac:127.0.1.2:443 running\n") != std::string::npos);
  CHECK(out.find("step idrac:127.0.1.2:443 failed: BMC said no\n") != std::string::npos);
  CHECK(out.find("progress [##########----------]  50%  1/2 steps\n") != std::string::npos);
  CHECK(out.find("progress [####################] 100%  2/2 steps, 1 failed\n") != std::string::npos);
  CHECK(out.find("job " + kId + " failed: 2 step(s), 1 failed") != std::string::npos);
  REQUIRE(run.api.calls.size() == 6);
  CHECK(run.api.calls[2].path == "/api/v1/jobs/" + kId + "/events?after=7");  // no event twice
  CHECK(run.clock.slept() == std::chrono::milliseconds(500));  // one pause between polls
}

TEST_CASE("A job's summary counts the steps whose effect was not proven", "[cli]") {
  rapidjson::Document job;
  job.Parse(R"({"id":"j","status":"succeeded","steps_total":3,"steps_failed":0,"steps":[
    {"status":"succeeded","outcome":"verified"},{"status":"succeeded","outcome":"unverified"},
    {"status":"succeeded","outcome":null}]})");
  CHECK(JobSummary(job) == "job j succeeded: 3 step(s), 0 failed, 1 unverified");
}

TEST_CASE("job watch prints the events a job's end commits with it, read after the end was seen", "[cli]") {
  Run run;
  // The job ended between the first poll's two reads: its last event was committed with the
  // end, after that poll's events read. The next round reads it.
  run.api.answers = {J(R"({"events":[]})"), J(kJobDone),
                     J(R"({"events":[{"id":9,"task_id":"t2","ts":"2026-11-27T06:40:09.1+00:00","level":"info",
                                    "message":"vCenter incremental sync applied"}]})"),
                     J(kJobDone), J(R"({"events":[]})"), J(kJobDone)};
  CHECK(run({"job", "watch", kId}) == 1);
  CHECK(run.out.str().find("vCenter incremental sync applied") != std::string::npos);
  CHECK(run.api.calls.size() == 6);
  CHECK(run.clock.slept() == std::chrono::milliseconds(0));  // no pause once the job has ended
}

TEST_CASE("job watch rides over a dispatcher that is briefly away", "[cli]") {
  Run run;
  run.api.answers = {MakeError("http.connect", "connecting to 127.0.0.1:8080: refused", true),
                     MakeError("http.connect", "connecting to 127.0.0.1:8080: refused", true),
                     J(R"({"events":[]})"), J(kJobDone), J(R"({"events":[]})"), J(kJobDone)};
  CHECK(run({"job", "watch", kId, "--interval", "100"}) == 1);
  CHECK(run.err.str() == "dcops: connecting to 127.0.0.1:8080: refused; still watching\n");
  CHECK(run.out.str().find("failed: 2 step(s), 1 failed") != std::string::npos);
}

TEST_CASE("An interactive watch redraws its frame in place", "[cli]") {
  Run run;
  run.api.answers = {J(R"({"events":[]})"), J(kJobRunning), J(R"({"events":[]})"), J(kJobDone), J(R"({"events":[]})"),
                     J(kJobDone)};
  CHECK(run({"job", "watch", kId}, true) == 1);
  const std::string out = run.out.str();
  CHECK(out.find("\x1b[3A\x1b[J") != std::string::npos);  // the 3-line frame is replaced
  CHECK(out.find("[########------------]  40%  running    waiting for Off") != std::string::npos);
}

TEST_CASE("credentials set reads the password from stdin and never prints it", "[cli]") {
  Run run;
  run.in.str("Sup3r-secret\n");
  run.api.answers.push_back(std::string(R"({"id":"x"})"));
  CHECK(run({"credentials", "set", "idrac-lab", "--kind", "idrac", "--user", "root", "--password-stdin"}) == 0);
  REQUIRE(run.api.calls.size() == 1);
  CHECK(run.api.calls[0].method == "PUT");
  CHECK(run.api.calls[0].path == "/api/v1/credential-sets/idrac-lab");
  CHECK(run.api.calls[0].body == R"({"kind":"idrac","username":"root","password":"Sup3r-secret"})");
  CHECK(run.out.str() == "credential set idrac-lab stored\n");
  CHECK(run.err.str().empty());
}

TEST_CASE("credentials scope sends networks and hosts, or clears them with --unrestricted", "[cli]") {
  Run run;
  run.api.answers = {Result<std::string>(std::string("{}")), Result<std::string>(std::string("{}"))};
  CHECK(run({"credentials", "scope", "idrac-lab", "--networks", "10.0.0.0/24,10.0.1.0/24", "--hosts", "bmc-1.lab"}) == 0);
  CHECK(run({"credentials", "scope", "idrac-lab", "--unrestricted"}) == 0);
  REQUIRE(run.api.calls.size() == 2);
  CHECK(run.api.calls[0].path == "/api/v1/credential-sets/idrac-lab/scope");
  CHECK(run.api.calls[0].body == R"({"networks":["10.0.0.0/24","10.0.1.0/24"],"hosts":["bmc-1.lab"]})");
  CHECK(run.api.calls[1].body == "{}");
  CHECK(run.out.str() == "credential set idrac-lab scoped\ncredential set idrac-lab may go to any known target\n");
  CHECK(run({"credentials", "scope", "idrac-lab"}) == 2);
  CHECK(run({"credentials", "scope", "idrac-lab", "--unrestricted", "--hosts", "x"}) == 2);
  CHECK(run.api.calls.size() == 2);
}

TEST_CASE("Listings print a table, or the raw array with --json", "[cli]") {
  Run run;
  const std::string agents = R"({"agents":[{"id":"w1","kind":"idrac-worker","status":"online","running":2,
                                           "capacity":8,"version":"0.1.0","hostname":"h1",
                                           "last_seen_at":"2026-11-27T06:40:01+00:00"}]})";
  run.api.answers = {Result<std::string>(agents), Result<std::string>(agents)};
  CHECK(run({"agents"}) == 0);
  CHECK(run.out.str() ==
        "ID  KIND          STATUS  RUNNING  CAPACITY  VERSION  HOST  LAST SEEN\n"
        "w1  idrac-worker  online  2        8         0.1.0    h1    2026-11-27 06:40:01\n");
  run.out.str("");
  CHECK(run({"agents", "--json"}) == 0);
  CHECK(run.out.str().rfind(R"([{"id":"w1",)", 0) == 0);
}

const std::string kConflictA = "5d1e0a52-7c1b-4f0e-9a51-2b7f1c9e0a11";
const std::string kConflictB = "5d1e0a52-9999-4f0e-9a51-2b7f1c9e0a22";
const std::string kServer = "0b7c2f4e-1d2a-4c3b-8e9f-a1b2c3d4e5f6";

std::string ConflictList() {
  return R"({"identity_conflicts":[{"id":")" + kConflictA + R"(","kind":"address_claimed","subject":"address:127.0.1.4",
    "status":"open","message":"two servers claim 127.0.1.4","server_ids":[],"host_id":null,"evidence":{},
    "first_seen_at":"2026-12-03T06:00:00+00:00","last_seen_at":"2026-12-03T07:10:02.5+00:00","seen_count":3,
    "job_id":null,"resolution":null},
    {"id":")" + kConflictB + R"(","kind":"host_link","subject":"host:vc1/host-12","status":"open",
    "message":"host-12 reports tag ABC1234, which two servers have","server_ids":[],"host_id":null,"evidence":{},
    "first_seen_at":"2026-12-03T05:00:00+00:00","last_seen_at":"2026-12-03T07:00:00+00:00","seen_count":1,
    "job_id":null,"resolution":null}]})";
}

std::string Resolved(const std::string& id) {
  return R"({"id":")" + id + R"(","kind":"address_claimed","subject":"address:127.0.1.4","status":"resolved",
    "message":"two servers claim 127.0.1.4","seen_count":3,"resolution":{"action":"assign","server_id":")" + kServer +
         R"(","note":"rack 4"}})";
}

TEST_CASE("conflicts lists the open identity conflicts as a table, or any status as JSON", "[cli]") {
  Run run;
  run.api.answers = {Result<std::string>(ConflictList()), Result<std::string>(ConflictList())};
  CHECK(run({"conflicts"}) == 0);
  REQUIRE(run.api.calls.size() == 1);
  CHECK(run.api.calls[0].method == "GET");
  CHECK(run.api.calls[0].path == "/api/v1/identity-conflicts?status=open&limit=200");
  CHECK(run.out.str() ==
        "ID        KIND             SUBJECT            STATUS  SEEN  LAST SEEN            MESSAGE\n"
        "5d1e0a52  address_claimed  address:127.0.1.4  open    3     2026-12-03 07:10:02  two servers claim 127.0.1.4\n"
        "5d1e0a52  host_link        host:vc1/host-12   open    1     2026-12-03 07:00:00  "
        "host-12 reports tag ABC1234, which two servers have\n");
  run.out.str("");
  CHECK(run({"conflicts", "--status", "all", "--limit", "5", "--json"}) == 0);
  CHECK(run.api.calls[1].path == "/api/v1/identity-conflicts?status=all&limit=5");
  CHECK(run.out.str().rfind(R"([{"id":")" + kConflictA + "\"", 0) == 0);
}

TEST_CASE("conflict resolve posts the decision and prints the conflict after it", "[cli]") {
  Run run;
  run.api.answers.push_back(Resolved(kConflictA));
  CHECK(run({"conflict", "resolve", kConflictA, "--action", "assign", "--server", kServer, "--note", "rack 4"}) == 0);
  REQUIRE(run.api.calls.size() == 1);
  CHECK(run.api.calls[0].method == "POST");
  CHECK(run.api.calls[0].path == "/api/v1/identity-conflicts/" + kConflictA + "/resolve");
  CHECK(run.api.calls[0].body == R"({"action":"assign","server_id":")" + kServer + R"(","note":"rack 4"})");
  CHECK(run.out.str() == "conflict " + kConflictA + " resolved (assign " + kServer + ": rack 4)\n"
                         "  address_claimed address:127.0.1.4: two servers claim 127.0.1.4\n");

  run.out.str("");
  run.api.answers.push_back(Resolved(kConflictA));
  CHECK(run({"conflict", "resolve", kConflictA, "--action", "dismiss", "--json"}) == 0);
  CHECK(run.api.calls[1].body == R"({"action":"dismiss"})");
  CHECK(run.out.str().rfind(R"({"id":")" + kConflictA + "\"", 0) == 0);
}

TEST_CASE("conflict resolve takes a short id when it names exactly one open conflict", "[cli]") {
  Run run;
  run.api.answers = {Result<std::string>(ConflictList()), Result<std::string>(Resolved(kConflictB))};
  CHECK(run({"conflict", "resolve", "5D1E0A52-9999", "--action", "unlink"}) == 0);
  REQUIRE(run.api.calls.size() == 2);
  CHECK(run.api.calls[0].path == "/api/v1/identity-conflicts?status=open&limit=1000");
  CHECK(run.api.calls[1].path == "/api/v1/identity-conflicts/" + kConflictB + "/resolve");

  Run ambiguous;
  ambiguous.api.answers.push_back(ConflictList());
  CHECK(ambiguous({"conflict", "resolve", "5d1e0a52", "--action", "dismiss"}) == 1);
  CHECK(ambiguous.err.str() == "dcops: 2 open identity conflicts have ids starting 5d1e0a52; give more of the id\n");
  CHECK(ambiguous.api.calls.size() == 1);

  Run none;
  none.api.answers.push_back(ConflictList());
  CHECK(none({"conflict", "resolve", "abcdef01", "--action", "dismiss"}) == 1);
  CHECK(none.err.str() == "dcops: no open identity conflict has an id starting abcdef01\n");
}

TEST_CASE("conflict resolve refuses bad usage before calling, and reports the API's refusal", "[cli]") {
  Run run;
  CHECK(run({"conflicts", "--status", "pending"}) == 2);
  CHECK(run({"conflict", "resolve", kConflictA}) == 2);                               // no --action
  CHECK(run({"conflict", "resolve", kConflictA, "--action", "explode"}) == 2);
  CHECK(run({"conflict", "resolve", kConflictA, "--action", "merge"}) == 2);          // merge into what?
  CHECK(run({"conflict", "resolve", kConflictA, "--action", "accept"}) == 2);         // accepted by which server?
  CHECK(run({"conflict", "resolve", kConflictA, "--action", "link", "--server", "srv-1"}) == 2);
  CHECK(run({"conflict", "resolve", kConflictA, "--action", "dismiss", "--server", "5d1e0a52-0000-4000-8000-000000000001"}) ==
        2);                                                                               // dismiss takes no server
  CHECK(run({"conflict", "resolve", "5d1e", "--action", "dismiss"}) == 2);            // too short an id
  CHECK(run({"conflict", "resolve", "--action", "dismiss"}) == 2);
  CHECK(run.api.calls.empty());
  CHECK(run.err.str().find("dcops: --action merge needs --server SERVER_UUID\n") != std::string::npos);
  CHECK(run.err.str().find("dcops: --action dismiss takes no --server\n") != std::string::npos);
  CHECK(run.err.str().find("dcops: --action accept needs --server SERVER_UUID\n") != std::string::npos);
  CHECK(run.err.str().find("dcops: --status: open, resolved, dismissed, cleared or all\n") != std::string::npos);

  Run refused;
  refused.api.answers.push_back(MakeError("api.conflict", "conflict " + kConflictA + ": is resolved already"));
  CHECK(refused({"conflict", "resolve", kConflictA, "--action", "dismiss"}) == 1);
  CHECK(refused.err.str() == "dcops: conflict " + kConflictA + ": is resolved already\n");
  CHECK(refused.out.str().empty());
}

}  // namespace
}  // namespace dcops::cli
