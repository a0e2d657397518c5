#pragma once
// inventory.ome_sync: every server OpenManage Enterprise manages, streamed to the dispatcher
// page by page as "ome.devices" batches, each device as the servers table takes it:
//   {"ome_device_id": 10042, "service_tag": "7XK2QF3", "bmc_address": "10.1.2.3",
//    "hostname": "r750-01", "model": "PowerEdge R750", "power_state": "On", "health": "OK"}
// A device that cannot be read, or has no service tag to match a server by, is reported in
// the result's "failed" with its id, and the sync goes on with the rest. The dispatcher
// applies the batches only when the step succeeds (servers OME no longer lists are marked
// then), so a failed sync leaves the previous inventory untouched.
//
// With details: true each server also carries its processors, memory, drives and installed
// firmware from …/Devices(id)/InventoryDetails (one more request per server; a device whose
// details cannot be read is kept without them and listed in "details_failed").
//
// Params: page_size (1..1000, default 200), details (default false), and "_endpoint"
// (address, from the dispatcher).
// Result: {"devices": n, "total": m, "batches": b, "failed": [{"id": 10077, "error": "…"}],
//          "details_failed": […] (with details)}.
// The OME session is deleted on every path. OME's cap of 100 sessions snoozes the step.
//
// Thread-safety: one step per call; the http::Client is shared and thread-safe.
#include <string>

#include "dcops/agent/step.hpp"
#include "dcops/http/client.hpp"
#include "dcops/ome/client.hpp"

namespace dcops::omesync {

agent::StepOutcome RunOmeSync(agent::StepContext& ctx, http::Client& http);

agent::StepRegistry MakeSteps(http::Client& http);

}  // namespace dcops::omesync
