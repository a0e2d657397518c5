// The ZFS steps against real ZFS: zfs-fuse (pool version 23) behind two real sshds on
// loopback, so real send streams cross the worker. zfs-fuse has no bookmarks, no resume
// tokens, no `list -p` and no `zfs version`: the steps must take the documented fallbacks.
#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <map>

#include "dcops/agent/recording_context.hpp"
#include "dcops/ssh/session.hpp"
#include "steps.hpp"
#include "zfs_rig_test.hpp"

namespace dcops::zfs_worker::test {
namespace {

using agent::StepOutcome;
using namespace std::chrono;

// Two pools of zfs-fuse, one per "host"; destroyed at the end.
struct FusePools {
  explicit FusePools(const std::string& tag)
      : dir("/tmp/dcops-zfs-fuse-" + std::to_string(::getpid()) + "-" + tag),
        a("dcopst" + std::to_string(::getpid()) + tag + "a"),
        b("dcopst" + std::to_string(::getpid()) + tag + "b") {
    std::filesystem::create_directories(dir);
    for (const auto& [pool, file] : {std::pair{a, dir + "/a.img"}, std::pair{b, dir + "/b.img"}}) {
      REQUIRE(Sh("truncate -s 128M " + file).status == 0);
      REQUIRE(Sh("zpool create -m " + dir + "/mnt-" + pool + " " + pool + " " + file + " 2>&1").status == 0);
    }
    // The test reads the received files; with atime on, reading would change the target.
    REQUIRE(Sh("zfs set atime=off " + b).status == 0);
  }
  ~FusePools() {
    Sh("zpool destroy -f " + a + " 2>/dev/null");
    Sh("zpool destroy -f " + b + " 2>/dev/null");
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::string Mount(const std::string& dataset) const { return dir + "/mnt-" + dataset; }
  std::string dir, a, b;
};

ShellConnector Connector() {
  return [](const ssh::Endpoint& e) { return ssh::Session::Connect(e); };
}

std::string ReplicateParams(const FusePools& p, const HostRig& src, const HostRig& dst, const std::string& extra = "") {
  return R"({"source_dataset":")" + p.a + R"(/data","target_dataset":")" + p.b + R"(/copy")" + extra + R"(,"_endpoint":)" +
         src.Access() + R"(,"_peer":)" + dst.Access() + "}";
}

std::string Guid(const std::string& snapshot) { return Trimmed(Sh("zfs get -H -p -o value guid " + snapshot).out); }

struct Rig {
  explicit Rig(const std::string& tag, const char* ip_a, const char* ip_b) : pools(tag), src(ip_a, 18522, "a"), dst(ip_b, 18522, "b") {
    src.Start();
    dst.Start();
    REQUIRE(Sh("zfs create " + pools.a + "/data").status == 0);
    Write("one", 3);
  }
  void Write(const std::string& file, int mib) const {
    REQUIRE(Sh("dd if=/dev/urandom of=" + pools.Mount(pools.a) + "/data/" + file + " bs=1M count=" + std::to_string(mib) + " 2>/dev/null").status == 0);
  }
  StepOutcome Replicate(FakeClock& clock, const std::string& extra = "", agent::RecordingStepContext** keep = nullptr) {
    ctx = std::make_unique<agent::RecordingStepContext>(MakeAssignment("zfs.replicate", ReplicateParams(pools, src, dst, extra), src, &dst), clock);
    (void)keep;
    return steps.Run(*ctx);
  }
  FusePools pools;
  HostRig src, dst;
  agent::StepRegistry steps = MakeSteps(Connector());
  std::unique_ptr<agent::RecordingStepContext> ctx;
};

}  // namespace

TEST_CASE("zfs-fuse: a first full replication, then an increment, through the worker") {
  Rig rig("r", "127.0.128.1", "127.0.128.2");
  FakeClock clock(system_clock::from_time_t(1796400000));
  auto out = rig.Replicate(clock);
  INFO(out.error.message);
  REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
  auto r = Json(out.result_json);
  const std::string snap = r["snapshot"].GetString();
  CHECK(snap == "dcops_20261204T160000Z");
  CHECK(std::string(r["decision"].GetString()) == "full");
  CHECK(r["bytes"].GetUint64() > 3u << 20);  // the 3 MiB file crossed the worker
  CHECK(std::string(r["guid"].GetString()) == Guid(rig.pools.a + "/data@" + snap));
  CHECK(Guid(rig.pools.b + "/copy@" + snap) == Guid(rig.pools.a + "/data@" + snap));
  // Old ZFS: no bookmark cursor (none made), no resume, the hold released.
  CHECK(std::string(r["bookmark"].GetString()).empty());
  CHECK_FALSE(r["source_capabilities"]["bookmarks"].GetBool());
  CHECK(std::string(r["source_capabilities"]["software"].GetString()) == "ZFS (pool version 23)");
  CHECK(Trimmed(Sh("zfs get -H -p -o value userrefs " + rig.pools.a + "/data@" + snap).out) == "0");
  CHECK(Sh("cmp " + rig.pools.Mount(rig.pools.a) + "/data/one " + rig.pools.Mount(rig.pools.b) + "/copy/one").status == 0);

  rig.Write("two", 1);
  clock.Advance(hours(1));
  out = rig.Replicate(clock);
  INFO(out.error.message);
  REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
  r = Json(out.result_json);
  CHECK(std::string(r["decision"].GetString()) == "incremental");
  CHECK(std::string(r["from"].GetString()) == "@" + snap);
  CHECK(r["bytes"].GetUint64() < 3u << 20);  // only the change
  CHECK(Sh("cmp " + rig.pools.Mount(rig.pools.a) + "/data/two " + rig.pools.Mount(rig.pools.b) + "/copy/two").status == 0);
  // Nothing new: up to date after one more snapshot is... a new snapshot, so another increment of ~nothing.
  clock.Advance(hours(1));
  out = rig.Replicate(clock);
  REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
  CHECK(std::string(Json(out.result_json)["decision"].GetString()) == "incremental");
}

TEST_CASE("zfs-fuse: a diverged target is refused and kept, and forced only when the job allows it") {
  Rig rig("d", "127.0.128.3", "127.0.128.4");
  FakeClock clock(system_clock::from_time_t(1796400000));
  REQUIRE(rig.Replicate(clock).kind == StepOutcome::Kind::kSucceeded);
  REQUIRE(Sh("zfs snapshot " + rig.pools.b + "/copy@local").status == 0);
  clock.Advance(hours(1));
  auto out = rig.Replicate(clock);
  REQUIRE(out.kind == StepOutcome::Kind::kFailed);
  CHECK(out.error.code == "zfs.diverged");
  CHECK_FALSE(out.error.retryable);
  CHECK(out.error.message.find("it holds @local after the common snapshot @dcops_20261204T160000Z") != std::string::npos);
  CHECK(Sh("zfs list " + rig.pools.b + "/copy@local >/dev/null 2>&1").status == 0);  // untouched
  // The refused job's snapshot stays on the source, unheld.
  CHECK(Trimmed(Sh("zfs get -H -p -o value userrefs " + rig.pools.a + "/data@dcops_20261204T170000Z").out) == "0");

  clock.Advance(hours(1));
  out = rig.Replicate(clock, R"(,"allow_target_destroy":true)");
  INFO(out.error.message);
  REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
  auto r = Json(out.result_json);
  CHECK(r["forced"].GetBool());
  // zfs-fuse's forced receive keeps a later snapshot (OpenZFS destroys it): the result says
  // what happened, not what was expected.
  CHECK(Sh("zfs list " + rig.pools.b + "/copy@local >/dev/null 2>&1").status == 0);
  CHECK(r["destroyed_on_target"].Size() == 0);
  REQUIRE(r["kept_on_target"].Size() == 1);
  CHECK(std::string(r["kept_on_target"][0].GetString()) == "local");
}

TEST_CASE("zfs-fuse: a target changed since its snapshot is refused, and nothing is destroyed") {
  Rig rig("w", "127.0.128.13", "127.0.128.14");
  FakeClock clock(system_clock::from_time_t(1796400000));
  REQUIRE(rig.Replicate(clock).kind == StepOutcome::Kind::kSucceeded);
  REQUIRE(Sh("echo local > " + rig.pools.Mount(rig.pools.b) + "/copy/written-there").status == 0);
  rig.Write("two", 1);
  clock.Advance(hours(1));
  const auto out = rig.Replicate(clock);
  REQUIRE(out.kind == StepOutcome::Kind::kFailed);
  CHECK(out.error.code == "zfs.target_modified");
  CHECK_FALSE(out.error.retryable);
  CHECK(out.error.message.find("was changed since its most recent snapshot") != std::string::npos);
  CHECK(Sh("cat " + rig.pools.Mount(rig.pools.b) + "/copy/written-there").out == "local\n");
  // Its snapshot stays on the source, without our hold.
  CHECK(Trimmed(Sh("zfs get -H -p -o value userrefs " + rig.pools.a + "/data@dcops_20261204T170000Z").out) == "0");
}

TEST_CASE("zfs-fuse: a target that shares no snapshot is never overwritten unless the job says so") {
  Rig rig("n", "127.0.128.5", "127.0.128.6");
  REQUIRE(Sh("zfs create " + rig.pools.b + "/copy && zfs snapshot " + rig.pools.b + "/copy@theirs").status == 0);
  FakeClock clock(system_clock::from_time_t(1796400000));
  auto out = rig.Replicate(clock);
  REQUIRE(out.kind == StepOutcome::Kind::kFailed);
  CHECK(out.error.code == "zfs.no_common_snapshot");
  CHECK(out.error.message.find("shares no snapshot with the source (it holds @theirs)") != std::string::npos);
  CHECK(Sh("zfs list " + rig.pools.b + "/copy@theirs >/dev/null 2>&1").status == 0);
}

TEST_CASE("zfs-fuse: names with shell metacharacters never reach a host [attack]") {
  Rig rig("m", "127.0.128.7", "127.0.128.8");
  FakeClock clock(system_clock::from_time_t(1796400000));
  const std::string before = Sh("zfs list -H -o name -t all -r " + rig.pools.a + " " + rig.pools.b).out;
  for (const char* bad : {"/data;touch /tmp/dcops-pwned", "/data$(touch /tmp/dcops-pwned)", "/data`id`", "/da ta'; id; '"}) {
    agent::RecordingStepContext ctx(
        MakeAssignment("zfs.replicate",
                       R"({"source_dataset":")" + rig.pools.a + bad + R"(","target_dataset":")" + rig.pools.b + R"(/copy","_endpoint":)" +
                           rig.src.Access() + R"(,"_peer":)" + rig.dst.Access() + "}",
                       rig.src, &rig.dst),
        clock);
    rapidjson::Document d;
    d.Parse(ctx.assignment().params_json.c_str());
    if (d.HasParseError()) continue;  // a quote that broke the JSON is not a name
    const auto out = rig.steps.Run(ctx);
    INFO(bad);
    REQUIRE(out.kind == StepOutcome::Kind::kFailed);
    CHECK(out.error.code == "zfs.bad_name");
    CHECK(out.error.message.find("params.source_dataset") == 0);
  }
  CHECK_FALSE(std::filesystem::exists("/tmp/dcops-pwned"));
  CHECK(Sh("zfs list -H -o name -t all -r " + rig.pools.a + " " + rig.pools.b).out == before);
}

TEST_CASE("zfs-fuse: pruning a pair keeps the common snapshot and what is not replicated yet") {
  Rig rig("p", "127.0.128.9", "127.0.128.10");
  FakeClock clock(system_clock::from_time_t(1796400000));
  // Old snapshots of ours, days apart, and one of someone else's.
  for (const char* old : {"dcops_20261120T000000Z", "dcops_20261125T000000Z", "dcops_20261201T000000Z", "manual-keep"}) {
    REQUIRE(Sh(std::string("zfs snapshot ") + rig.pools.a + "/data@" + old).status == 0);
  }
  REQUIRE(rig.Replicate(clock).kind == StepOutcome::Kind::kSucceeded);  // dcops_20261204T160000Z, full (-I not on a first send)
  REQUIRE(Sh("zfs snapshot " + rig.pools.a + "/data@dcops_20261204T170000Z").status == 0);  // not replicated yet
  REQUIRE(Sh("zfs snapshot " + rig.pools.a + "/data@dcops_20261204T180000Z").status == 0);  // nor this, the newest
  clock.Advance(hours(3));
  const std::string params = R"({"dataset":")" + rig.pools.a + R"(/data","target_dataset":")" + rig.pools.b +
                             R"(/copy","source_grid":"1x1h","target_grid":"1x1h","keep_last":1,"_endpoint":)" + rig.src.Access() +
                             R"(,"_peer":)" + rig.dst.Access() + "}";
  agent::RecordingStepContext ctx(MakeAssignment("zfs.prune", params, rig.src, &rig.dst), clock);
  const auto out = rig.steps.Run(ctx);
  INFO(out.error.message);
  REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
  const std::string left = Sh("zfs list -H -o name -t snapshot -r " + rig.pools.a + "/data").out;
  CHECK(left.find("@dcops_20261120T000000Z") == std::string::npos);
  CHECK(left.find("@dcops_20261125T000000Z") == std::string::npos);
  CHECK(left.find("@dcops_20261201T000000Z") == std::string::npos);
  CHECK(left.find("@manual-keep") != std::string::npos);             // not ours
  CHECK(left.find("@dcops_20261204T160000Z") != std::string::npos);  // the common snapshot
  CHECK(left.find("@dcops_20261204T170000Z") != std::string::npos);  // not replicated yet
  CHECK(left.find("@dcops_20261204T180000Z") != std::string::npos);  // the newest
  auto r = Json(out.result_json);
  CHECK(r["source"]["destroyed"].Size() == 3);
  std::map<std::string, std::string> why;
  for (const auto& k : r["source"]["kept"].GetArray()) why[k["name"].GetString()] = k["why"].GetString();
  CHECK(why["dcops_20261204T170000Z"] == "replication");
  CHECK(why["dcops_20261204T180000Z"] == "newest");
  CHECK(r["failed"].GetInt() == 0);
  // The target keeps its only snapshot: the common one.
  CHECK(Sh("zfs list " + rig.pools.b + "/copy@dcops_20261204T160000Z >/dev/null 2>&1").status == 0);
}

