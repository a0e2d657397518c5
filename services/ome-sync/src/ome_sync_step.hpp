#pragma once
// inventory.ome_sync: every server OpenManage Enterprise manages, streamed to the dispatcher
// page by page as "ome.devices" batches (device_json.hpp has the shape), each batch at most
// the stream's limit whatever the page size (agent::InventoryBatcher). A device that cannot be
// read, or has no service tag to match a server by, is reported in the result's "failed" with
// its id, and the sync goes on with the rest. The dispatcher applies the batches only when the
// step succeeds (servers OME no longer lists are marked then), so a failed sync leaves the
// previous inventory untouched.
//
// With details: true each server also carries its processors, memory, drives, storage
// controllers, NICs, power supplies and installed firmware from …/Devices(id)/InventoryDetails,
// read `details_parallelism` at a time over the sync's one session (OME serves a session's
// requests concurrently, so the endpoint's session cap is not touched). A server whose details
// OME cannot give (an HTTP error, an answer that is not a collection, a time-out, details too
// big for one batch) is sent without them and listed in "details_failed"; a lost session or
// connection ends the sync. A sync in which no device, or no server's details, could be read
// fails: there is nothing to trust in it.
//
// Params: page_size (1..1000, default 200), details (default false), details_parallelism
// (1..16, default 4), and "_endpoint" (address, from the dispatcher).
// Result: {"devices": n, "total": m, "batches": b, "failed": [{"id": 10077, "error": "…"}],
//          "details_read": k, "details_failed": […] (with details)}.
// Every failed device is an event too (the first 20, then a count) and a warning line.
// The OME session is deleted on every path. OME refusing a session for its limits snoozes the
// step (the attempt is not used).
//
// Thread-safety: one step per call; the http::Client is shared and thread-safe.
#include "dcops/agent/step.hpp"
#include "dcops/http/client.hpp"

namespace dcops::omesync {

agent::StepOutcome RunOmeSync(agent::StepContext& ctx, http::Client& http);

agent::StepRegistry MakeSteps(http::Client& http);

}  // namespace dcops::omesync
