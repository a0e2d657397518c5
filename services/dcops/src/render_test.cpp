#include "render.hpp"

#include <catch2/catch.hpp>

namespace dcops::cli {
namespace {

rapidjson::Document Parse(const char* text) {
  rapidjson::Document d;
  d.Parse(text);
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

TEST_CASE("Progress bars fill in proportion and clamp", "[cli]") {
  CHECK(ProgressBar(0, 10) == "[----------]");
  CHECK(ProgressBar(55, 10) == "[#####-----]");
  CHECK(ProgressBar(100, 10) == "[##########]");
  CHECK(ProgressBar(140, 4) == "[####]");
}

TEST_CASE("A job frame lists running and failed steps first and counts the rest", "[cli]") {
  auto job = Parse(R"({"id":"j","job_type":"server.refresh","status":"running","progress":60,"steps_total":4,
    "steps_finished":2,"steps":[
    {"id":"1","target":"idrac:a","status":"succeeded","progress":100,"attempt":1,"max_attempts":3},
    {"id":"2","target":"idrac:b","status":"succeeded","progress":100,"attempt":1,"max_attempts":3},
    {"id":"3","target":"idrac:c","status":"ready","progress":0,"attempt":1,"max_attempts":3},
    {"id":"4","target":"idrac:d","status":"running","progress":30,"progress_message":"reading","attempt":2,"max_attempts":3}]})");
  const std::string frame = JobFrame(job, 2);
  CHECK(frame ==
        "job j  server.refresh  running  2/4 steps  [##################------------] 60%\n"
        "  idrac:d  [######--------------]  30%  running    (attempt 2/3) reading\n"
        "  idrac:c  [--------------------]   0%  ready\n"
        "  … and 2 more: 2 succeeded\n");
}

TEST_CASE("A paused job says where it stopped, why, and how it goes on", "[cli]") {
  auto job = Parse(R"json({"id":"j","job_type":"cluster.rolling_update","status":"paused","progress":25,"steps_total":4,
    "steps_finished":1,"steps_failed":0,"pause":{"step":"enter:esx-2","error_message":"esx-2 cannot enter maintenance: connected_media (db-01)"},
    "steps":[{"target":"esxi:h2","status":"paused","progress":0,"error_message":"esx-2 cannot enter maintenance: connected_media (db-01)"}]})json");
  CHECK(JobFrame(job, 10) ==
        "job j  cluster.rolling_update  paused  1/4 steps  [#######-----------------------] 25%\n"
        "  paused at step enter:esx-2: esx-2 cannot enter maintenance: connected_media (db-01)\n"
        "  go on with: dcops job resume j --retry | --evacuate | --skip-host (or dcops job cancel j)\n"
        "  esxi:h2  [--------------------]   0%  paused     esx-2 cannot enter maintenance: connected_media (db-01)\n");
  CHECK(JobSummary(job) ==
        "job j paused: 4 step(s), 0 failed\n"
        "  paused at step enter:esx-2: esx-2 cannot enter maintenance: connected_media (db-01)\n"
        "  go on with: dcops job resume j --retry | --evacuate | --skip-host (or dcops job cancel j)");
}

TEST_CASE("Job tables show progress and a cancellation in flight", "[cli]") {
  auto jobs = Parse(R"([{"id":"j1","job_type":"server.power","status":"running","progress":10,"steps_total":10,
    "steps_finished":1,"steps_failed":0,"cancel_requested":true,"created_at":"2026-11-27T06:00:00+00:00"}])");
  CHECK(JobsTable(jobs) ==
        "ID  TYPE          STATUS                PROGRESS  STEPS  FAILED  CREATED\n"
        "j1  server.power  running (cancelling)  10%       1/10   0       2026-11-27 06:00:00\n");
  CHECK(JobsTable(Parse("[]")) == "no jobs\n");
}

TEST_CASE("Identity conflict tables show short ids, and a decision is summed up", "[cli]") {
  auto conflicts = Parse(R"([{"id":"5d1e0a52-7c1b-4f0e-9a51-2b7f1c9e0a11","kind":"might_be_same","subject":"serial:SN-1",
    "status":"dismissed","message":"SN-1 and SN-1A might be one server","seen_count":12,
    "last_seen_at":"2026-12-03T07:10:02.123456+00:00"}])");
  CHECK(ConflictsTable(conflicts) ==
        "ID        KIND           SUBJECT      STATUS     SEEN  LAST SEEN            MESSAGE\n"
        "5d1e0a52  might_be_same  serial:SN-1  dismissed  12    2026-12-03 07:10:02  SN-1 and SN-1A might be one server\n");
  CHECK(ConflictsTable(Parse("[]")) == "no identity conflicts\n");

  auto linked = Parse(R"({"id":"c1","kind":"host_link","subject":"host:vc1/host-12","status":"resolved",
    "message":"host-12 could be two servers","resolution":{"action":"link","server_id":"s1"}})");
  CHECK(ConflictSummary(linked) == "conflict c1 resolved (link s1)\n  host_link host:vc1/host-12: host-12 could be two servers\n");
  auto open = Parse(R"({"id":"c2","kind":"address_claimed","subject":"address:127.0.1.4","status":"open",
    "message":"m","resolution":null})");
  CHECK(ConflictSummary(open) == "conflict c2 open\n  address_claimed address:127.0.1.4: m\n");
}

}  // namespace
}  // namespace dcops::cli
