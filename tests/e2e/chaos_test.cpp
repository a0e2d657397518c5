// Chaos (scripts/chaos; a short form in CI): a mutating job on a fleet while the site is hurt
// at random — the dispatcher and the idrac-workers killed with SIGKILL and restarted, the
// database away, BMCs in fault storms — trial after trial, each from its own seed (printed, so
// a failing trial can be run again: DCOPS_CHAOS_SEED). Each trial then checks exactly-once
// effects by the simulator's counters (one effective reset per BMC), that the job ended (no
// stuck job) and succeeded, and that every step's result was kept.
//
//   DCOPS_CHAOS_TRIALS   trials (default 2)
//   DCOPS_CHAOS_BMCS     BMCs, one ForceRestart step each (default 40)
//   DCOPS_CHAOS_OUTAGE   seconds the database stays away (default 5; scripts/chaos full: 60)
//   DCOPS_CHAOS_SEED     the first trial's seed (default: random)
#include <rapidjson/document.h>
#include <signal.h>

#include <catch2/catch.hpp>
#include <random>
#include <thread>

#include "site.hpp"

namespace dcops::e2e {
namespace {

using std::chrono::seconds;

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v == nullptr || *v == '\0' ? fallback : std::stoi(v);
}

class Chaos {
 public:
  Chaos(Site& site, int bmcs, int outage_seconds, std::uint32_t seed)
      : site_(site), bmcs_(bmcs), outage_(outage_seconds), rng_(seed) {}

  // One harm, picked at random, done and undone; returns what it was.
  std::string Strike() {
    switch (std::uniform_int_distribution<int>(0, 4)(rng_)) {
      case 0: {
        site_.dispatcher(0)->Signal(SIGKILL);
        REQUIRE(WaitUntil([&] { return !site_.dispatcher(0)->Running(); }, seconds(10)));
        site_.StartDispatcher(0);
        return "dispatcher killed and restarted";
      }
      case 1:
      case 2: {
        const std::string id = std::uniform_int_distribution<int>(0, 1)(rng_) == 0 ? "worker-a" : "worker-b";
        Process& worker = *workers_.at(id);
        worker.Signal(SIGKILL);
        REQUIRE(WaitUntil([&] { return !worker.Running(); }, seconds(10)));
        workers_[id] = &site_.StartWorker(id);
        return id + " killed and restarted";
      }
      case 3: {
        site_.CutDatabase();
        // The outage's length is the scenario, not a wait for something to happen.
        std::this_thread::sleep_for(seconds(outage_));
        site_.RestoreDatabase();
        return "database away " + std::to_string(outage_) + " s";
      }
      default: {
        // A storm: a tenth of the BMCs answer "not ready" (SYS518) for a while, then recover.
        std::vector<std::string> hit;
        for (int i = 0; i < std::max(1, bmcs_ / 10); ++i) {
          hit.push_back(Address(std::uniform_int_distribution<int>(0, bmcs_ - 1)(rng_)));
          REQUIRE(site_.SetFaults(hit.back(), R"({"mode":"not_ready"})"));
        }
        std::this_thread::sleep_for(seconds(2));  // the storm's length, again the scenario
        for (const auto& a : hit) REQUIRE(site_.SetFaults(a, R"({"mode":"normal"})"));
        return "fault storm on " + std::to_string(hit.size()) + " BMC(s)";
      }
    }
  }
  // The pause before the next strike, 0.5 to 2.5 s.
  std::chrono::milliseconds Pause() { return std::chrono::milliseconds(std::uniform_int_distribution<int>(500, 2500)(rng_)); }
  void Track(const std::string& id, Process& p) { workers_[id] = &p; }
  static std::string Address(int i) { return "127.0.137." + std::to_string(i + 1); }

