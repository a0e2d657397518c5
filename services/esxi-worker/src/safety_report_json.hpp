#pragma once
// A safety check's report as the step's result (stored, and shown by `dcops`):
//   {"cluster": {"moref", "name", "ha": {"enabled", "admission_control", "policy",
//                "failover_level", "cpu_reserve_percent", "memory_reserve_percent"},
//                "drs": {"enabled", "automation"}, "vsan": bool},
//    "hosts": {"total", "usable", "in_maintenance", "disconnected"},
//    "required": n, "required_by": ["HA tolerates 1 host failure(s)", …],
//    "verdicts": [{"host", "name", "usable", "can_enter_maintenance", "healthy_after",
//                  "blockers": [{"kind", "vm", "vm_name", "detail"}], "capacity_problems": […]}],
//    "safe": true when every host asked about can enter maintenance}
//
// Pure; thread-safe.
#include <string>

#include "safety_check.hpp"

namespace dcops::esxi {

std::string SafetyReportJson(const ClusterFacts& cluster, const SafetyReport& report);

}  // namespace dcops::esxi
