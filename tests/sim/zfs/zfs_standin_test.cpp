// Runs the built zfs/zpool stand-in through /bin/sh pipelines, between two state directories that
// play the sending and the receiving host.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace {

struct Result {
  int status;
  std::string out, err;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class Hosts {
 public:
  Hosts() {
    char tmpl[] = "/tmp/zfs-standin-test-XXXXXX";
    char* d = mkdtemp(tmpl);
    REQUIRE(d != nullptr);
    dir_ = d;
    const std::string bin = DCOPS_ZFS_STANDIN;
    // Shell functions: `src zfs ...`, `dst zpool ...`.
    prelude_ = "src() { '" + bin + "' --state '" + dir_ + "/src' \"$@\"; }\n" +
               "dst() { '" + bin + "' --state '" + dir_ + "/dst' \"$@\"; }\n";
    run("src admin create-pool tank && dst admin create-pool backup");
  }
  ~Hosts() { std::filesystem::remove_all(dir_); }

  Result run(const std::string& script) {
    std::ofstream(dir_ + "/script.sh") << prelude_ << script << "\n";
    std::string cmd = "/bin/sh '" + dir_ + "/script.sh' >'" + dir_ + "/out' 2>'" + dir_ + "/err' </dev/null";
    int rc = std::system(cmd.c_str());
    return Result{WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, slurp(dir_ + "/out"), slurp(dir_ + "/err")};
  }

  // Runs and requires success; returns stdout.
  std::string ok(const std::string& script) {
    Result r = run(script);
    INFO(script << "\nstderr: " << r.err);
    REQUIRE(r.status == 0);
    return r.out;
  }

  const std::string& dir() const { return dir_; }

 private:
  std::string dir_, prelude_;
};

}  // namespace

TEST_CASE("zfs-standin: full then incremental send into receive carries content and guids", "[zfs-standin]") {
  Hosts h;
  h.ok("src zfs create tank/data && src admin write tank/data a 3000000 1 && src admin write tank/data b 1000 2 "
       "&& src zfs snapshot tank/data@s1");
  h.ok("src zfs send tank/data@s1 | dst zfs receive -u backup/data");
  std::string sg = h.ok("src zfs list -H -p -o guid tank/data@s1");
  std::string dg = h.ok("dst zfs list -H -p -o guid backup/data@s1");
  CHECK(sg == dg);
  CHECK(h.ok("dst zfs list -H -p -o referenced backup/data") == std::to_string(3001000 + 24576) + "\n");

  // Incremental: proportional to the change.
  h.ok("src admin write tank/data c 200000 3 && src zfs snapshot tank/data@s2");
  std::string est = h.ok("src zfs send -n -P -i @s1 tank/data@s2");
  CHECK(est.rfind("incremental\ts1\ttank/data@s2\t", 0) == 0);
  auto size_line = est.substr(est.find("size\t") + 5);
  uint64_t size = std::stoull(size_line);
  CHECK(size > 200000);
  CHECK(size < 300000);
  h.ok("src zfs send -i tank/data@s1 tank/data@s2 | dst zfs receive backup/data");
  CHECK(h.ok("dst zfs list -H -t snapshot -o name -r backup") == "backup/data@s1\nbackup/data@s2\n");
  CHECK(h.ok("dst zfs list -H -p -o referenced backup/data@s2") == std::to_string(3201000 + 24576) + "\n");

  // A full stream into the existing destination needs -F, and -F refuses when it has snapshots.
  Result r = h.run("src zfs send tank/data@s1 | dst zfs receive backup/data");
  CHECK(r.status == 1);
  CHECK(r.err == "cannot receive new filesystem stream: destination 'backup/data' exists\n"
                 "must specify -F to overwrite it\n");
  r = h.run("src zfs send tank/data@s1 | dst zfs receive -F backup/data");
  CHECK(r.err == "cannot receive new filesystem stream: destination has snapshots (eg. backup/data@s1)\n"
                 "must destroy them to overwrite it\n");
  // The parent must exist.
  r = h.run("src zfs send tank/data@s1 | dst zfs receive backup/no/such");
  CHECK(r.status == 1);
  CHECK(r.err.find("cannot receive new filesystem stream:") != std::string::npos);
}

