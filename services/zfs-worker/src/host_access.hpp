#pragma once
// How a ZFS step reaches its hosts: the step's own host from `_endpoint` with the step's
// credentials, and (replication, pruning of a pair) the other host from `_peer` with the
// credential set the dispatcher released for it (`credential_sets`, matched by id). Both are
// objects the dispatcher adds at assignment from zfs_hosts:
//   {"id","name","address","ssh_port","ssh_user","host_key","credential_set_id"}
// A credential set's secret is a private key when it looks like one, else a password; its
// username wins over the host's ssh_user. `_first_contact` (an admin's job) lets a host with
// no pinned key be reached, and the key it presented goes back in the result.
// Pure (reads the assignment); thread-safe.
#include <string>

#include "dcops/agent/params.hpp"
#include "dcops/agent/step.hpp"
#include "dcops/ssh/session.hpp"

namespace dcops::zfs_worker {

struct HostAccess {
  std::string id, name;
  ssh::Endpoint endpoint;
  std::string Label() const;  // "backup-01 (127.0.0.3:22)"
};

// `which` is "_endpoint" or "_peer". step.params when the object or its credentials are missing.
Result<HostAccess> ReadHostAccess(const agent::Params& params, const agent::Assignment& a, const char* which);

}  // namespace dcops::zfs_worker
