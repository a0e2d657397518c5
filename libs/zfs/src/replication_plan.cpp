#include "dcops/zfs/replication_plan.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace dcops::zfs {

const char* KindName(ReplicationDecision::Kind k) {
  switch (k) {
    case ReplicationDecision::Kind::kUpToDate: return "up_to_date";
    case ReplicationDecision::Kind::kFull: return "full";
    case ReplicationDecision::Kind::kIncremental: return "incremental";
    case ReplicationDecision::Kind::kNoCommon: return "no_common";
    case ReplicationDecision::Kind::kDiverged: return "diverged";
  }
  return "?";
}

namespace {

std::string Names(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < 8; ++i) out += (i ? ", @" : "@") + names[i];
  if (names.size() > 8) out += fmt::format(" and {} more", names.size() - 8);
  return out;
}

}  // namespace

ReplicationDecision PlanReplication(const DatasetPoints& source, const DatasetPoints& target, const std::string& to,
                                    const ReplicationOptions& options) {
  using Kind = ReplicationDecision::Kind;
  ReplicationDecision d;
  const auto to_it = std::find_if(source.snapshots.begin(), source.snapshots.end(), [&](const Point& p) { return p.name == to; });
  const std::uint64_t to_txg = to_it == source.snapshots.end() ? UINT64_MAX : to_it->createtxg;
  if (!target.exists) {
    d.kind = Kind::kFull;
    return d;
  }
  std::set<std::uint64_t> on_target;
  for (const auto& p : target.snapshots) on_target.insert(p.guid);
  if (to_it != source.snapshots.end() && on_target.count(to_it->guid) != 0) {
    d.kind = Kind::kUpToDate;
    return d;
  }
  // A later replication already brought something newer (this one waited in a retry): never
  // send an older snapshot over it, and never count what it brought as divergence.
  for (const auto* list : {&source.snapshots, &source.bookmarks}) {
    for (const auto& p : *list) {
      if (p.createtxg > to_txg && to_txg != UINT64_MAX && on_target.count(p.guid) != 0) {
        d.kind = Kind::kUpToDate;
        d.overtaken = true;
        d.message = fmt::format("the target already holds {}{}, newer than @{}: nothing to send", list == &source.bookmarks ? "#" : "@",
                                p.name, to);
        return d;
      }
    }
  }
  // The newest source point older than `to` whose guid the target holds; a snapshot wins a tie
  // with its own bookmark (it allows -I).
  const Point* common = nullptr;
  bool common_is_bookmark = false;
  for (const auto* list : {&source.snapshots, &source.bookmarks}) {
    for (const auto& p : *list) {
      if (p.createtxg >= to_txg || on_target.count(p.guid) == 0) continue;
      if (common == nullptr || p.createtxg > common->createtxg) {
        common = &p;
        common_is_bookmark = list == &source.bookmarks;
      }
    }
  }
  if (common == nullptr) {
    std::vector<std::string> all;
    for (const auto& p : target.snapshots) all.push_back(p.name);
    d.kind = Kind::kNoCommon;
    d.message = target.snapshots.empty()
                    ? "the target dataset exists and has no snapshot: nothing to send an increment onto"
                    : fmt::format("the target dataset shares no snapshot with the source (it holds {})", Names(all));
    if (!options.allow_target_destroy) {
      d.message += "; nothing was sent. Replicate into a new dataset, or allow the job to destroy the target (allow_target_destroy)";
      return d;
    }
    d.kind = Kind::kFull;
    d.force = true;
    d.destroys = all;
    d.message += "; a forced full receive replaces the target dataset and its snapshots";
    return d;
  }
  // Target snapshots after the common one: the target moved on its own.
  std::uint64_t common_txg_on_target = 0;
  for (const auto& p : target.snapshots) {
    if (p.guid == common->guid) common_txg_on_target = p.createtxg;
  }
  std::vector<std::string> newer;
  for (const auto& p : target.snapshots) {
    if (p.createtxg > common_txg_on_target) newer.push_back(p.name);
  }
  d.from = (common_is_bookmark ? "#" : "@") + common->name;
  d.from_guid = common->guid;
  d.kind = Kind::kIncremental;
  d.intermediates = options.intermediates && !common_is_bookmark;
  if (options.intermediates && common_is_bookmark) {
    d.message = fmt::format("the common point is the bookmark #{} (its snapshot is gone): sent with -i, so the snapshots between "
                            "it and @{} are not sent",
                            common->name, to);
  }
  if (options.allow_target_destroy) {
    // -F also rolls back changes made on the target since its last snapshot.
    d.force = true;
  }
  if (!newer.empty()) {
    d.destroys = newer;
    const std::string what = fmt::format("the target has diverged: it holds {} after the common snapshot {}{} that the source does not",
                                         Names(newer), common_is_bookmark ? "#" : "@", common->name);
    if (!options.allow_target_destroy) {
      d.kind = Kind::kDiverged;
      d.message = what + "; nothing was sent. Look at the target's snapshots, or allow the job to destroy them (allow_target_destroy)";
      return d;
    }
    d.force = true;
    d.message = what + "; a forced receive destroys them";
  }
  return d;
}

}  // namespace dcops::zfs