TEST_CASE("zfs-standin: send -I carries the intermediate snapshots and a bookmark can be the base", "[zfs-standin]") {
  Hosts h;
  h.ok("src zfs create tank/d && src admin write tank/d f 1000 1 && src zfs snapshot tank/d@a "
       "&& src admin write tank/d g 2000 2 && src zfs snapshot tank/d@b "
       "&& src admin write tank/d h 3000 3 && src zfs snapshot tank/d@c");
  h.ok("src zfs send tank/d@a | dst zfs receive backup/d");
  std::string est = h.ok("src zfs send -nP -I @a tank/d@c");
  CHECK(est.find("incremental\ta\ttank/d@b\t") != std::string::npos);
  CHECK(est.find("incremental\tb\ttank/d@c\t") != std::string::npos);
  h.ok("src zfs send -I @a tank/d@c | dst zfs receive backup/d");
  CHECK(h.ok("dst zfs list -H -t snapshot -o name backup/d") == "backup/d@a\nbackup/d@b\nbackup/d@c\n");

  // Bookmark as base: the source snapshot is gone, the bookmark keeps its guid.
  h.ok("src zfs bookmark tank/d@c tank/d#c && src zfs destroy tank/d@a,b,c");
  CHECK(h.ok("src zfs list -H -p -t bookmark -o name,guid tank/d") ==
        "tank/d#c\t" + h.ok("dst zfs list -H -p -o guid backup/d@c").substr(0, 20 - 0).erase(
                             h.ok("dst zfs list -H -p -o guid backup/d@c").find('\n')) + "\n");
  h.ok("src admin remove tank/d f && src zfs snapshot tank/d@e");
  Result r = h.run("src zfs send -I tank/d#c tank/d@e");
  CHECK(r.status == 1);
  CHECK(r.err == "Error: Unsupported flag with filesystem or bookmark.\n");
  h.ok("src zfs send -i tank/d#c tank/d@e | dst zfs receive backup/d");
  CHECK(h.ok("dst zfs list -H -p -o referenced backup/d@e") == std::to_string(5000 + 24576) + "\n");
}

TEST_CASE("zfs-standin: bookmarks need feature@bookmarks", "[zfs-standin]") {
  Hosts h;
  h.ok("src admin create-pool old --no-feature bookmarks && src zfs create old/x && src zfs snapshot old/x@s");
  Result r = h.run("src zfs bookmark old/x@s old/x#b");
  CHECK(r.status == 1);
  CHECK(r.err == "cannot create bookmark 'old/x#b': bookmark feature not enabled\n");
  CHECK(h.ok("src zpool get -H -o value feature@bookmarks old") == "disabled\n");
}

TEST_CASE("zfs-standin: a truncated send is resumed from its token and -A aborts", "[zfs-standin]") {
  Hosts h;
  h.ok("src zfs create tank/big && src admin write tank/big a 5000000 1 && src admin write tank/big b 3000000 2 "
       "&& src zfs snapshot tank/big@s1");
  h.ok("src admin fault send-abort-after 4000000");
  Result r = h.run("src zfs send tank/big@s1 2>/dev/null | dst zfs receive -s backup/big");
  CHECK(r.status == 1);
  const std::string head =
      "cannot receive new filesystem stream: checksum mismatch or incomplete stream.\n"
      "Partially received snapshot is saved.\n"
      "A resuming stream can be generated on the sending system by running:\n"
      "    zfs send -t ";
  REQUIRE(r.err.rfind(head, 0) == 0);
  std::string token = r.err.substr(head.size());
  token.pop_back();
  CHECK(token.rfind("1-", 0) == 0);
  CHECK(h.ok("dst zfs get -H -o value receive_resume_token backup/big") == token + "\n");

  // A new, non-resuming receive is refused while the partial state exists.
  r = h.run("src zfs send tank/big@s1 | dst zfs receive -F backup/big");
  CHECK(r.err == "cannot receive new filesystem stream: destination backup/big contains "
                 "partially-complete state from \"zfs receive -s\".\n");

  // The token decodes on the sender, and the resumed stream is only the rest.
  std::string dump = h.ok("src zfs send -n -v -t " + token);
  CHECK(dump.rfind("resume token contents:\nnvlist version: 0\n", 0) == 0);
  CHECK(dump.find("\ttoname = tank/big@s1\n") != std::string::npos);
  CHECK(dump.find("\ttoguid = 0x") != std::string::npos);
  std::string rest = h.ok("src zfs send -t " + token + " | wc -c");
  CHECK(std::stoull(rest) < 5000000);  // the data after the last complete 1 MiB record
  h.ok("src zfs send -t " + token + " | dst zfs receive -s backup/big");
  CHECK(h.ok("dst zfs list -H -p -o guid backup/big@s1") == h.ok("src zfs list -H -p -o guid tank/big@s1"));
  CHECK(h.ok("dst zfs get -H -o value receive_resume_token backup/big") == "-\n");
  CHECK(h.ok("dst zfs list -H -p -o referenced backup/big") == std::to_string(8000000 + 24576) + "\n");

  // Abort: a partial incremental; then the state is gone and -A says so.
  h.ok("src admin write tank/big c 2000000 3 && src zfs snapshot tank/big@s2 && src admin fault send-abort-after 1000000");
  r = h.run("src zfs send -i @s1 tank/big@s2 2>/dev/null | dst zfs receive -s backup/big");
  CHECK(r.err.rfind("cannot receive incremental stream: checksum mismatch or incomplete stream.\n", 0) == 0);
  h.ok("dst zfs receive -A backup/big");
  r = h.run("dst zfs receive -A backup/big");
  CHECK(r.status == 1);
  CHECK(r.err == "'backup/big' does not have any resumable receive state to abort\n");
  // Without -s the partial data is discarded.
  h.ok("src admin fault send-abort-after 1000000");
  r = h.run("src zfs send -i @s1 tank/big@s2 2>/dev/null | dst zfs receive backup/big");
  CHECK(r.err == "cannot receive incremental stream: checksum mismatch or incomplete stream\n");
  CHECK(h.ok("dst zfs get -H -o value receive_resume_token backup/big") == "-\n");

  // A token whose snapshot is gone.
  h.ok("src admin fault send-abort-after 1000000");
  r = h.run("src zfs send -i @s1 tank/big@s2 2>/dev/null | dst zfs receive -s backup/big");
  std::string t2 = r.err.substr(r.err.find("zfs send -t ") + 12);
  t2.pop_back();
  h.ok("src zfs destroy tank/big@s2");
  r = h.run("src zfs send -t " + t2 + " >/dev/null");
  CHECK(r.status == 1);
  CHECK(r.err == "cannot resume send: 'tank/big@s2' used in the initial send no longer exists\n");
}