 private:
  Site& site_;
  int bmcs_, outage_;
  std::mt19937 rng_;
  std::map<std::string, Process*> workers_;
};

TEST_CASE("Chaos: killed processes, the database away and fault storms during a mutating job change nothing "
          "but its duration", "[chaos]") {
  const int trials = EnvInt("DCOPS_CHAOS_TRIALS", 2);
  const int bmcs = EnvInt("DCOPS_CHAOS_BMCS", 40);
  const int outage = EnvInt("DCOPS_CHAOS_OUTAGE", 5);
  const char* seed_env = std::getenv("DCOPS_CHAOS_SEED");
  const std::uint32_t first_seed = seed_env != nullptr && *seed_env != '\0'
                                       ? static_cast<std::uint32_t>(std::stoul(seed_env))
                                       : std::random_device()();
  REQUIRE(bmcs <= 250);  // one loopback /24
  for (int trial = 0; trial < trials; ++trial) {
    const std::uint32_t seed = first_seed + static_cast<std::uint32_t>(trial);
    INFO("trial " << trial + 1 << " of " << trials << ", seed " << seed << " (DCOPS_CHAOS_SEED=" << seed << " runs it again)");
    // Leases short enough that a killed worker's steps are rescued within the trial.
    Site site({bmcs, Chaos::Address(0), 1500, 8, "1s"});
    Chaos chaos(site, bmcs, outage, seed);
    chaos.Track("worker-a", site.StartWorker("worker-a"));
    chaos.Track("worker-b", site.StartWorker("worker-b"));
    REQUIRE(WaitUntil([&] { return site.Sql("SELECT count(*) FROM agents WHERE status = 'online'") == "2"; }, seconds(20)));
    const auto start = std::chrono::steady_clock::now();
    const std::string job = site.CreateJob("server.power", site.Sql("SELECT jsonb_build_object('server_ids', jsonb_agg(id))::text FROM servers"),
                                           R"({"action":"ForceRestart"})");
    std::vector<std::string> done;
    auto finished = [&] {
      const std::string s = site.Sql("SELECT status FROM jobs WHERE id = $1", {job});
      return s == "succeeded" || s == "failed" || s == "cancelled";
    };
    // Strike while the job runs (at most 12 times), pausing between strikes.
    while (done.size() < 12 && !finished()) {
      const auto pause_until = std::chrono::steady_clock::now() + chaos.Pause();
      if (WaitUntil([&] { return finished(); }, std::chrono::duration_cast<std::chrono::milliseconds>(
                                                    pause_until - std::chrono::steady_clock::now()))) {
        break;
      }
      done.push_back(chaos.Strike());
    }
    REQUIRE_FALSE(done.empty());  // a trial the job outran tested nothing
    const std::string status = site.WaitForJob(job, seconds(240));
    const auto took = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start).count();
    std::string what;
    for (const auto& d : done) what += (what.empty() ? "" : "; ") + d;
    INFO("strikes: " << what);
    INFO(site.Sql("SELECT coalesce(string_agg(DISTINCT status || ' ' || coalesce(error_code, '') || ' ' || coalesce(error_message, ''), ' | '), '') "
                  "FROM job_tasks WHERE job_id = $1", {job}));
    REQUIRE(status == "succeeded");  // ended, and well
    // Every step's result was kept.
    CHECK(site.Sql("SELECT count(*) FROM job_tasks WHERE job_id = $1 AND status = 'succeeded' AND result IS NOT NULL",
                   {job}) == std::to_string(bmcs));
    // Exactly once, by the simulator's count of what happened to each BMC.
    rapidjson::Document fleet;
    fleet.Parse(site.FleetJson().c_str());
    REQUIRE(fleet.IsArray());
    REQUIRE(static_cast<int>(fleet.Size()) == bmcs);
    int twice = 0;
    for (const auto& b : fleet.GetArray()) {
      INFO(b["address"].GetString());
      CHECK(b["counters"]["effective_resets"].GetInt() == 1);
      twice += b["counters"]["effective_resets"].GetInt() > 1;
    }
    // Reported, not asserted: events a killed dispatcher held in memory are lost with it (agents
    // keep results until acknowledged, not events; docs/ROADMAP.md).
    const std::string with_event = site.Sql(
        "SELECT count(DISTINCT t.id) FROM job_tasks t JOIN job_events e ON e.task_id = t.id "
        "WHERE t.job_id = $1 AND e.message LIKE 'sending ResetType%'", {job});
    std::printf("chaos trial %d/%d seed %u: %zu strike(s) [%s], %d BMC(s), job %s in %llds, %d reset twice, "
                "%s of %d steps with their reset event\n",
                trial + 1, trials, seed, done.size(), what.c_str(), bmcs, status.c_str(), static_cast<long long>(took), twice,
                with_event.c_str(), bmcs);
  }
}

}  // namespace
}  // namespace dcops::e2e
