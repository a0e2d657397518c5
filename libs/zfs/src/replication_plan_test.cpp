#include "dcops/zfs/replication_plan.hpp"

#include <catch2/catch.hpp>

using namespace dcops::zfs;
using Kind = ReplicationDecision::Kind;

namespace {

Point P(const char* name, std::uint64_t guid, std::uint64_t txg) {
  Point p;
  p.name = name;
  p.guid = guid;
  p.createtxg = txg;
  return p;
}

DatasetPoints Source() {
  DatasetPoints s;
  s.exists = true;
  s.snapshots = {P("a", 1, 10), P("b", 2, 20), P("c", 3, 30)};
  return s;
}

}  // namespace

TEST_CASE("replication: a missing target gets a full send, a current one nothing") {
  DatasetPoints target;
  CHECK(PlanReplication(Source(), target, "c", {}).kind == Kind::kFull);
  target.exists = true;
  target.snapshots = {P("a", 1, 5), P("c", 3, 9)};
  CHECK(PlanReplication(Source(), target, "c", {}).kind == Kind::kUpToDate);
}

TEST_CASE("replication: an increment from the newest snapshot both sides hold, by guid not by name") {
  DatasetPoints target;
  target.exists = true;
  target.snapshots = {P("a", 1, 5), P("renamed-b", 2, 7)};
  auto d = PlanReplication(Source(), target, "c", {});
  CHECK(d.kind == Kind::kIncremental);
  CHECK(d.from == "@b");
  CHECK(d.from_guid == 2);
  CHECK_FALSE(d.force);
  CHECK_FALSE(d.intermediates);
  // A snapshot of the same name but another guid is not common.
  target.snapshots = {P("a", 1, 5), P("b", 99, 7)};
  d = PlanReplication(Source(), target, "c", {true, false});
  CHECK(d.kind == Kind::kDiverged);
  CHECK(d.destroys == std::vector<std::string>{"b"});
  CHECK(d.message.find("the target has diverged: it holds @b after the common snapshot @a") == 0);
}

TEST_CASE("replication: a bookmark stands in for a pruned snapshot, and -I falls back to -i with a warning") {
  auto source = Source();
  source.snapshots.erase(source.snapshots.begin() + 1);  // b pruned
  source.bookmarks = {P("b", 2, 20)};
  DatasetPoints target;
  target.exists = true;
  target.snapshots = {P("a", 1, 5), P("b", 2, 7)};
  auto d = PlanReplication(source, target, "c", {true, false});
  CHECK(d.kind == Kind::kIncremental);
  CHECK(d.from == "#b");
  CHECK_FALSE(d.intermediates);
  CHECK(d.message.find("the common point is the bookmark #b") == 0);
  // With the snapshot still there, the snapshot wins and -I stays.
  source = Source();
  source.bookmarks = {P("b", 2, 20)};
  d = PlanReplication(source, target, "c", {true, false});
  CHECK(d.from == "@b");
  CHECK(d.intermediates);
}

TEST_CASE("replication: a retry overtaken by a later replication sends nothing and destroys nothing") {
  DatasetPoints target;
  target.exists = true;
  target.snapshots = {P("a", 1, 5), P("c", 3, 9)};  // c, newer than b, came with a later job
  auto d = PlanReplication(Source(), target, "b", {false, true});
  CHECK(d.kind == Kind::kUpToDate);
  CHECK(d.overtaken);
  CHECK(d.destroys.empty());
  CHECK(d.message == "the target already holds @c, newer than @b: nothing to send");
}

TEST_CASE("replication: allowed to destroy, an increment is forced (it rolls back target changes)") {
  DatasetPoints target;
  target.exists = true;
  target.snapshots = {P("a", 1, 5), P("b", 2, 7)};
  auto d = PlanReplication(Source(), target, "c", {false, true});
  CHECK(d.kind == Kind::kIncremental);
  CHECK(d.force);
  CHECK(d.destroys.empty());
}

TEST_CASE("replication: no common snapshot is refused unless the job allows destroying the target") {
  DatasetPoints target;
  target.exists = true;
  target.snapshots = {P("other", 77, 5)};
  auto d = PlanReplication(Source(), target, "c", {});
  CHECK(d.kind == Kind::kNoCommon);
  CHECK(d.message ==
        "the target dataset shares no snapshot with the source (it holds @other); nothing was sent. Replicate into a new "
        "dataset, or allow the job to destroy the target (allow_target_destroy)");
  d = PlanReplication(Source(), target, "c", {false, true});
  CHECK(d.kind == Kind::kFull);
  CHECK(d.force);
  CHECK(d.destroys == std::vector<std::string>{"other"});
  target.snapshots.clear();
  d = PlanReplication(Source(), target, "c", {});
  CHECK(d.kind == Kind::kNoCommon);
  CHECK(d.message.find("the target dataset exists and has no snapshot") == 0);
}

TEST_CASE("replication: a diverged target is forced only when allowed, naming what is destroyed") {
  DatasetPoints target;
  target.exists = true;
  target.snapshots = {P("a", 1, 5), P("b", 2, 7), P("local1", 50, 8), P("local2", 51, 9)};
  auto d = PlanReplication(Source(), target, "c", {});
  CHECK(d.kind == Kind::kDiverged);
  CHECK(d.destroys == std::vector<std::string>{"local1", "local2"});
  d = PlanReplication(Source(), target, "c", {false, true});
  CHECK(d.kind == Kind::kIncremental);
  CHECK(d.force);
  CHECK(d.from == "@b");
  CHECK(d.message.find("a forced receive destroys them") != std::string::npos);
}
