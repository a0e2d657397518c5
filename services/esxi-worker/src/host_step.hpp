#pragma once
// What the host steps (host.maintenance, host.reboot, host.esxi_upgrade) share: their input
// read once (params, and where the host is from the dispatcher's "_endpoint"), and the state a
// run holds: its context, the vCenter session, the host, and its written-ahead checkpoint.
//
// Thread-safety: one step's.
#include <string>

#include "dcops/agent/params.hpp"
#include "dcops/agent/step.hpp"
#include "dcops/vsphere/client.hpp"
#include "task_json.hpp"
#include "vcenter_target.hpp"

namespace dcops::esxi {

struct HostStepInput {
  agent::Params params;
  VcenterTarget target;
};
Result<HostStepInput> ReadHostStepInput(const agent::StepContext& ctx);

class HostStepRun {
 protected:
  HostStepRun(agent::StepContext& ctx, vsphere::Client& vcenter, const VcenterTarget& target, HostCheckpoint cp)
      : ctx_(ctx), vcenter_(vcenter), target_(target), cp_(std::move(cp)) {}

  std::string Host() const { return target_.host_name; }
  // Saves `cp` as the step's checkpoint (and keeps it on success). What an earlier phase
  // learned (`target`, `build_before`, `host_key`) outlives phases that do not name it: a
  // reboot inside an upgrade keeps the build the upgrade expects.
  Status Save(HostCheckpoint cp) {
    if (cp.target.empty()) cp.target = cp_.target;
    if (cp.build_before.empty()) cp.build_before = cp_.build_before;
    if (cp.host_key.empty()) cp.host_key = cp_.host_key;
    auto st = ctx_.SaveCheckpoint(HostCheckpointJson(cp));
    if (st) cp_ = std::move(cp);
    return st;
  }

  agent::StepContext& ctx_;
  vsphere::Client& vcenter_;
  const VcenterTarget& target_;
  HostCheckpoint cp_;
};

}  // namespace dcops::esxi