TEST_CASE("zfs-standin: receive -s needs feature@extensible_dataset", "[zfs-standin]") {
  Hosts h;
  h.ok("dst admin create-pool oldpool --no-feature extensible_dataset");
  h.ok("src zfs create tank/x && src zfs snapshot tank/x@s");
  Result r = h.run("src zfs send tank/x@s | dst zfs receive -s oldpool/x");
  CHECK(r.status == 1);
  CHECK(r.err == "cannot receive new filesystem stream: pool must be upgraded to receive this stream.\n");
}

TEST_CASE("zfs-standin: diverged and modified destinations are refused", "[zfs-standin]") {
  Hosts h;
  h.ok("src zfs create tank/d && src admin write tank/d f 1000 1 && src zfs snapshot tank/d@a "
       "&& src zfs send tank/d@a | dst zfs receive backup/d "
       "&& src admin write tank/d g 1000 2 && src zfs snapshot tank/d@b");
  h.ok("dst admin write backup/d local 10 9");
  Result r = h.run("src zfs send -i @a tank/d@b | dst zfs receive backup/d");
  CHECK(r.status == 1);
  CHECK(r.err == "cannot receive incremental stream: destination backup/d has been modified\n"
                 "since most recent snapshot\n");
  // -F rolls back and receives.
  h.ok("src zfs send -i @a tank/d@b | dst zfs receive -F backup/d");
  // Divergence: the destination's most recent snapshot is not the base.
  h.ok("dst zfs snapshot backup/d@own && src admin write tank/d h 1 && src zfs snapshot tank/d@c");
  r = h.run("src zfs send -i @b tank/d@c | dst zfs receive backup/d");
  CHECK(r.err == "cannot receive incremental stream: most recent snapshot of backup/d does not\n"
                 "match incremental source\n");
  // The snapshot name already exists on the destination with another guid.
  h.ok("dst zfs destroy backup/d@own && dst zfs snapshot backup/d@c");
  r = h.run("src zfs send -i @b tank/d@c | dst zfs receive backup/d");
  CHECK(r.err == "cannot restore to backup/d@c: destination already exists\n");
}

TEST_CASE("zfs-standin: holds block destroy, with the holds and release texts", "[zfs-standin]") {
  Hosts h;
  h.ok("src zfs create tank/d && src zfs snapshot tank/d@s && src zfs hold keep tank/d@s");
  Result r = h.run("src zfs destroy tank/d@s");
  CHECK(r.status == 1);
  CHECK(r.err == "cannot destroy snapshot tank/d@s: dataset is busy\n");
  r = h.run("src zfs hold keep tank/d@s");
  CHECK(r.err == "cannot hold snapshot 'tank/d@s': tag already exists on this dataset\n");
  std::string holds = h.ok("src zfs holds -H -p tank/d@s");
  CHECK(holds.rfind("tank/d@s\tkeep\t", 0) == 0);
  CHECK(h.ok("src zfs holds tank/d@s").rfind("NAME      TAG   TIMESTAMP\ntank/d@s  keep  ", 0) == 0);
  CHECK(h.ok("src zfs get -H -o value userrefs tank/d@s") == "1\n");
  r = h.run("src zfs destroy tank/d");
  CHECK(r.err == "cannot destroy 'tank/d': filesystem has children\n"
                 "use '-r' to destroy the following datasets:\ntank/d@s\n");
  h.ok("src zfs release keep tank/d@s");
  r = h.run("src zfs release keep tank/d@s");
  CHECK(r.err == "cannot release hold from snapshot 'tank/d@s': no such tag on this dataset\n");
  h.ok("src zfs destroy tank/d@s");
  r = h.run("src zfs list tank/d@s");
  CHECK(r.status == 1);
  CHECK(r.err == "cannot open 'tank/d@s': dataset does not exist\n");
}