TEST_CASE("zfs-fuse: health reads pools, datasets and snapshot counts from an old ZFS") {
  Rig rig("h", "127.0.128.11", "127.0.128.12");
  FakeClock clock(system_clock::from_time_t(1796400000));
  agent::RecordingStepContext ctx(MakeAssignment("zfs.health", R"({"pools":[")" + rig.pools.a + R"("],"_endpoint":)" + rig.src.Access() + "}",
                                                 rig.src, nullptr),
                                  clock);
  const auto out = rig.steps.Run(ctx);
  INFO(out.error.message);
  REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
  auto r = Json(out.result_json);
  REQUIRE(r["pools"].Size() == 1);
  const auto& pool = r["pools"][0];
  CHECK(std::string(pool["name"].GetString()) == rig.pools.a);
  CHECK(std::string(pool["health"].GetString()) == "ONLINE");
  CHECK_FALSE(pool["sizes_exact"].GetBool());  // zfs-fuse rounds them
  CHECK(pool["size"].GetUint64() > 100u << 20);
  CHECK(std::string(pool["scrub_state"].GetString()) == "none");
  // A pool never scrubbed is a problem an operator sees.
  CHECK_FALSE(r["healthy"].GetBool());
  CHECK(std::string(r["problems"][0].GetString()) == "pool " + rig.pools.a + " has never been scrubbed");
  bool data_listed = false;
  for (const auto& d : r["datasets"].GetArray()) data_listed = data_listed || std::string(d["name"].GetString()) == rig.pools.a + "/data";
  CHECK(data_listed);
}

}  // namespace dcops::zfs_worker::test
