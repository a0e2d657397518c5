// A step's params as every agent reads them: any JSON, then typed reads of its keys.
#include "dcops/agent/params.hpp"
#include "fuzz_target.hpp"

FUZZ_TARGET {
  auto params = dcops::agent::Params::Parse(dcops::fuzz::Text(data, size));
  if (!params) return 0;
  for (const char* key : {"action", "dataset", "attributes", "uri", "hosts", "timeout_seconds", "details"}) {
    (void)params->Text(key);
    (void)params->Text(key, {"On", "ForceOff"});
    (void)params->Flag(key);
    (void)params->Int(key, 1, 3600);
    (void)params->TextList(key);
    (void)params->Raw(key);
  }
  return 0;
}
