#include "dcops/zfs/listing.hpp"

#include <catch2/catch.hpp>

#include "dcops/zfs/capabilities.hpp"

using namespace dcops::zfs;

// As zfs-fuse 0.7 printed it for `zfs get -H -p -r -d 1 -o name,property,value guid,createtxg,userrefs,type`.
static const char* kLegacyGet =
    "zt1/data\tguid\t6884850997821284857\n"
    "zt1/data\tcreatetxg\t7\n"
    "zt1/data\tuserrefs\t-\n"
    "zt1/data\ttype\tfilesystem\n"
    "zt1/data@s2\tguid\t10274885881085511295\n"
    "zt1/data@s2\tcreatetxg\t20\n"
    "zt1/data@s2\tuserrefs\t0\n"
    "zt1/data@s2\ttype\tsnapshot\n"
    "zt1/data@s1\tguid\t12496656371609721198\n"
    "zt1/data@s1\tcreatetxg\t13\n"
    "zt1/data@s1\tuserrefs\t1\n"
    "zt1/data@s1\ttype\tsnapshot\n"
    "zt1/data/child@s1\tguid\t1\n"
    "zt1/data/child@s1\tcreatetxg\t14\n";

TEST_CASE("snapshots and bookmarks of one dataset come out oldest first with exact numbers") {
  auto entries = ParseGet(kLegacyGet);
  REQUIRE(entries);
  auto points = PointsOf(*entries, "zt1/data");
  REQUIRE(points);
  CHECK(points->exists);
  REQUIRE(points->snapshots.size() == 2);  // the child's snapshot is not the dataset's
  CHECK(points->snapshots[0].name == "s1");
  CHECK(points->snapshots[0].guid == 12496656371609721198ull);
  CHECK(points->snapshots[0].userrefs == 1);
  CHECK(points->snapshots[1].name == "s2");
  CHECK(points->resume_token.empty());
  auto with_bookmark = ParseGet("tank/a\treceive_resume_token\t1-abc-def\ntank/a#b1\tguid\t5\ntank/a#b1\tcreatetxg\t3\n");
  REQUIRE(with_bookmark);
  auto p = PointsOf(*with_bookmark, "tank/a");
  REQUIRE(p);
  CHECK(p->resume_token == "1-abc-def");
  REQUIRE(p->bookmarks.size() == 1);
  CHECK(p->bookmarks[0].guid == 5);
}

TEST_CASE("a listing that is not name, property and value is refused, quoting the line") {
  auto bad = ParseGet("NAME  PROPERTY  VALUE  SOURCE\n");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == "zfs.unexpected_output");
  auto humanized = ParseGet("tank/a@s\tguid\t10.8E\ntank/a@s\tcreatetxg\t3\n");
  REQUIRE(humanized);
  auto p = PointsOf(*humanized, "tank/a");
  REQUIRE_FALSE(p);
  CHECK(p.error().message == "tank/a@s has no numeric guid and createtxg in the listing");
}

TEST_CASE("capabilities: OpenZFS feature flags against an old pool version") {
  const auto modern = ProbeResult(true, "zfs-2.1.11-1\nzfs-kmod-2.1.11-1\n",
                                  "version\t-\nfeature@bookmarks\tenabled\nfeature@extensible_dataset\tactive\n"
                                  "feature@encryption\tdisabled\nfeature@large_blocks\tenabled\n");
  CHECK(modern.openzfs);
  CHECK(modern.software == "OpenZFS 2.1.11");
  CHECK(modern.pool_version == 5000);
  CHECK(modern.bookmarks);
  CHECK(modern.resume);
  CHECK_FALSE(modern.raw_send);
  CHECK(modern.large_blocks);
  CHECK(modern.send_estimate);
  CHECK(modern.holds);
  // zfs-fuse: `zfs version` is an unknown command, `zpool get version` has a header.
  const auto legacy = ProbeResult(false, "unrecognized command 'version'\n", "NAME  PROPERTY  VALUE    SOURCE\nzt1   version   23       default\n");
  CHECK_FALSE(legacy.openzfs);
  CHECK(legacy.pool_version == 23);
  CHECK(legacy.software == "ZFS (pool version 23)");
  CHECK_FALSE(legacy.bookmarks);
  CHECK_FALSE(legacy.resume);
  CHECK_FALSE(legacy.raw_send);
  CHECK_FALSE(legacy.send_estimate);
  CHECK(legacy.holds);
  CHECK(CapabilitiesJson(legacy) ==
        R"j({"software":"ZFS (pool version 23)","openzfs":false,"pool_version":23,"bookmarks":false,"resume":false,)j"
        R"j("raw_send":false,"large_blocks":false,"send_estimate":false,"holds":true})j");
  CHECK(ParseZfsVersion("zfs-kmod-2.2.0-1\n") == "");
  CHECK(ParseZfsVersion("zfs-2.2.2-1\nzfs-kmod-2.2.2-1\n") == "2.2.2");
}
