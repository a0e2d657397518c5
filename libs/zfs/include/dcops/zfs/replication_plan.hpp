#pragma once
// What one replication of a dataset does, decided from both sides' listings before anything
// is sent (the resume of an interrupted receive is decided earlier, by the step):
//   up_to_date   the target already holds the snapshot (same guid), or a newer one of the
//                source's (a later replication overtook this one)
//   full         the target dataset does not exist; `receive` creates it
//   incremental  from the newest snapshot (or bookmark) whose guid both sides hold
//   no_common    the target exists but shares no snapshot with the source
//   diverged     the target holds snapshots after the common one that the source lacks
// `no_common` and `diverged` are refusals unless the job allows destroying target data
// (`allow_target_destroy`): then a forced receive (`receive -F`, which also rolls back changes
// made on the target since its last snapshot) and the decision names every snapshot it
// destroys. A full send over an existing target needs its snapshots destroyed first (OpenZFS
// refuses -F over snapshots): `destroys` lists them. Nothing here destroys anything on its
// own. Pure; thread-safe.
#include <string>
#include <vector>

#include "dcops/zfs/listing.hpp"

namespace dcops::zfs {

struct ReplicationOptions {
  bool intermediates = false;  // -I: send every snapshot between the common one and the new one
  bool allow_target_destroy = false;
};

struct ReplicationDecision {
  enum class Kind { kUpToDate, kFull, kIncremental, kNoCommon, kDiverged };
  Kind kind = Kind::kFull;
  std::string from;            // "@snap" or "#bookmark" (incremental), else ""
  std::uint64_t from_guid = 0;
  bool intermediates = false;  // send with -I (never from a bookmark: -I takes none)
  bool force = false;          // receive -F
  bool overtaken = false;      // up to date because a later replication brought a newer snapshot
  std::vector<std::string> destroys;  // target snapshots a forced receive destroys
  std::string message;         // why (refusals), or what the decision gives up (warnings)
};

const char* KindName(ReplicationDecision::Kind k);

// `to` is the short name of the source snapshot to bring over (it must be in `source`).
ReplicationDecision PlanReplication(const DatasetPoints& source, const DatasetPoints& target, const std::string& to,
                                    const ReplicationOptions& options);

}  // namespace dcops::zfs
