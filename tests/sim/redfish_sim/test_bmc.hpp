#pragma once
// One simulated BMC with short timings, for the simulator's own tests (no network).
#include "bmc.hpp"

namespace dcops::sim {

inline Bmc MakeTestBmc() {
  Identity id;
  id.address = "127.0.1.1";
  id.service_tag = "ABC1234";
  id.model = "PowerEdge R750";
  id.bmc_firmware = "7.00.00.171";
  id.bios_version = "1.10.2";
  id.cpu_model = "Intel";
  Timing t;
  t.restart = milliseconds(2000);
  t.job_run = milliseconds(1000);
  t.idrac_restart = milliseconds(5000);
  t.download = milliseconds(500);
  return Bmc(id, t, 8, "root", "calvin", 7);
}

}  // namespace dcops::sim
