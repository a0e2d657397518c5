#pragma once
// What the firmware update methods share: the installed versions before and after, and the
// final verification that the versions changed.
//
// Blocking: reads the BMC. Thread-safety: as the Client.
#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "dcops/agent/step.hpp"
#include "dcops/redfish/client.hpp"
#include "step_support.hpp"

namespace dcops::idrac {

// component id → (name, version) of the installed firmware (rollback images left out).
using FirmwareVersions = std::map<std::string, std::pair<std::string, std::string>>;

// The FirmwareInventory collection the root's UpdateService links (redfish.unsupported when the
// service has no update service or it lists no inventory).
Result<std::string> FirmwareInventoryOf(redfish::Client& bmc);
Result<FirmwareVersions> ReadFirmwareVersions(redfish::Client& bmc);
// As a checkpoint carries them: "id=version" lines.
std::string EncodeVersions(const FirmwareVersions& v);
std::map<std::string, std::string> DecodeVersions(const std::string& s);

// Waits for the BMC's inventory (the iDRAC may be restarting onto new firmware), then
// succeeds with {"tasks", "state": "updated", "updated": [{component_id, name, from, to}]}.
// `all_unchanged`: every job said the version was installed already ("state": "unchanged").
// Nothing changed otherwise is firmware.not_applied.
agent::StepOutcome VerifyFirmware(agent::StepContext& ctx, redfish::Client& bmc, const OperationOptions& options,
                                  const std::map<std::string, std::string>& before,
                                  const std::vector<std::string>& tasks, bool all_unchanged);

// Method repository (firmware_repository.cpp): Dell's InstallFromRepository from a catalog.
agent::StepOutcome RunRepositoryUpdate(agent::StepContext& ctx, redfish::Client& bmc, const OperationOptions& options,
                                       const std::string& catalog_url, const std::string& reboot, bool dry_run,
                                       std::chrono::milliseconds timeout);

}  // namespace dcops::idrac
