// The ZFS steps against OpenZFS 2.x behaviour that zfs-fuse lacks (bookmarks, resume tokens,
// raw sends, `send -n -P`, `receive -s -u`): the stand-in of tests/sim/zfs, written from
// OpenZFS's texts by another reader, behind real sshds on loopback.
#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <thread>

#include "dcops/agent/recording_context.hpp"
#include "dcops/ssh/session.hpp"
#include "dcops/zfs/retention.hpp"
#include "standin_host.hpp"
#include "steps.hpp"
#include "zfs_rig_test.hpp"

namespace dcops::zfs_worker::test {
namespace {

using agent::StepOutcome;
using namespace std::chrono;

// A host whose zfs and zpool are the stand-in over its own state directory.
struct StandinHost : HostRig {
  StandinHost(const std::string& ip, const std::string& id) : HostRig(ip, 18523, id), state((Start(), sshd), DCOPS_ZFS_STANDIN) {}
  void Must(const std::string& args) const {
    const auto r = state.Run(args);
    INFO(args << ": " << r.out);
    REQUIRE(r.status == 0);
  }
  sim::zfs::StandinRun Run(const std::string& args) const { return state.Run(args); }
  std::string Get(const std::string& prop, const std::string& name) const { return state.Get(prop, name); }
  bool Has(const std::string& name) const { return state.Has(name); }
  sim::zfs::StandinState state;
};

struct Rig {
  Rig(const char* ip_a, const char* ip_b, const std::string& target_pool_options = "") : src(ip_a, "a"), dst(ip_b, "b") {
    src.Must("admin create-pool tank");
    dst.Must("admin create-pool backup " + target_pool_options);
    src.Must("zfs create tank/data");
    src.Must("admin write tank/data one 3000000 1");
  }
  std::string Params(const std::string& extra = "", const std::string& from = "tank/data", const std::string& to = "backup/data") const {
    return R"({"source_dataset":")" + from + R"(","target_dataset":")" + to + R"(")" + extra + R"(,"_endpoint":)" + src.Access() +
           R"(,"_peer":)" + dst.Access() + "}";
  }
  agent::Assignment ReplicateOf(const std::string& from, const std::string& to, const std::string& extra = "") const {
    return MakeAssignment("zfs.replicate", Params(extra, from, to), src, &dst);
  }
  StepOutcome Replicate(FakeClock& clock, const std::string& extra = "") {
    ctx = std::make_unique<agent::RecordingStepContext>(MakeAssignment("zfs.replicate", Params(extra), src, &dst), clock);
    return steps.Run(*ctx);
  }
  StandinHost src, dst;
  agent::StepRegistry steps = MakeSteps([](const ssh::Endpoint& e) { return ssh::Session::Connect(e); });
  std::unique_ptr<agent::RecordingStepContext> ctx;
};

}  // namespace

TEST_CASE("OpenZFS: a full send, -I increments, and the pair's bookmark cursor once its snapshot is pruned") {
  Rig rig("127.0.128.20", "127.0.128.21");
  FakeClock clock(system_clock::from_time_t(1796400000));
  auto out = rig.Replicate(clock);
  INFO(out.error.message);
  REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
  auto r = Json(out.result_json);
  CHECK(std::string(r["decision"].GetString()) == "full");
  CHECK(std::string(r["source_capabilities"]["software"].GetString()) == "OpenZFS 2.1.11");
  REQUIRE(r["send_flags"].Size() == 3);  // both sides OpenZFS with large blocks: -L -e -c from the first send on
  CHECK(std::string(r["send_flags"][0].GetString()) == "-L");
  const std::string first = r["snapshot"].GetString();
  const std::string cursor1 = r["bookmark"].GetString();
  CHECK(cursor1 == "tank/data#" + first + "_" + std::string(r["hold_tag"].GetString()).substr(11));
  CHECK(rig.src.Has(cursor1));
  CHECK(rig.src.Get("userrefs", "tank/data@" + first) == "0");  // released once the target had it
  CHECK(rig.dst.Get("guid", "backup/data@" + first) == rig.src.Get("guid", "tank/data@" + first));
  // Progress came with an estimate (send -n -P): a percentage, not just bytes.
  CHECK(rig.ctx->progress().back() == 100);

  rig.src.Must("admin write tank/data two 1000000 2");
  rig.src.Must("zfs snapshot tank/data@manual");  // someone's snapshot between two of ours
  clock.Advance(hours(1));
  out = rig.Replicate(clock);
  INFO(out.error.message);
  REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
  r = Json(out.result_json);
  CHECK(std::string(r["decision"].GetString()) == "incremental");
  CHECK(r["intermediates"].GetBool());
  CHECK(std::string(r["from"].GetString()) == "@" + first);
  CHECK(r["bytes"].GetUint64() < 1500000);  // the change, not the dataset
  CHECK(rig.dst.Has("backup/data@manual"));  // -I brought the one between
  const std::string second = r["snapshot"].GetString();
  const std::string cursor2 = r["bookmark"].GetString();
  CHECK(rig.src.Has(cursor2));
  CHECK_FALSE(rig.src.Has(cursor1));  // the pair's older cursor is gone

  // The base snapshot pruned on the source: the cursor bookmark carries the next increment.
  rig.src.Must("zfs destroy tank/data@" + second);
  rig.src.Must("admin write tank/data three 500000 3");
  clock.Advance(hours(1));
  out = rig.Replicate(clock);
  INFO(out.error.message);
  REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
  r = Json(out.result_json);
  CHECK(std::string(r["decision"].GetString()) == "incremental");
  CHECK(std::string(r["from"].GetString()) == "#" + std::string(cursor2.substr(cursor2.find('#') + 1)));
  CHECK_FALSE(r["intermediates"].GetBool());  // -I takes no bookmark: -i, said in an event
  bool warned = false;
  for (const auto& e : rig.ctx->events()) warned = warned || e.find("the common point is the bookmark") != std::string::npos;
  CHECK(warned);
  CHECK(rig.dst.Get("guid", "backup/data@" + std::string(r["snapshot"].GetString())) ==
        rig.src.Get("guid", "tank/data@" + std::string(r["snapshot"].GetString())));
}

TEST_CASE("OpenZFS: an interrupted transfer resumes from the target's token on the next attempt") {
  Rig rig("127.0.128.22", "127.0.128.23");
  FakeClock clock(system_clock::from_time_t(1796400000));
  rig.src.Must("admin write tank/data big 6000000 4");
  rig.src.Must("admin fault send-abort-after 2500000");
  auto out = rig.Replicate(clock);
  REQUIRE(out.kind == StepOutcome::Kind::kFailed);
  CHECK(out.error.code == "zfs.transfer_interrupted");
  CHECK(out.error.retryable);
  CHECK(out.error.message.find("the next attempt resumes it") != std::string::npos);
  CHECK(rig.dst.Get("receive_resume_token", "backup/data").rfind("1-", 0) == 0);
  REQUIRE_FALSE(rig.ctx->checkpoints().empty());
  const auto checkpoint = Json(rig.ctx->checkpoints().back());
  const std::string snap = checkpoint["snapshot"].GetString();
  CHECK(rig.src.Get("userrefs", "tank/data@" + snap) == "1");  // held while in flight

  // The retry: same snapshot, no new one, the stream continued where it stopped.
  clock.Advance(minutes(1));
  agent::RecordingStepContext again(rig.ctx->NextAttempt(), clock);
  out = rig.steps.Run(again);
  INFO(out.error.message);
  REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
  auto r = Json(out.result_json);
  CHECK(r["resumed"].GetBool());
  CHECK(std::string(r["snapshot"].GetString()) == snap);
  CHECK(std::string(r["decision"].GetString()) == "up_to_date");  // the resumed stream brought it
  CHECK(r["bytes"].GetUint64() < 9000000 - 2000000);               // not the whole stream again
  CHECK(rig.dst.Get("guid", "backup/data@" + snap) == rig.src.Get("guid", "tank/data@" + snap));
  CHECK(rig.dst.Get("receive_resume_token", "backup/data") == "-");
  CHECK(rig.src.Get("userrefs", "tank/data@" + snap) == "0");
  CHECK(rig.src.Run("zfs list -H -o name -t snapshot tank/data").out == "tank/data@" + snap + "\n");
}

TEST_CASE("OpenZFS: a cancelled replication keeps its partial receive, and the next job resumes it") {
  Rig rig("127.0.128.35", "127.0.128.36");
  rig.src.Must("admin write tank/data big 8000000 6");
  rig.src.Must("admin fault send-slow 2000000");
  // Real time: the pump reports progress by it, and the cancel comes once bytes have flowed.
  auto& clock = SystemClock::Instance();
  agent::RecordingStepContext ctx(MakeAssignment("zfs.replicate", rig.Params(), rig.src, &rig.dst), clock);
  StepOutcome out;
  std::thread step([&] { out = rig.steps.Run(ctx); });
  const auto deadline = steady_clock::now() + seconds(30);
  auto streaming = [&] {
    for (const auto& e : ctx.progress()) {
      if (e > 10) return true;  // past the probes: the stream's own progress
    }
    return false;
  };
  while (!streaming() && steady_clock::now() < deadline) std::this_thread::sleep_for(milliseconds(20));  // polls the other thread's state
  REQUIRE(streaming());
  ctx.RequestCancel();
  step.join();
  REQUIRE(out.kind == StepOutcome::Kind::kCancelled);
  CHECK(out.reason.find("the next replication resumes it") != std::string::npos);
  CHECK(rig.dst.Get("receive_resume_token", "backup/data").rfind("1-", 0) == 0);
  const std::string first = Json(ctx.checkpoints().back())["snapshot"].GetString();

  rig.src.Must("admin fault clear");
  FakeClock later(system_clock::now() + hours(1));
  out = rig.Replicate(later);
  INFO(out.error.message);
  REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
  const auto r = Json(out.result_json);
  CHECK(r["resumed"].GetBool());
  CHECK(std::string(r["decision"].GetString()) == "incremental");
  CHECK(std::string(r["from"].GetString()) == "@" + first);
  CHECK(rig.dst.Get("guid", "backup/data@" + first) == rig.src.Get("guid", "tank/data@" + first));
  CHECK(rig.src.Get("userrefs", "tank/data@" + first) == "0");  // the cancelled job's hold, released by the pair's next success
}

TEST_CASE("OpenZFS: a partial receive whose snapshot is gone is aborted, and a new job starts over") {
  Rig rig("127.0.128.24", "127.0.128.25");
  FakeClock clock(system_clock::from_time_t(1796400000));
  rig.src.Must("admin fault send-abort-after 1200000");
  auto out = rig.Replicate(clock);
  REQUIRE(out.error.code == "zfs.transfer_interrupted");
  const std::string snap = Json(rig.ctx->checkpoints().back())["snapshot"].GetString();
  const std::string tag = "dcops-repl-";
  // An operator releases and destroys the snapshot in flight.
  const std::string holds = rig.src.Run("zfs holds -H tank/data@" + snap).out;
  const std::string held_by = holds.substr(holds.find('\t') + 1, holds.find('\t', holds.find('\t') + 1) - holds.find('\t') - 1);
  REQUIRE(held_by.rfind(tag, 0) == 0);
  rig.src.Must("zfs release " + held_by + " tank/data@" + snap);
  rig.src.Must("zfs destroy tank/data@" + snap);

  // The same job cannot go on: its snapshot is gone.
  agent::RecordingStepContext again(rig.ctx->NextAttempt(), clock);
  out = rig.steps.Run(again);
  REQUIRE(out.kind == StepOutcome::Kind::kFailed);
  CHECK(out.error.code == "zfs.snapshot_gone");
  CHECK_FALSE(out.error.retryable);
  CHECK(rig.dst.Get("receive_resume_token", "backup/data").rfind("1-", 0) == 0);  // not this job's to abort blind

  // A new job: the partial receive cannot be resumed (its snapshot is gone): aborted, then a full send.
  clock.Advance(hours(1));
  out = rig.Replicate(clock);
  INFO(out.error.message);
  REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
  auto r = Json(out.result_json);
  CHECK(r["aborted_partial"].GetBool());
  CHECK_FALSE(r["resumed"].GetBool());
  CHECK(std::string(r["decision"].GetString()) == "full");
  bool said = false;
  for (const auto& e : rig.ctx->events()) said = said || e.find("cannot be resumed") != std::string::npos;
  CHECK(said);
}

TEST_CASE("OpenZFS: a pair keeps its first send flags, and an encrypted dataset goes raw or not at all") {
  Rig rig("127.0.128.26", "127.0.128.27");
  FakeClock clock(system_clock::from_time_t(1796400000));
  auto out = rig.Replicate(clock, R"(,"_pair":{"send_flags":[]})");
  INFO(out.error.message);
  REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
  CHECK(Json(out.result_json)["send_flags"].Size() == 0);  // recorded as none: none, though both could

  rig.src.Must("zfs create -o encryption=on tank/secret");
  rig.src.Must("admin write tank/secret key 100000 5");
  agent::RecordingStepContext raw_ctx(rig.ReplicateOf("tank/secret", "backup/secret"), clock);
  out = rig.steps.Run(raw_ctx);
  INFO(out.error.message);
  REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
  const auto r = Json(out.result_json);
  CHECK(std::string(r["send_flags"][0].GetString()) == "-w");
  CHECK(rig.dst.Get("encryption", "backup/secret") != "off");

  // A pair recorded without -w cannot carry it: refused, never sent decrypted.
  clock.Advance(hours(1));
  agent::RecordingStepContext plain_ctx(rig.ReplicateOf("tank/secret", "backup/secret2", R"(,"_pair":{"send_flags":["-L"]})"), clock);
  out = rig.steps.Run(plain_ctx);
  REQUIRE(out.kind == StepOutcome::Kind::kFailed);
  CHECK(out.error.code == "zfs.raw_unsupported");
  CHECK_FALSE(rig.dst.Has("backup/secret2"));
}

TEST_CASE("OpenZFS: allowed to destroy, a target with no common snapshot is emptied first and replaced, a changed one rolled back") {
  Rig rig("127.0.128.31", "127.0.128.32");
  rig.dst.Must("zfs create backup/data");
  rig.dst.Must("zfs snapshot backup/data@theirs");
  FakeClock clock(system_clock::from_time_t(1796400000));
  auto out = rig.Replicate(clock);
  REQUIRE(out.error.code == "zfs.no_common_snapshot");
  CHECK(rig.dst.Has("backup/data@theirs"));

  clock.Advance(hours(1));
  out = rig.Replicate(clock, R"(,"allow_target_destroy":true)");
  INFO(out.error.message);
  REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
  auto r = Json(out.result_json);
  CHECK(std::string(r["decision"].GetString()) == "full");
  CHECK(r["forced"].GetBool());
  REQUIRE(r["destroyed_on_target"].Size() == 1);
  CHECK(std::string(r["destroyed_on_target"][0].GetString()) == "theirs");
  CHECK_FALSE(rig.dst.Has("backup/data@theirs"));

  // Written to on the target since: refused without the flag, rolled back with it.
  rig.dst.Must("admin write backup/data local 1000 9");
  rig.src.Must("admin write tank/data more 1000 10");
  clock.Advance(hours(1));
  out = rig.Replicate(clock);
  REQUIRE(out.error.code == "zfs.target_modified");
  clock.Advance(hours(1));
  out = rig.Replicate(clock, R"(,"allow_target_destroy":true)");
  INFO(out.error.message);
  REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
  r = Json(out.result_json);
  CHECK(std::string(r["decision"].GetString()) == "incremental");
  CHECK(r["forced"].GetBool());
  const std::string dump = rig.dst.Run("admin dump").out;
  CHECK(dump.find("file more ") != std::string::npos);   // the source's change arrived
  CHECK(dump.find("file local ") == std::string::npos);  // the target's own write was rolled back
}

TEST_CASE("OpenZFS: a retry overtaken by a later replication ends without sending, and leaves the pair's cursor alone") {
  Rig rig("127.0.128.37", "127.0.128.38");
  FakeClock clock(system_clock::from_time_t(1796400000));
  REQUIRE(rig.Replicate(clock).kind == StepOutcome::Kind::kSucceeded);
  // A job's snapshot that never left (its attempt failed before sending), then a later job with -i.
  clock.Advance(hours(1));
  const std::string stale = zfs::SnapshotName("dcops", clock.Now());
  rig.src.Must("zfs snapshot tank/data@" + stale);
  clock.Advance(hours(1));
  auto out = rig.Replicate(clock, R"(,"incremental":"i")");
  REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
  const std::string newer = Json(out.result_json)["snapshot"].GetString();
  const std::string cursor = Json(out.result_json)["bookmark"].GetString();
  // The stale job's retry.
  auto retry = MakeAssignment("zfs.replicate", rig.Params(), rig.src, &rig.dst, R"({"snapshot":")" + stale + R"(","phase":"snapshotted"})");
  agent::RecordingStepContext ctx(retry, clock);
  out = rig.steps.Run(ctx);
  INFO(out.error.message);
  REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
  const auto r = Json(out.result_json);
  CHECK(std::string(r["decision"].GetString()) == "overtaken");
  CHECK(r["bytes"].GetUint64() == 0);
  CHECK(rig.src.Has(cursor));                          // the newer cursor stays
  CHECK_FALSE(rig.dst.Has("backup/data@" + stale));    // nothing older sent over the newer
  CHECK(rig.dst.Has("backup/data@" + newer));
  CHECK(rig.src.Get("userrefs", "tank/data@" + stale) == "0");
}

TEST_CASE("OpenZFS: pruning one pair keeps what another pair of the dataset still needs") {
  Rig rig("127.0.128.33", "127.0.128.34");
  FakeClock clock(system_clock::from_time_t(1796400000));
  // Pair two gets the first snapshot only; pair one goes on.
  agent::RecordingStepContext two(rig.ReplicateOf("tank/data", "backup/two"), clock);
  auto out = rig.steps.Run(two);
  REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
  const std::string two_snap = Json(out.result_json)["snapshot"].GetString();
  const std::string two_guid = Json(out.result_json)["guid"].GetString();
  for (int i = 0; i < 3; ++i) {
    clock.Advance(hours(2));
    REQUIRE(rig.Replicate(clock).kind == StepOutcome::Kind::kSucceeded);
  }
  // Without bookmarks pair two's base would be gone for good: the prune must keep it.
  for (const auto& line : {rig.src.Run("zfs list -H -o name -t bookmark tank/data").out}) {
    for (std::size_t pos = 0; pos < line.size();) {
      const auto end = line.find('\n', pos);
      rig.src.Must("zfs destroy " + line.substr(pos, end - pos));
      pos = end + 1;
    }
  }
  clock.Advance(hours(1));
  const std::string params = R"({"dataset":"tank/data","target_dataset":"backup/data","source_grid":"1x1h","keep_last":1,)"
                             R"("_pair":{"source":{"sends":[{"guid":")" + two_guid + R"(","pair":"zfs-b:backup/two"}],"receives":[]}},)"
                             R"("_endpoint":)" + rig.src.Access() +
                             R"(,"_peer":)" + rig.dst.Access() + "}";
  agent::RecordingStepContext prune(MakeAssignment("zfs.prune", params, rig.src, &rig.dst), clock);
  out = rig.steps.Run(prune);
  INFO(out.error.message);
  REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
  CHECK(rig.src.Has("tank/data@" + two_snap));  // pair two's last snapshot
  // Everything after pair two's snapshot is kept too (not sent to backup/two yet), and said.
  const auto r = Json(out.result_json);
  CHECK(r["source"]["destroyed"].Size() == 0);
  bool said = false;
  for (const auto& e : prune.events()) said = said || e.find(" snapshot(s) kept for the replication pair to zfs-b:backup/two") != std::string::npos;
  CHECK(said);

  // A pair whose last snapshot is nowhere on the source: nothing can be judged, nothing pruned.
  const std::string lost = R"({"dataset":"tank/data","source_grid":"1x1h","_pair":{"source":{"sends":["12345"],"receives":[]}},"_endpoint":)" +
                           rig.src.Access() + "}";
  agent::RecordingStepContext refused(MakeAssignment("zfs.prune", lost, rig.src, nullptr), clock);
  out = rig.steps.Run(refused);
  REQUIRE(out.kind == StepOutcome::Kind::kFailed);
  CHECK(out.error.code == "zfs.prune_refused");
  CHECK(out.error.message.find("the replication pair to another pair last sent the snapshot with guid 12345, which is on neither a "
                               "snapshot nor a bookmark here") != std::string::npos);
}

TEST_CASE("OpenZFS: a target without the encryption feature refuses a raw send before anything is sent") {
  Rig rig("127.0.128.28", "127.0.128.29", "--no-feature encryption");
  FakeClock clock(system_clock::from_time_t(1796400000));
  rig.src.Must("zfs create -o encryption=on tank/secret");
  agent::RecordingStepContext ctx(rig.ReplicateOf("tank/secret", "backup/secret"), clock);
  const auto out = rig.steps.Run(ctx);
  REQUIRE(out.kind == StepOutcome::Kind::kFailed);
  CHECK(out.error.code == "zfs.raw_unsupported");
  CHECK(out.error.message.find("cannot receive") != std::string::npos);
  CHECK_FALSE(rig.dst.Has("backup/secret"));
}

TEST_CASE("OpenZFS: health reports a degraded pool, its errors and an old scrub, with exact sizes") {
  StandinHost host("127.0.128.30", "h");
  host.Must("admin create-pool tank --vdev sda --vdev sdb");
  host.Must("admin create-pool fast");
  host.Must("zfs create tank/vm");
  host.Must("admin set-health tank DEGRADED sdb");
  host.Must("admin set-scrub tank finished:1790000000:2");
  host.Must("admin set-errors tank 3");
  host.Must("admin set-scrub fast finished:1796300000:0");
  FakeClock clock(system_clock::from_time_t(1796400000));
  agent::RecordingStepContext ctx(MakeAssignment("zfs.health", R"({"_endpoint":)" + host.Access() + "}", host, nullptr), clock);
  const auto steps = MakeSteps([](const ssh::Endpoint& e) { return ssh::Session::Connect(e); });
  const auto out = steps.Run(ctx);
  INFO(out.error.message);
  REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
  const auto r = Json(out.result_json);
  CHECK_FALSE(r["healthy"].GetBool());
  REQUIRE(r["pools"].Size() == 2);
  const auto& fast = r["pools"][0];
  const auto& tank = r["pools"][1];
  CHECK(std::string(fast["name"].GetString()) == "fast");
  CHECK(fast["sizes_exact"].GetBool());
  CHECK(fast["size"].GetUint64() == 10ull << 30);
  CHECK(std::string(tank["health"].GetString()) == "DEGRADED");
  CHECK(tank["data_errors"].GetUint64() == 3);
  CHECK(tank["scrub_errors"].GetUint64() == 2);
  CHECK(tank["capabilities"]["bookmarks"].GetBool());
  std::string problems;
  for (const auto& p : r["problems"].GetArray()) problems += std::string(p.GetString()) + "\n";
  CHECK(problems.find("pool tank is DEGRADED") != std::string::npos);
  CHECK(problems.find("pool tank: device sdb") != std::string::npos);
  CHECK(problems.find("pool tank: 3 data errors") != std::string::npos);
  CHECK(problems.find("pool tank: the last scrub found 2 error(s)") != std::string::npos);
  CHECK(problems.find("pool tank was last scrubbed 74 days ago") != std::string::npos);
  CHECK(problems.find("pool fast") == std::string::npos);  // scrubbed a day ago, no errors
}

}  // namespace dcops::zfs_worker::test
