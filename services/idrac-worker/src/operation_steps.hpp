#pragma once
// The idrac-worker's operations besides power and refresh. Each is one step on one server:
// it reads the state first and acts only when the state differs (so a retried step is
// harmless), records in its checkpoint what it started, and fails with a clear error when
// the BMC answers something Redfish does not allow.
//
//   server.credential_test   proves the assigned credentials with a session of their own,
//                            then deletes it; changes nothing.
//   server.idrac_reset       Manager.Reset, written ahead; waits until the iDRAC has
//                            restarted (LastResetTime moved, or it was seen unreachable) and
//                            then answers healthily `healthy_reads` times in a row.
//   server.job_queue_clear   Dell DeleteJobQueue (JID_CLEARALL, or _FORCE), then checks the
//                            queue is empty.
//   server.boot              one-time (Once) or persistent (Continuous) boot override and/or
//                            a persistent BootOrder, verified by reading back. The reboot a
//                            job asks for is a server.power step the planner adds after it.
//   server.virtual_media     insert (ejecting a different image first) or eject on the CD or
//                            removable-disk device, optionally with a one-time boot from it.
//   server.bios              reads the attributes; or sets the ones that differ as pending
//                            settings with an apply time (OnReset: left pending; Immediate:
//                            the BIOS job is followed through the iDRAC's reboot and the
//                            values are verified). Unknown attributes are refused up front.
//   server.idrac_settings    reads the iDRAC's attributes, or sets the ones that differ and
//                            reads them back (they apply at once); passwords are refused.
//   server.firmware_update   SimpleUpdate with an image URI, packages pushed from the worker's
//                            package directory, or a Dell catalog repository (listed first):
//                            LC ready first, host updates staged and applied by one reboot
//                            when the job allows it, the iDRAC last (waited out until it has
//                            restarted and is healthy), each job followed to its end, then
//                            the new versions verified.
//   server.scp_export        a Server Configuration Profile (XML or JSON, chosen components),
//                            checked whole; the dispatcher keeps it as a backup.
//   server.scp_import        a backup previewed on this server, then imported with a shutdown
//                            type and end power state; the import is written ahead.
//   server.logs              SEL and Lifecycle log records newer than where the last
//                            collection stopped (the dispatcher hands the cursors over).
//
// Blocking: each runs to its end, bounded by OperationOptions; cancellable at every wait.
#include "dcops/agent/step.hpp"
#include "dcops/redfish/client.hpp"
#include "step_support.hpp"

namespace dcops::idrac {

agent::StepOutcome RunCredentialTest(agent::StepContext& ctx, redfish::Client& bmc);
agent::StepOutcome RunIdracReset(agent::StepContext& ctx, redfish::Client& bmc, const OperationOptions& options);
agent::StepOutcome RunJobQueueClear(agent::StepContext& ctx, redfish::Client& bmc);
agent::StepOutcome RunBoot(agent::StepContext& ctx, redfish::Client& bmc);
agent::StepOutcome RunVirtualMedia(agent::StepContext& ctx, redfish::Client& bmc);
agent::StepOutcome RunBios(agent::StepContext& ctx, redfish::Client& bmc, const OperationOptions& options);
agent::StepOutcome RunIdracSettings(agent::StepContext& ctx, redfish::Client& bmc);
agent::StepOutcome RunScpExport(agent::StepContext& ctx, redfish::Client& bmc, const OperationOptions& options);
agent::StepOutcome RunScpImport(agent::StepContext& ctx, redfish::Client& bmc, const OperationOptions& options);
agent::StepOutcome RunLogs(agent::StepContext& ctx, redfish::Client& bmc);
agent::StepOutcome RunFirmwareUpdate(agent::StepContext& ctx, redfish::Client& bmc, const OperationOptions& options);

// Sets a one-time boot override to `target` ("Pxe", "Cd", "Usb", …) unless it is already set;
// the target must be one the BMC allows. Shared by boot and virtual media.
Status SetBootOverride(redfish::Client& bmc, const std::string& target, const std::string& enabled);

}  // namespace dcops::idrac
