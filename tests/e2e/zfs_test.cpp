// ZFS jobs end to end: the dispatcher plans a replication (then its pruning) and a health
// check, releases each host's SSH key set to that host alone, and the real zfs-worker moves
// the bytes between two real sshds whose zfs is the OpenZFS stand-in. The results land in
// zfs_replication_pairs, zfs_pools and zfs_hosts.
#include <unistd.h>

#include <catch2/catch.hpp>

#include "site.hpp"
#include "standin_host.hpp"
#include "sshd_fixture.hpp"

namespace dcops::e2e {
namespace {

using std::chrono::seconds;

struct ZfsHostUnderTest {
  ZfsHostUnderTest(const std::string& ip) : sshd(ip, 18476, "/tmp/dcops-e2e-zfs-" + ip + "-" + std::to_string(::getpid())) {
    REQUIRE(sshd.Start() == "");
    state = std::make_unique<sim::zfs::StandinState>(sshd, DCOPS_ZFS_STANDIN);
  }
  void Must(const std::string& args) const {
    const auto r = state->Run(args);
    INFO(args << ": " << r.out);
    REQUIRE(r.status == 0);
  }
  sim::sshd::Sshd sshd;
  std::unique_ptr<sim::zfs::StandinState> state;
};

// Each test its own addresses (ctest runs tests side by side): "127.0.<net>.x".
struct ZfsSite {
  explicit ZfsSite(int net)
      : site(Options(net)), a("127.0." + std::to_string(net) + ".10"), b("127.0." + std::to_string(net) + ".11") {
    a.Must("admin create-pool tank");
    b.Must("admin create-pool backup");
    a.Must("zfs create tank/data");
    a.Must("admin write tank/data one 2000000 1");
    for (auto* h : {&a, &b}) {
      const std::string name = h == &a ? "zfs-a" : "zfs-b";
      auto stored = site.Cli({"credentials", "set", name, "--kind", "zfs", "--user", "root", "--key-stdin"}, h->sshd.client_key());
      INFO(stored.output);
      REQUIRE(stored.exit_code == 0);
    }
    // A's key is pinned; B has never been reached.
    host_a = site.Sql("INSERT INTO zfs_hosts(name, address, ssh_port, credential_set_id, host_key_fingerprint) VALUES "
                      "('zfs-a', $1, $2, (SELECT id FROM credential_sets WHERE name = 'zfs-a'), $3) RETURNING id",
                      {a.sshd.address(), std::to_string(a.sshd.port()), a.sshd.host_key_fingerprint()});
    host_b = site.Sql("INSERT INTO zfs_hosts(name, address, ssh_port, credential_set_id) VALUES "
                      "('zfs-b', $1, $2, (SELECT id FROM credential_sets WHERE name = 'zfs-b')) RETURNING id",
                      {b.sshd.address(), std::to_string(b.sshd.port())});
    site.StartDispatcher();
    site.StartAgent(DCOPS_ZFS_WORKER, "zfs-worker-a");
  }
  static SiteOptions Options(int net) {
    SiteOptions o;
    o.bmcs = 1;
    o.first_bmc = "127.0." + std::to_string(net) + ".1";
    o.register_servers = false;
    return o;
  }
  std::vector<std::string> Replicate(std::vector<std::string> extra = {}) const {
    std::vector<std::string> args{"job", "create", "zfs.replicate", "--target", "zfs:" + host_a, "--param", "source_dataset=tank/data",
                                  "--param", "target_host_id=" + host_b, "--param", "target_dataset=backup/data", "--watch"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
  Site site;
  ZfsHostUnderTest a, b;
  std::string host_a, host_b;
};

}  // namespace

TEST_CASE("A replication reaches an unpinned target only on an admin's first contact, then replicates and prunes", "[e2e][zfs]") {
  ZfsSite z(129);
  // B's key is not pinned: its set is not released, nothing is sent.
  auto refused = z.site.Cli(z.Replicate());
  INFO(refused.output);
  CHECK(refused.exit_code != 0);
  CHECK(z.site.Sql("SELECT status FROM jobs ORDER BY created_at DESC LIMIT 1") == "failed");
  CHECK(z.site.Sql("SELECT count(*) FROM job_tasks WHERE error_message LIKE '%SSH host key is not pinned%'") == "1");
  CHECK_FALSE(z.b.state->Has("backup/data"));
  // Before any stream the pair has no send flags to hand over.
  const std::string refused_task = z.site.Sql("SELECT id FROM job_tasks WHERE step_kind = 'zfs.replicate' LIMIT 1");
  CHECK(z.site.Sql("SELECT dispatcher_v1_zfs_pair($1) ? 'send_flags'", {refused_task}) == "f");

  // First contact: the key B presented is pinned and audited, and the bytes arrive.
  auto first = z.site.Cli(z.Replicate({"--first-contact"}));
  INFO(first.output);
  REQUIRE(first.exit_code == 0);
  CHECK(z.site.Sql("SELECT host_key_fingerprint FROM zfs_hosts WHERE id = $1", {z.host_b}) == z.b.sshd.host_key_fingerprint());
  CHECK(z.site.Sql("SELECT count(*) FROM audit_log WHERE action = 'ssh_host_key.pinned' AND object_id = $1", {z.host_b}) == "1");
  const std::string snap = z.site.Sql("SELECT last_snapshot FROM zfs_replication_pairs WHERE source_host_id = $1", {z.host_a});
  REQUIRE(snap.rfind("dcops_", 0) == 0);
  CHECK(z.b.state->Get("guid", "backup/data@" + snap) == z.a.state->Get("guid", "tank/data@" + snap));
  CHECK(z.site.Sql("SELECT array_to_string(send_flags, ' ') FROM zfs_replication_pairs") == "-L -e -c");
  CHECK(z.site.Sql("SELECT capabilities ->> 'software' FROM zfs_hosts WHERE id = $1", {z.host_b}) == "OpenZFS 2.1.11");
  CHECK(z.site.Sql("SELECT dispatcher_v1_zfs_pair($1) -> 'send_flags'", {refused_task}) == R"(["-L", "-e", "-c"])");
  // A run that sent no stream (a resume, an up-to-date target) never changes them.
  z.site.Sql("SELECT dispatcher_v1_record_zfs($1, '{\"decision\":\"up_to_date\",\"snapshot\":\"x\",\"guid\":\"1\",\"send_flags\":[]}')",
             {refused_task});
  CHECK(z.site.Sql("SELECT array_to_string(send_flags, ' ') FROM zfs_replication_pairs") == "-L -e -c");
  z.site.Sql("UPDATE zfs_replication_pairs SET last_snapshot = $1, last_guid = $2, last_decision = 'full' RETURNING id",
             {snap, z.a.state->Get("guid", "tank/data@" + snap)});

  // An old snapshot of ours, then a replication with the pair's pruning after it.
  z.a.Must("zfs snapshot tank/data@dcops_20200101T000000Z");
  z.a.Must("admin write tank/data two 300000 2");
  auto pruned = z.site.Cli(z.Replicate({"--param", "prune_source_grid=24x1h", "--param", "prune_target_grid=24x1h"}));
  INFO(pruned.output);
  REQUIRE(pruned.exit_code == 0);
  const std::string job = z.site.Sql("SELECT id FROM jobs ORDER BY created_at DESC LIMIT 1");
  CHECK(z.site.Sql("SELECT string_agg(step_kind || '=' || status, ',' ORDER BY step_key) FROM job_tasks WHERE job_id = $1", {job}) ==
        "zfs.prune=succeeded,zfs.replicate=succeeded");
  // The old one went on both sides (-I had carried it over); the first stays: the hour's oldest.
  CHECK_FALSE(z.a.state->Has("tank/data@dcops_20200101T000000Z"));
  CHECK_FALSE(z.b.state->Has("backup/data@dcops_20200101T000000Z"));
  CHECK(z.a.state->Has("tank/data@" + snap));
  const std::string newest = z.site.Sql("SELECT last_snapshot FROM zfs_replication_pairs");
  CHECK(z.a.state->Has("tank/data@" + newest));
  CHECK(z.b.state->Has("backup/data@" + newest));
  CHECK(z.site.Sql("SELECT last_decision FROM zfs_replication_pairs") == "incremental");
  // The keys never reached a log or an event.
  for (const auto* h : {&z.a, &z.b}) {
    const std::string key_line = h->sshd.client_key().substr(h->sshd.client_key().find('\n') + 1, 40);
    CHECK(z.site.AllLogs().find(key_line) == std::string::npos);
    CHECK(z.site.Sql("SELECT count(*) FROM job_events WHERE position($1 in message) > 0", {key_line}) == "0");
  }
}

TEST_CASE("A health check records a ZFS host's pools and datasets, and bad names never become jobs", "[e2e][zfs]") {
  ZfsSite z(132);
  z.a.Must("admin set-health tank DEGRADED");
  auto health = z.site.Cli({"job", "create", "zfs.health", "--target", "zfs:" + z.host_a, "--watch"});
  INFO(health.output);
  REQUIRE(health.exit_code == 0);
  CHECK(z.site.Sql("SELECT health FROM zfs_pools WHERE host_id = $1 AND name = 'tank'", {z.host_a}) == "DEGRADED");
  CHECK(z.site.Sql("SELECT count(*) FROM zfs_datasets WHERE host_id = $1 AND name = 'tank/data'", {z.host_a}) == "1");
  CHECK(z.site.Sql("SELECT last_health ->> 'healthy' FROM zfs_hosts WHERE id = $1", {z.host_a}) == "false");
  CHECK(z.site.Sql("SELECT count(*) FROM job_events WHERE message LIKE '%pool tank is DEGRADED%'") != "0");

  // A first contact through a health check is pinned and audited as through a replication.
  z.site.Sql("UPDATE zfs_hosts SET host_key_fingerprint = NULL WHERE id = $1 RETURNING id", {z.host_a});
  auto first = z.site.Cli({"job", "create", "zfs.health", "--target", "zfs:" + z.host_a, "--first-contact", "--watch"});
  INFO(first.output);
  REQUIRE(first.exit_code == 0);
  CHECK(z.site.Sql("SELECT host_key_fingerprint FROM zfs_hosts WHERE id = $1", {z.host_a}) == z.a.sshd.host_key_fingerprint());
  CHECK(z.site.Sql("SELECT count(*) FROM audit_log WHERE action = 'ssh_host_key.pinned' AND object_id = $1", {z.host_a}) == "1");

  // One credential set for two hosts, the target of another site: never released, nothing sent.
  z.site.Sql("INSERT INTO sites(site) VALUES ('west') ON CONFLICT DO NOTHING RETURNING site");
  const std::string west = z.site.Sql("INSERT INTO zfs_hosts(site, name, address, ssh_port, credential_set_id, host_key_fingerprint) VALUES "
                                      "('west', 'zfs-west', $1, $2, (SELECT id FROM credential_sets WHERE name = 'zfs-a'), $3) RETURNING id",
                                      {z.b.sshd.address(), std::to_string(z.b.sshd.port()), z.b.sshd.host_key_fingerprint()});
  auto cross = z.site.Cli({"job", "create", "zfs.replicate", "--target", "zfs:" + z.host_a, "--param", "source_dataset=tank/data", "--param",
                           "target_host_id=" + west, "--param", "target_dataset=backup/stolen", "--watch"});
  INFO(cross.output);
  CHECK(cross.exit_code != 0);
  CHECK(z.site.Sql("SELECT count(*) FROM job_tasks WHERE error_message LIKE '%that ZFS host is of another site%'") == "1");
  CHECK_FALSE(z.b.state->Has("backup/stolen"));

  const std::string jobs_before = z.site.Sql("SELECT count(*) FROM jobs");
  for (const char* bad : {"tank/data;reboot", "tank/$(id)", "tank/data@x", "-F"}) {
    auto r = z.site.Cli({"job", "create", "zfs.replicate", "--target", "zfs:" + z.host_a, "--param", std::string("source_dataset=") + bad,
                         "--param", "target_host_id=" + z.host_b, "--param", "target_dataset=backup/data"});
    INFO(bad << ": " << r.output);
    CHECK(r.exit_code != 0);
    CHECK(r.output.find("params.source_dataset") != std::string::npos);
  }
  CHECK(z.site.Sql("SELECT count(*) FROM jobs") == jobs_before);
}

}  // namespace dcops::e2e