TEST_CASE("zfs-standin: rollback refuses over newer snapshots without -r", "[zfs-standin]") {
  Hosts h;
  h.ok("src zfs create tank/d && src zfs snapshot tank/d@a && src zfs snapshot tank/d@b");
  Result r = h.run("src zfs rollback tank/d@a");
  CHECK(r.status == 1);
  CHECK(r.err == "cannot rollback to 'tank/d@a': more recent snapshots or bookmarks exist\n"
                 "use '-r' to force deletion of the following snapshots and bookmarks:\ntank/d@b\n");
  h.ok("src zfs rollback -r tank/d@a");
  CHECK(h.ok("src zfs list -H -o name -t snapshot tank/d") == "tank/d@a\n");
}

TEST_CASE("zfs-standin: list and get output", "[zfs-standin]") {
  Hosts h;
  h.ok("src zfs create tank/a && src zfs create -p tank/a/b/c && src zfs snapshot -r tank/a@s");
  CHECK(h.ok("src zfs list -H -o name -r tank") == "tank\ntank/a\ntank/a/b\ntank/a/b/c\n");
  CHECK(h.ok("src zfs list -H -o name -d 1 tank") == "tank\ntank/a\n");
  CHECK(h.ok("src zfs list -H -o name -t snapshot -r tank/a") == "tank/a@s\ntank/a/b@s\ntank/a/b/c@s\n");
  CHECK(h.ok("src zfs list -H -o name -t snap -d 1 tank/a") == "tank/a@s\n");
  std::string l = h.ok("src zfs list tank/a");
  CHECK(l.rfind("NAME    USED  AVAIL  REFER  MOUNTPOINT\ntank/a  ", 0) == 0);
  CHECK(h.ok("src zfs get -H -p -o name,property,value,source used,type tank/a/b") ==
        "tank/a/b\tused\t" + std::to_string(2 * 24576) + "\t-\ntank/a/b\ttype\tfilesystem\t-\n");
  CHECK(h.ok("src zfs get -H -o value,source mountpoint tank/a/b") == "/tank/a/b\tdefault\n");
  Result r = h.run("src zfs list -o bogus");
  CHECK(r.status == 2);
  CHECK(r.err.rfind("bad property list: invalid property 'bogus'\n", 0) == 0);
  CHECK(h.ok("src zfs version") == "zfs-2.1.11-1\nzfs-kmod-2.1.11-1\n");
}

TEST_CASE("zfs-standin: zpool status text", "[zfs-standin]") {
  Hosts h;
  CHECK(h.ok("src zpool status -x") == "all pools are healthy\n");
  CHECK(h.ok("src zpool status tank") ==
        "  pool: tank\n state: ONLINE\n  scan: none requested\nconfig:\n\n"
        "\tNAME        STATE     READ WRITE CKSUM\n"
        "\ttank        ONLINE       0     0     0\n"
        "\t  sda       ONLINE       0     0     0\n\n"
        "errors: No known data errors\n");
  h.ok("src admin set-scrub tank finished:1700000000:0 && src admin set-errors tank 4");
  std::string s = h.ok("src zpool status -x");
  CHECK(s.find("  scan: scrub repaired 0B in 00:00:03 with 0 errors on ") != std::string::npos);
  CHECK(s.find("errors: 4 data errors, use '-v' for a list\n") != std::string::npos);
  CHECK(s.find("status: One or more devices has experienced an error resulting in data\n") != std::string::npos);
  h.ok("src admin set-health tank DEGRADED");
  CHECK(h.ok("src zpool list -H -o name,health tank") == "tank\tDEGRADED\n");
  Result r = h.run("src zpool status nopool");
  CHECK(r.status == 1);
  CHECK(r.err == "cannot open 'nopool': no such pool\n");
}

TEST_CASE("zfs-standin: a 256 MiB send streams through", "[zfs-standin]") {
  Hosts h;
  h.ok("src zfs create tank/big && src admin write tank/big f 268435456 7 && src zfs snapshot tank/big@s");
  h.ok("src zfs send tank/big@s | dst zfs receive backup/big");
  CHECK(h.ok("dst zfs list -H -p -o referenced backup/big") == std::to_string(268435456 + 24576) + "\n");
}
