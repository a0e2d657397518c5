#pragma once
// server.refresh: the full inventory of one server, read-only.
//   always:      service root, the first ComputerSystem, the first Manager, the Lifecycle
//                Controller state (Dell only)
//   components:  processors, memory, storage (controllers, drives, volumes), network (ports
//                and MACs), firmware (installed versions); params {"components": [...]}
//                narrows the list, and a list left out is left untouched in the database.
// Collections are read with $expand where the BMC advertises it, else member by member.
// Identity: service_tag only for a Dell (the root's Oem/Dell/ServiceTag, else the system's SKU
// when the root or the system's Manufacturer says Dell); other vendors' rows have no
// service_tag key and are known by manufacturer + serial_number, else system_uuid (their SKU
// is a part number shared by a model, and placeholders such as "Default string" are passed
// through for the database to discard). Model is optional, as in the schema.
// The result is one JSON object for dispatcher_v1_upsert_server_inventory. Any document that
// is not what Redfish says fails the step with the resource and field named.
#include "dcops/agent/step.hpp"
#include "dcops/redfish/client.hpp"

namespace dcops::idrac {

agent::StepOutcome RunRefresh(agent::StepContext& ctx, redfish::Client& bmc);

}  // namespace dcops::idrac
