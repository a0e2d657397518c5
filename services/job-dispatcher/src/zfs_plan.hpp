#pragma once
// Plans of the ZFS jobs (issue 19), each on "zfs:<zfs_host_id>" (target_scope.zfs_host_id;
// limits hold per host), with "_endpoint" for the dispatcher to read at assignment and
// "_first_contact" when an admin's job allows reaching a host whose key is not pinned:
//   zfs.replicate  "replicate", then "prune" (after it succeeded) when prune_source_grid is
//                  given: the pair's retention runs only after a successful replication
//   zfs.prune      "prune"
//   zfs.health     "health"
// Pure; thread-safe.
#include "planner.hpp"

namespace dcops::dispatcher {

Result<std::vector<PlannedStep>> PlanZfs(const JobToPlan& job, ServerDirectory& directory);

}  // namespace dcops::dispatcher
