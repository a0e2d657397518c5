#pragma once
// host.esxi_upgrade: an ESXi host updated to an image profile from a depot with esxcli over
// SSH, rebooted, and the new build proven from vCenter.
//
// In order: the host must be in maintenance; its SSH service (TSM-SSH) is started through the
// vSphere API when it is off and stopped again afterwards, on every path; SSH with the host's
// key pinned (`_endpoint.ssh_host_key`; a host with none is reached only when the job allows
// first contact, `_first_contact`, and the key it presented is in the result for the
// dispatcher to record); `esxcli software sources profile list` must list the profile;
// `esxcli system version get` gives the running build (a profile whose build is not newer is
// "already_current" when equal, refused as a downgrade when older); `esxcli storage filesystem
// list` must show at least `min_free_mb` free on the OSDATA volume; then `esxcli software
// profile update` (written ahead), the reboot as host.reboot does it, and vCenter's
// config.product.build must be the profile's.
//
// Retries: after the update ("updated") or inside the reboot ("sending"/"sent") a retry goes on
// with the reboot and the proof; an update interrupted mid-way ("updating") is run again
// (esxcli installs the same image; nothing is lost).
//
// Params: depot (URL or /vmfs/volumes path), profile, build (optional: when the profile's name
// carries no build), min_free_mb (default 1024), timeout_seconds (the update and the reboot
// each, default 1800). Credentials: the vCenter's, and the host's SSH set in
// `credential_sets` (a key or a password; root on ESXi).
//
// Thread-safety: one step per call; the http::Client is shared and thread-safe.
#include <functional>
#include <memory>

#include "dcops/agent/step.hpp"
#include "dcops/http/client.hpp"
#include "dcops/ssh/session.hpp"

namespace dcops::esxi {

// How the step reaches a host's shell (ssh::Session::Connect in production).
using ShellConnector = std::function<Result<std::unique_ptr<ssh::Session>>(const ssh::Endpoint&)>;

agent::StepOutcome RunUpgrade(agent::StepContext& ctx, http::Client& http, const ShellConnector& connect);

}  // namespace dcops::esxi
