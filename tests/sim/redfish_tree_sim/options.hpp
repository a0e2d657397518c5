#pragma once
// The command line of redfish-tree-sim:
//   --tree DIR --password-file F [--address 127.0.x.y] [--port P] [--user root]
//   [--auth auto|session|basic] [--page-size N] [--self-next-link URI]... [--invisible-restart]
//   [--restart-ms MS] [--task-ms MS] [--control-port P]
//
// Blocks on reading the password file. Thread-safety: pure apart from that read.
#include <string>

#include "dcops/common/result.hpp"
#include "loopback.hpp"  // IsLoopback: the address check ParseOptions applies
#include "sim_types.hpp"

namespace dcops::sim::tree {

Result<SimOptions> ParseOptions(int argc, const char* const* argv);

}  // namespace dcops::sim::tree
