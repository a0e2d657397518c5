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
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

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

// How a step reaches a host's shell (ssh::Session::Connect in production).
using ShellConnector = std::function<Result<std::unique_ptr<ssh::Session>>(const ssh::Endpoint&)>;

// (host id, "SHA256:…") of hosts first reached by this step, for the result: the dispatcher pins
// them (never over a pinned key) and audits it.
using NewHostKeys = std::vector<std::pair<std::string, std::string>>;

// Connects to `h`. A first contact is a warning event and goes into `keys`.
Result<std::unique_ptr<ssh::Session>> ConnectHost(agent::StepContext& ctx, const ShellConnector& connect, const HostAccess& h,
                                                  NewHostKeys& keys);
// "new_host_keys": [{"host_id":…,"host_key":…}] as JSON text.
std::string NewHostKeysJson(const NewHostKeys& keys);

}  // namespace dcops::zfs_worker
