#pragma once
// The server inventory in words, independent of row ids and of when rows arrived: one line per
// server (labelled by its strongest evidence), one per vCenter host and what it links to, one
// per open identity conflict with the servers it names. Tests that apply the same sources in
// different orders compare these.
#include <string>

#include "dcops/db/connection.hpp"

namespace dcops::testing {

struct SnapshotColumns {
  bool pins = false;       // each server's certificate pin
  bool refreshed = false;  // whether a Redfish refresh wrote the server
};

// Blocking (one query); REQUIRE-s success.
std::string IdentitySnapshot(db::Connection& conn, SnapshotColumns columns = {});

}  // namespace dcops::testing
