#include "dcops/zfs/retention.hpp"

#include <catch2/catch.hpp>

using namespace dcops::zfs;
using namespace std::chrono;

TEST_CASE("a retention grid parses as zrepl writes it, and bad terms are named") {
  auto g = ParseGrid("24x1h | 14x1d | 6x30d");
  REQUIRE(g);
  REQUIRE(g->size() == 3);
  CHECK((*g)[0].count == 24);
  CHECK((*g)[0].length == hours(1));
  CHECK((*g)[2].length == hours(24 * 30));
  for (const char* bad : {"", "24", "x1h", "24x", "24x1y", "0x1h", "24x1h |", "24xh", "-1x1h", "24x1.5h"}) {
    INFO(bad);
    auto r = ParseGrid(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == "zfs.bad_retention");
  }
  CHECK(ParseGrid("1x1h | 24x").error().message == "retention term '24x': expected COUNTxLENGTH, e.g. 24x1h");
}

TEST_CASE("our snapshot names carry their time") {
  const auto t = system_clock::from_time_t(1796400000);  // 2026-12-04T16:00:00Z
  CHECK(SnapshotName("dcops", t) == "dcops_20261204T160000Z");
  CHECK(TimeOfName("dcops", "dcops_20261204T160000Z") == 1796400000);
  CHECK_FALSE(TimeOfName("dcops", "other_20261204T152000Z"));
  CHECK_FALSE(TimeOfName("dcops", "dcops_20261399T152000Z"));
  CHECK_FALSE(TimeOfName("dcops", "dcops_20261204T152000"));
}

namespace {

Point Snap(std::int64_t t, std::uint64_t guid, const char* prefix = "dcops") {
  Point p;
  p.name = SnapshotName(prefix, system_clock::from_time_t(t));
  p.guid = guid;
  p.createtxg = guid;
  return p;
}

}  // namespace

TEST_CASE("pruning keeps the oldest per interval and nothing older than the grid") {
  const std::int64_t now = 1796400000;
  std::vector<Point> snaps;
  // One every 20 minutes for 5 hours: 15 snapshots.
  for (int i = 15; i >= 1; --i) snaps.push_back(Snap(now - i * 1200, static_cast<std::uint64_t>(16 - i)));
  PruneInput in;
  in.prefix = "dcops";
  in.grid = *ParseGrid("3x1h");
  in.keep_last = 1;
  in.now = now;
  const auto d = PlanPrune(snaps, in);
  CHECK(d.ours == 15);
  // Intervals (now-1h, now], (now-2h, now-1h], (now-3h, now-2h]: the oldest in each is at
  // -40m, -100m and -160m (i = 2, 5, 8); everything before -3h goes, and so do the others.
  std::vector<std::string> kept_names;
  for (const auto& s : snaps) {
    if (std::find(d.destroy.begin(), d.destroy.end(), s.name) == d.destroy.end()) kept_names.push_back(s.name);
  }
  CHECK(kept_names == std::vector<std::string>{SnapshotName("dcops", system_clock::from_time_t(now - 8 * 1200)),
                                               SnapshotName("dcops", system_clock::from_time_t(now - 5 * 1200)),
                                               SnapshotName("dcops", system_clock::from_time_t(now - 2 * 1200)),
                                               SnapshotName("dcops", system_clock::from_time_t(now - 1 * 1200))});
  REQUIRE(d.kept.size() == 1);
  CHECK(d.kept[0].why == "newest");
}

TEST_CASE("pruning never destroys others' snapshots, replication's base, unsent or held snapshots") {
  const std::int64_t now = 1796400000;
  std::vector<Point> snaps{Snap(now - 90000, 1), Snap(now - 80000, 2), Snap(now - 70000, 3), Snap(now - 60000, 4, "manual"),
                           Snap(now - 50000, 5)};
  snaps[2].userrefs = 1;
  PruneInput in;
  in.prefix = "dcops";
  in.grid = *ParseGrid("1x1h");
  in.keep_last = 1;
  in.now = now;
  in.protected_guids = {2};
  const auto d = PlanPrune(snaps, in);
  CHECK(d.ours == 4);
  CHECK(d.destroy == std::vector<std::string>{snaps[0].name});
  REQUIRE(d.kept.size() == 3);
  CHECK(d.kept[0].why == "replication");
  CHECK(d.kept[1].why == "held");
  CHECK(d.kept[2].why == "newest");
}

TEST_CASE("ours are exactly prefix and time: another pair's or an operator's names are not") {
  const std::int64_t now = 1796400000;
  std::vector<Point> snaps{Snap(now - 90000, 1), Snap(now - 80000, 2), Snap(now - 70000, 3)};
  snaps[1].name = "dcops_b_20261203T000000Z";   // a pair with prefix dcops_b
  snaps[2].name += ".1";                        // two of ours in one second
  Point keep = Snap(now - 60000, 4);
  keep.name = "dcops_keep";
  snaps.push_back(keep);
  PruneInput in{"dcops", *ParseGrid("1x1h"), 0, now, {}};
  const auto d = PlanPrune(snaps, in);
  CHECK(d.ours == 2);
  CHECK(d.destroy == std::vector<std::string>{snaps[0].name, snaps[2].name});
}

TEST_CASE("a snapshot from a clock ahead of ours is kept") {
  const std::int64_t now = 1796400000;
  std::vector<Point> snaps{Snap(now - 7200, 1), Snap(now + 600, 2)};
  PruneInput in{"dcops", *ParseGrid("1x1h"), 0, now, {}};
  const auto d = PlanPrune(snaps, in);
  CHECK(d.destroy == std::vector<std::string>{snaps[0].name});
}
