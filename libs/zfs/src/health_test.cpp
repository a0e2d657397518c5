#include "dcops/zfs/health.hpp"

#include <catch2/catch.hpp>

using namespace dcops::zfs;

TEST_CASE("sizes: exact with -p, rounded and marked so without") {
  CHECK(ParseSize("1234")->bytes == 1234);
  CHECK(ParseSize("1234")->exact);
  CHECK(ParseSize("250M")->bytes == 250ull * 1024 * 1024);
  CHECK_FALSE(ParseSize("250M")->exact);
  CHECK(ParseSize("5.86M")->bytes == static_cast<std::uint64_t>(5.86 * 1024 * 1024));
  CHECK(ParseSize("0B")->bytes == 0);
  CHECK_FALSE(ParseSize("-"));
  CHECK_FALSE(ParseSize("lots"));
  CHECK_FALSE(ParseSize("5Q"));
  // Found by fuzzing: what a double holds but a byte count cannot.
  CHECK_FALSE(ParseSize("nan"));
  CHECK_FALSE(ParseSize("inf"));
  CHECK_FALSE(ParseSize("11872999999999999999999999999934704"));
  CHECK_FALSE(ParseSize("16E"));  // 2^64 exactly
  CHECK(ParseSize("15E")->bytes == 15ull << 60);
}

TEST_CASE("zpool list rows, exact and rounded") {
  auto rows = ParsePoolList("tank\t1073741824\t524288\t1073217536\t0\tONLINE\t3\nzt1\t250M\t5.86M\t244M\t2%\tDEGRADED\n");
  REQUIRE(rows);
  REQUIRE(rows->size() == 2);
  CHECK((*rows)[0].size->bytes == 1073741824);
  CHECK((*rows)[0].fragmentation_percent == 3);
  CHECK((*rows)[1].health == "DEGRADED");
  CHECK((*rows)[1].capacity_percent == 2);
  CHECK_FALSE((*rows)[1].fragmentation_percent);
  CHECK_FALSE(ParsePoolList("tank 1 2 3 4 ONLINE\n"));
}

TEST_CASE("zpool status of zfs-fuse (scrub:) as it printed it") {
  auto pools = ParsePoolStatus(
      "  pool: zt1\n state: ONLINE\n scrub: none requested\nconfig:\n\n\tNAME          STATE     READ WRITE CKSUM\n"
      "\tzt1           ONLINE       0     0     0\n\t  /tmp/zf/d1  ONLINE       0     0     0\n\nerrors: No known data errors\n");
  REQUIRE(pools);
  REQUIRE(pools->size() == 1);
  const auto& p = pools->front();
  CHECK(p.name == "zt1");
  CHECK(p.state == "ONLINE");
  CHECK(p.scrub_state == "none");
  CHECK(p.errors == "No known data errors");
  CHECK(p.data_errors == 0);
  CHECK(p.degraded_devices.empty());
}

TEST_CASE("zpool status of a degraded OpenZFS pool after a scrub with errors") {
  auto pools = ParsePoolStatus(
      "  pool: tank\n state: DEGRADED\nstatus: One or more devices could not be used because the label is missing or\n"
      "\tinvalid.  Sufficient replicas exist for the pool to continue\n\tfunctioning in a degraded state.\n"
      "action: Replace the device using 'zpool replace'.\n   see: https://openzfs.github.io/openzfs-docs/msg/ZFS-8000-4J\n"
      "  scan: scrub repaired 0B in 00:00:03 with 2 errors on Sun Nov 29 10:00:01 2026\nconfig:\n\n"
      "\tNAME        STATE     READ WRITE CKSUM\n\ttank        DEGRADED     0     0     0\n\t  mirror-0  DEGRADED     0     0     0\n"
      "\t    sda     ONLINE       0     0     4\n\t    sdb     UNAVAIL      0     0     0\n\n"
      "errors: 2 data errors, use '-v' for a list\n");
  REQUIRE(pools);
  const auto& p = pools->front();
  CHECK(p.state == "DEGRADED");
  CHECK(p.status.find("label is missing or invalid.") != std::string::npos);
  CHECK(p.scrub_state == "finished");
  CHECK(p.scrub_errors == 2);
  CHECK(p.scrub_finished == "Sun Nov 29 10:00:01 2026");
  CHECK(p.checksum_errors == 4);
  CHECK(p.data_errors == 2);
  CHECK(p.degraded_devices == std::vector<std::string>{"tank DEGRADED", "mirror-0 DEGRADED", "sdb UNAVAIL"});
}
