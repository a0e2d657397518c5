#pragma once
// The Assign message of a claimed step: the step, the target's TLS trust and pacing, and the
// device credentials decrypted just in time. Part of the gRPC-facing server library (it
// builds a protocol message); the password is registered for redaction before it is used.
//
// Thread-safety: a pure function of its arguments, apart from the redaction registry
// (itself thread-safe). Blocking: database reads: the credential set the step names, and
// what a step needs at run time (server.logs: where the last collection stopped;
// server.scp_import: the backup to import, a missing one is step.params).

#include "control_plane.hpp"
#include "dcops/agent/v1/agent.pb.h"
#include "dcops/common/redact.hpp"
#include "dcops/tls/secret_box.hpp"

namespace dcops::dispatcher {

// Fails with kStepMustWait (step_results.hpp) while a host must wait for its cluster's
// maintenance slot, and with step.credentials when the step's credential set is missing or does not open
// with this dispatcher's key (the message names the target, never a secret).
Result<agent::v1::DispatcherMessage> BuildAssign(ControlPlane& cp, const ClaimedStep& step,
                                                 const tls::SecretBox& secrets, SecretRegistry& redact,
                                                 int min_interval_ms);

}  // namespace dcops::dispatcher
