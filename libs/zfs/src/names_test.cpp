#include "dcops/zfs/names.hpp"

#include <catch2/catch.hpp>
#include <string>

using namespace dcops::zfs;

TEST_CASE("dataset, snapshot and bookmark names follow ZFS's grammar") {
  CHECK(CheckDataset("tank"));
  CHECK(CheckDataset("tank/vm-01/disk_0.img:a"));
  CHECK(CheckDataset("tank/with space"));
  CHECK(CheckSnapshot("tank/a@dcops_20261204T120000Z"));
  CHECK(CheckBookmark("tank/a#cursor"));
  CHECK(CheckPool("backup2"));
}

TEST_CASE("names with shell metacharacters, option look-alikes and bad structure are refused [attack]") {
  for (const char* bad : {"tank/a;rm -rf /", "tank/$(reboot)", "tank/`id`", "tank/a|b", "tank/a&b", "tank/a\nb", "tank/a'b",
                          "tank/a\"b", "tank/a>b", "tank/*", "tank/a\\b", "tank/a%b", "-o/x", "tank/-F", "tank//a", "tank/", "/tank",
                          "tank/..", "tank/.", "", "tank/a@b", "tank/a#b"}) {
    INFO(bad);
    const auto st = CheckDataset(bad);
    REQUIRE_FALSE(st);
    CHECK(st.error().code == "zfs.bad_name");
  }
  CHECK_FALSE(CheckSnapshot("tank/a"));
  CHECK_FALSE(CheckSnapshot("tank/a@"));
  CHECK_FALSE(CheckSnapshot("tank/a@b@c"));
  CHECK_FALSE(CheckSnapshot("tank/a@-n"));
  CHECK_FALSE(CheckSnapshot("tank/a@x/y"));
  CHECK_FALSE(CheckSnapshot("tank/a@x$(id)"));
  CHECK_FALSE(CheckBookmark("tank/a@x"));
  CHECK_FALSE(CheckShortName("a/b", "prefix"));
  CHECK_FALSE(CheckHoldTag("-r"));
  CHECK_FALSE(CheckHoldTag("a b"));
  CHECK(CheckHoldTag("dcops-repl-1a2b3c4d"));
}

TEST_CASE("a refusal says which rule the name broke") {
  auto st = CheckDataset("tank/a;b");
  REQUIRE_FALSE(st);
  CHECK(st.error().message == "dataset 'tank/a;b': ';' is not allowed (letters, digits and _ - . : space only)");
  st = CheckDataset("1tank/a");
  REQUIRE_FALSE(st);
  CHECK(st.error().message == "dataset '1tank/a': its pool name: starts with a letter");
  st = CheckPool("mirror1");
  REQUIRE_FALSE(st);
  CHECK(st.error().message == "pool 'mirror1': 'mirror' is reserved");
  st = CheckDataset(std::string(256, 'a'));
  REQUIRE_FALSE(st);
  CHECK(st.error().message.find("longer than 255") != std::string::npos);
  st = CheckDataset(std::string("tank/a\x01", 7));
  REQUIRE_FALSE(st);
  CHECK(st.error().message.find("byte 0x01") != std::string::npos);
}

TEST_CASE("the dataset and short parts of qualified names") {
  CHECK(DatasetOf("tank/a@s") == "tank/a");
  CHECK(DatasetOf("tank/a#b") == "tank/a");
  CHECK(DatasetOf("tank/a") == "tank/a");
  CHECK(ShortNameOf("tank/a@s") == "s");
  CHECK(ShortNameOf("tank/a") == "");
}
