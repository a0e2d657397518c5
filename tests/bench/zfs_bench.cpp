// ZFS replication through the worker: the bytes of a full send of one dataset, read from
// `zfs send` over SSH on one host and written into `zfs receive` over SSH on another by the
// zfs-worker's pump (libssh), against OpenSSH moving the same stream
// (`ssh src zfs send … | ssh dst zfs receive …`) and a plain `ssh src cat FILE` of the same
// bytes; then the fixed cost of an incremental that carries nothing. Both hosts are real sshds
// on loopback whose zfs is the OpenZFS stand-in (tests/sim/zfs). Figures are printed.
//   dcops-zfs-bench STANDIN_BINARY [MIB]   (default 1024)
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include <rapidjson/document.h>

#include "dcops/agent/recording_context.hpp"
#include "dcops/ssh/session.hpp"
#include "standin_host.hpp"
#include "steps.hpp"
#include "figures.hpp"

namespace {

using namespace dcops;
using Steady = std::chrono::steady_clock;

// Real time, except that the wall clock can be moved on (snapshot names are per second).
class BenchClock final : public dcops::Clock {
 public:
  WallTime Now() const override { return std::chrono::system_clock::now() + offset; }
  SteadyTime Steady() const override { return std::chrono::steady_clock::now(); }
  void SleepFor(std::chrono::nanoseconds d) override { dcops::SystemClock::Instance().SleepFor(d); }
  std::chrono::hours offset{0};
};

double Since(Steady::time_point t) { return std::chrono::duration<double>(Steady::now() - t).count(); }

int Fail(const std::string& why) {
  std::fprintf(stderr, "zfs bench: %s\n", why.c_str());
  return 1;
}

std::string Access(const sim::sshd::Sshd& s, const std::string& id) {
  return fmt::format(R"({{"id":"{}","name":"zfs-{}","address":"{}","ssh_port":{},"ssh_user":"root","host_key":"{}","credential_set_id":"set-{}"}})",
                     id, id, s.address(), s.port(), s.host_key_fingerprint(), id);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Fail("usage: dcops-zfs-bench STANDIN_BINARY [MIB]");
  const std::string standin = argv[1];
  const long mib = argc > 2 ? std::atol(argv[2]) : 1024;
  const std::string base = "/tmp/dcops-zfs-bench-" + std::to_string(::getpid());
  sim::sshd::Sshd src_sshd("127.0.133.1", 18477, base + "-a"), dst_sshd("127.0.133.2", 18477, base + "-b");
  if (auto why = src_sshd.Start(); !why.empty()) return Fail(why);
  if (auto why = dst_sshd.Start(); !why.empty()) return Fail(why);
  sim::zfs::StandinState src(src_sshd, standin), dst(dst_sshd, standin);
  for (const auto& [state, cmd] : {std::pair{&src, "admin create-pool tank --size 8589934592"}, std::pair{&src, "zfs create tank/data"},
                                   std::pair{&dst, "admin create-pool backup --size 8589934592"}}) {
    if (auto r = state->Run(cmd); r.status != 0) return Fail(std::string(cmd) + ": " + r.out);
  }
  auto t = Steady::now();
  if (auto r = src.Run(fmt::format("admin write tank/data big {} 7", mib << 20)); r.status != 0) return Fail(r.out);
  std::printf("zfs bench: %ld MiB dataset written in %.1f s (stand-in state on %s)\n", mib, Since(t), base.c_str());

  // 0. What one remote command costs: a session, then `zfs version` twenty times on it.
  {
    ssh::Endpoint e;
    e.host = src_sshd.address();
    e.port = src_sshd.port();
    e.user = "root";
    e.private_key_pem = src_sshd.client_key();
    e.pinned_host_key = src_sshd.host_key_fingerprint();
    t = Steady::now();
    auto session = ssh::Session::Connect(e);
    if (!session) return Fail(session.error().message);
    const double connect_s = Since(t);
    t = Steady::now();
    for (int i = 0; i < 20; ++i) {
      auto r = (*session)->Run({"zfs", "version"}, std::chrono::seconds(10));
      if (!r || r->exit_status != 0) return Fail("zfs version failed");
    }
    std::printf("zfs bench: SSH session %.0f ms; one command on it %.1f ms\n", connect_s * 1000, Since(t) * 1000 / 20);
  }

  // 1. The worker: a full replication, as a step.
  const std::string params = R"({"source_dataset":"tank/data","target_dataset":"backup/worker","_endpoint":)" + Access(src_sshd, "a") +
                             R"(,"_peer":)" + Access(dst_sshd, "b") + "}";
  agent::Assignment a;
  a.task_id = "bench";
  a.step_kind = "zfs.replicate";
  a.target = "zfs:a";
  a.params_json = params;
  a.credentials = {"root", src_sshd.client_key()};
  a.credential_sets.push_back({"set-b", "zfs-b", {"root", dst_sshd.client_key()}});
  const auto steps = zfs_worker::MakeSteps([](const ssh::Endpoint& e) { return ssh::Session::Connect(e); });
  BenchClock clock;
  agent::RecordingStepContext ctx(a, clock);
  t = Steady::now();
  const auto out = steps.Run(ctx);
  const double worker_s = Since(t);
  if (out.kind != agent::StepOutcome::Kind::kSucceeded) return Fail("worker replication failed: " + out.error.message);
  const std::string listed = src.Run("zfs list -H -o name -t snapshot tank/data").out;
  const std::string snap = listed.substr(0, listed.find('\n'));
  const std::string estimate = src.Run("zfs send -n -P " + snap).out;
  const double stream_mib = static_cast<double>(std::stoull(estimate.substr(estimate.rfind("size\t") + 5))) / (1 << 20);
  rapidjson::Document result;
  result.Parse(out.result_json.c_str());
  const double pump_s = result["seconds"].GetDouble();
  std::printf("zfs bench: worker, whole step           %7.2f s  %7.1f MiB/s  (stream %.0f MiB; snapshot, probes, holds, proof, cursor)\n",
              worker_s, stream_mib / worker_s, stream_mib);
  std::printf("zfs bench: worker, the stream alone     %7.2f s  %7.1f MiB/s  (libssh read → libssh write)\n", pump_s,
              stream_mib / pump_s);

  // 2. OpenSSH moving the same stream between the same two hosts.
  const std::string key = base + "-key";
  {
    std::ofstream k(key);
    k << src_sshd.client_key();
  }
  ::chmod(key.c_str(), 0600);
  std::ofstream(base + "-key-b") << dst_sshd.client_key();
  ::chmod((base + "-key-b").c_str(), 0600);
  auto ssh = [&](const sim::sshd::Sshd& s, const std::string& k) {
    return fmt::format("ssh -q -i {} -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -p {} root@{}", k,
                       s.port(), s.address());
  };
  t = Steady::now();
  const std::string pipe = fmt::format("{} zfs send {} | {} zfs receive -s -u backup/openssh", ssh(src_sshd, key), snap,
                                       ssh(dst_sshd, base + "-key-b"));
  if (std::system(pipe.c_str()) != 0) return Fail("the OpenSSH pipe failed: " + pipe);
  const double openssh_s = Since(t);
  std::printf("zfs bench: OpenSSH send | receive       %7.2f s  %7.1f MiB/s  (two connections and two commands included)\n", openssh_s,
              stream_mib / openssh_s);

  // 3. A plain ssh cat of the same bytes (the dataset's file) to /dev/null: the transport alone.
  const std::string blob_cmd = fmt::format("ls -S {}/blobs | head -n1", src.dir());
  FILE* p = ::popen(blob_cmd.c_str(), "r");
  char name[256] = {0};
  if (p == nullptr || std::fgets(name, sizeof name, p) == nullptr) return Fail("no blob to cat");
  ::pclose(p);
  std::string blob = src.dir() + "/blobs/" + name;
  blob.erase(blob.find_last_not_of('\n') + 1);
  t = Steady::now();
  if (std::system(fmt::format("{} cat {} > /dev/null", ssh(src_sshd, key), blob).c_str()) != 0) return Fail("ssh cat failed");
  const double cat_s = Since(t);
  std::printf("zfs bench: OpenSSH cat > /dev/null      %7.2f s  %7.1f MiB/s  (one hop: the ceiling of one SSH stream here)\n", cat_s,
              static_cast<double>(mib) / cat_s);
  std::printf("zfs bench: stream rate, worker / OpenSSH pipe = %.2f\n", openssh_s / pump_s);
  bench::Figure("zfs.step_mib_per_s", stream_mib / worker_s, "MiB/s", bench::Better::kHigher);
  bench::Figure("zfs.stream_mib_per_s", stream_mib / pump_s, "MiB/s", bench::Better::kHigher);
  bench::Figure("zfs.worker_over_openssh", openssh_s / pump_s, "x", bench::Better::kHigher);

  // 4. The fixed cost of an incremental with nothing changed (new snapshot, an empty increment).
  for (int i = 0; i < 3; ++i) {
    clock.offset += std::chrono::hours(1);
    agent::RecordingStepContext again(a, clock);
    t = Steady::now();
    const auto inc = steps.Run(again);
    if (inc.kind != agent::StepOutcome::Kind::kSucceeded) return Fail("incremental failed: " + inc.error.message);
    std::printf("zfs bench: empty incremental, whole step: %.3f s\n", Since(t));
  }
  src_sshd.Stop();
  dst_sshd.Stop();
  if (std::system(("rm -rf " + base + "-key " + base + "-key-b " + base + "-a " + base + "-b").c_str()) != 0) return Fail("cleanup failed");
  return 0;
}
