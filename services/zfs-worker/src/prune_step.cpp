#include "prune_step.hpp"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <set>

#include "dcops/agent/params.hpp"
#include "dcops/zfs/names.hpp"
#include "dcops/zfs/retention.hpp"
#include "host_access.hpp"
#include "zfs_host.hpp"

namespace dcops::zfs_worker {
namespace {

using agent::StepOutcome;

struct SideReport {
  std::string host, dataset;
  std::vector<std::string> destroyed, failed, still_there;
  std::vector<zfs::PruneDecision::Kept> kept;
  int ours = 0;
};

void WriteSide(rapidjson::Writer<rapidjson::StringBuffer>& w, const SideReport& s) {
  auto list = [&](const char* key, const std::vector<std::string>& v) {
    w.Key(key);
    w.StartArray();
    for (const auto& x : v) w.String(x.c_str());
    w.EndArray();
  };
  w.StartObject();
  w.Key("host");
  w.String(s.host.c_str());
  w.Key("dataset");
  w.String(s.dataset.c_str());
  w.Key("ours");
  w.Int(s.ours);
  list("destroyed", s.destroyed);
  list("failed", s.failed);
  w.Key("kept");
  w.StartArray();
  for (const auto& k : s.kept) {
    w.StartObject();
    w.Key("name");
    w.String(k.name.c_str());
    w.Key("why");
    w.String(k.why.c_str());
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

class Prune {
 public:
  Prune(agent::StepContext& ctx, const ShellConnector& connect) : ctx_(ctx), connect_(connect) {}

  StepOutcome Run() {
    if (auto st = ReadParams(); !st) return StepOutcome::Failed(st.error());
    auto src_shell = ConnectHost(ctx_, connect_, source_access_, new_keys_);
    if (!src_shell) return StepOutcome::Failed(src_shell.error());
    ZfsHost source(**src_shell, source_access_.Label());
    if (auto st = source.Probe(Pool(dataset_)); !st) return StepOutcome::Failed(st.error());
    auto src_points = source.Points(dataset_);
    if (!src_points) return StepOutcome::Failed(src_points.error());
    if (!src_points->exists) return StepOutcome::Failed(MakeError("zfs.no_dataset", fmt::format("{}: {} does not exist", source.label(), dataset_)));

    std::unique_ptr<ssh::Session> dst_shell;
    std::optional<ZfsHost> target;
    std::optional<zfs::DatasetPoints> dst_points;
    std::set<std::uint64_t> source_protected, target_protected;
    if (target_access_) {
      auto s = ConnectHost(ctx_, connect_, *target_access_, new_keys_);
      if (!s) return StepOutcome::Failed(s.error());
      dst_shell = std::move(*s);
      target.emplace(*dst_shell, target_access_->Label());
      if (auto st = target->Probe(Pool(target_dataset_)); !st) return StepOutcome::Failed(st.error());
      auto p = target->Points(target_dataset_);
      if (!p) return StepOutcome::Failed(p.error());
      dst_points = std::move(*p);
      // The newest snapshot both sides hold, by guid.
      std::set<std::uint64_t> on_target;
      for (const auto& t : dst_points->snapshots) on_target.insert(t.guid);
      const zfs::Point* common = nullptr;
      for (const auto& s : src_points->snapshots) {
        if (on_target.count(s.guid) != 0) common = &s;
      }
      if (common == nullptr) {
        ctx_.Event(LogLevel::kWarn, fmt::format("{} and {}:{} share no snapshot: replication has not succeeded yet, nothing is pruned",
                                                dataset_, target->label(), target_dataset_));
        return StepOutcome::Failed(MakeError("zfs.not_replicated",
                                             fmt::format("{} and {}:{} share no snapshot: nothing is pruned until a replication "
                                                         "succeeds",
                                                         dataset_, target->label(), target_dataset_)));
      }
      source_protected.insert(common->guid);
      target_protected.insert(common->guid);
      for (const auto& s : src_points->snapshots) {
        if (s.createtxg > common->createtxg) source_protected.insert(s.guid);
      }
      // Target snapshots after the common one are not ours to judge (a diverged target).
      bool after = false;
      for (const auto& t : dst_points->snapshots) {
        if (after) target_protected.insert(t.guid);
        if (t.guid == common->guid) after = true;
      }
    }
    // What the other recorded pairs need, on both sides, before anything is destroyed on either.
    std::string refusal = ProtectRecordedPairs(source, dataset_, *src_points, "source", source_protected);
    if (refusal.empty() && target && target_grid_) {
      refusal = ProtectRecordedPairs(*target, target_dataset_, *dst_points, "target", target_protected);
    }
    if (!refusal.empty()) {
      ctx_.Event(LogLevel::kError, refusal);
      return StepOutcome::Failed(MakeError("zfs.prune_refused", refusal));
    }
    SideReport src_report = PruneSide(source, dataset_, *src_points, source_grid_, source_protected);
    SideReport dst_report;
    if (target && target_grid_) dst_report = PruneSide(*target, target_dataset_, *dst_points, *target_grid_, target_protected);
    const int failed = static_cast<int>(src_report.failed.size() + dst_report.failed.size() + src_report.still_there.size() +
                                        dst_report.still_there.size());
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.StartObject();
    w.Key("dry_run");
    w.Bool(dry_run_);
    w.Key("source");
    WriteSide(w, src_report);
    if (target && target_grid_) {
      w.Key("target");
      WriteSide(w, dst_report);
    }
    w.Key("failed");
    w.Int(failed);
    w.Key("new_host_keys");
    const std::string keys = NewHostKeysJson(new_keys_);
    w.RawValue(keys.c_str(), keys.size(), rapidjson::kArrayType);
    w.EndObject();
    ctx_.Progress(100, fmt::format("{} snapshot(s) destroyed, {} kept by rule, {} failed", src_report.destroyed.size() + dst_report.destroyed.size(),
                                   src_report.kept.size() + dst_report.kept.size(), failed));
    if (failed > 0) {
      return StepOutcome::Failed(MakeError("zfs.prune_incomplete",
                                           fmt::format("{} snapshot(s) could not be destroyed (see the step's events); the rest were",
                                                       failed)));
    }
    return StepOutcome::Succeeded(buf.GetString());
  }

 private:
  static std::string Pool(const std::string& dataset) { return dataset.substr(0, dataset.find('/')); }

  Status ReadParams() {
    auto p = agent::Params::Parse(ctx_.assignment().params_json);
    if (!p) return p.error();
    params_ = std::move(*p);
    auto ds = params_.RequiredText("dataset");
    if (!ds) return ds.error();
    if (auto st = zfs::CheckDataset(*ds, "params.dataset"); !st) return st;
    dataset_ = *ds;
    auto prefix = params_.Text("snapshot_prefix");
    if (!prefix) return prefix.error();
    prefix_ = prefix->value_or("dcops");
    if (auto st = zfs::CheckShortName(prefix_, "params.snapshot_prefix"); !st) return st;
    auto grid = params_.RequiredText("source_grid");
    if (!grid) return grid.error();
    auto parsed = zfs::ParseGrid(*grid);
    if (!parsed) return agent::BadParam("source_grid", parsed.error().message);
    source_grid_ = std::move(*parsed);
    auto keep = params_.Int("keep_last", 1, 100000);
    if (!keep) return keep.error();
    keep_last_ = static_cast<int>(keep->value_or(1));
    auto dry = params_.Flag("dry_run");
    if (!dry) return dry.error();
    dry_run_ = dry->value_or(false);
    auto source = ReadHostAccess(params_, ctx_.assignment(), "_endpoint");
    if (!source) return source.error();
    source_access_ = std::move(*source);
    auto tds = params_.Text("target_dataset");
    if (!tds) return tds.error();
    if (*tds) {
      if (auto st = zfs::CheckDataset(**tds, "params.target_dataset"); !st) return st;
      target_dataset_ = **tds;
      auto target = ReadHostAccess(params_, ctx_.assignment(), "_peer");
      if (!target) return target.error();
      target_access_ = std::move(*target);
      auto tgrid = params_.Text("target_grid");
      if (!tgrid) return tgrid.error();
      if (*tgrid) {
        auto g = zfs::ParseGrid(**tgrid);
        if (!g) return agent::BadParam("target_grid", g.error().message);
        target_grid_ = std::move(*g);
      }
    } else if (params_.Raw("target_grid") != nullptr) {
      return agent::BadParam("target_grid", "needs target_dataset (and the pair's target host)");
    }
    return {};
  }

  // Guids the recorded pairs of this side's dataset still need (`_pair.<side>`, unretired
  // pairs only): where it sends, the pair's last snapshot and everything newer (not sent to
  // that target yet); where it receives, the pair's last snapshot. Each pair that keeps
  // snapshots is said in an event, so a pair no longer used can be seen and retired. A sending
  // pair whose last snapshot is on neither a snapshot nor a bookmark here cannot be told from a
  // broken one: the refusal ("" when none) says so and nothing is pruned.
  std::string ProtectRecordedPairs(const ZfsHost& host, const std::string& dataset, const zfs::DatasetPoints& points, const char* side,
                                   std::set<std::uint64_t>& protect) const {
    const rapidjson::Value* pair = params_.Raw("_pair");
    if (pair == nullptr || !pair->IsObject() || !pair->HasMember(side) || !(*pair)[side].IsObject()) return "";
    const auto& v = (*pair)[side];
    struct Recorded {
      std::uint64_t guid = 0;
      std::string name;
    };
    auto recorded = [&](const char* key) {
      std::vector<Recorded> out;
      if (!v.HasMember(key) || !v[key].IsArray()) return out;
      for (const auto& g : v[key].GetArray()) {
        const rapidjson::Value* guid = g.IsObject() && g.HasMember("guid") ? &g["guid"] : &g;
        if (!guid->IsString()) continue;
        try {
          out.push_back({std::stoull(guid->GetString()),
                         g.IsObject() && g.HasMember("pair") && g["pair"].IsString() ? g["pair"].GetString() : "another pair"});
        } catch (...) {
        }
      }
      return out;
    };
    for (const auto& r : recorded("receives")) protect.insert(r.guid);
    for (const auto& r : recorded("sends")) {
      std::optional<std::uint64_t> txg;
      for (const auto* list : {&points.snapshots, &points.bookmarks}) {
        for (const auto& p : *list) {
          if (p.guid == r.guid) txg = p.createtxg;
        }
      }
      if (!txg) {
        return fmt::format("{}: {}: the replication pair to {} last sent the snapshot with guid {}, which is on neither a snapshot nor a "
                           "bookmark here: what that pair still needs cannot be told, so nothing is pruned (retire the pair if it is "
                           "no longer used)",
                           host.label(), dataset, r.name, r.guid);
      }
      int kept = 0;
      for (const auto& p : points.snapshots) {
        if (p.createtxg >= *txg && protect.insert(p.guid).second) ++kept;
      }
      if (kept > 0) {
        ctx_.Event(LogLevel::kInfo, fmt::format("{}: {}: {} snapshot(s) kept for the replication pair to {} (its last and what it has not "
                                                "received yet)",
                                                host.label(), dataset, kept, r.name));
      }
    }
    return "";
  }

  SideReport PruneSide(ZfsHost& host, const std::string& dataset, const zfs::DatasetPoints& points, const std::vector<zfs::GridTerm>& grid,
                       const std::set<std::uint64_t>& protect) {
    SideReport r;
    r.host = host.label();
    r.dataset = dataset;
    zfs::PruneInput in;
    in.prefix = prefix_;
    in.grid = grid;
    in.keep_last = keep_last_;
    in.now = std::chrono::duration_cast<std::chrono::seconds>(ctx_.clock().Now().time_since_epoch()).count();
    in.protected_guids = protect;
    const auto decision = zfs::PlanPrune(points.snapshots, in);
    r.ours = decision.ours;
    r.kept = decision.kept;
    if (dry_run_) {
      for (const auto& n : decision.destroy) r.destroyed.push_back(n);
      ctx_.Event(LogLevel::kInfo, fmt::format("{}: {} would destroy {} of {} snapshot(s) of ours (dry run)", host.label(), dataset,
                                              decision.destroy.size(), decision.ours));
      return r;
    }
    for (const auto& name : decision.destroy) {
      if (auto st = host.Destroy(dataset + "@" + name); !st) {
        ctx_.Event(LogLevel::kError, fmt::format("{}: destroying {}@{} failed: {}", host.label(), dataset, name, st.error().message));
        r.failed.push_back(name);
      }
    }
    // Proof: what is listed now.
    auto after = host.Points(dataset);
    if (!after) {
      ctx_.Event(LogLevel::kError, fmt::format("{}: {} could not be listed after pruning: {}", host.label(), dataset, after.error().message));
      for (const auto& name : decision.destroy) {
        if (std::find(r.failed.begin(), r.failed.end(), name) == r.failed.end()) r.still_there.push_back(name);
      }
      return r;
    }
    for (const auto& name : decision.destroy) {
      if (std::find(r.failed.begin(), r.failed.end(), name) != r.failed.end()) continue;
      const bool listed = std::any_of(after->snapshots.begin(), after->snapshots.end(), [&](const zfs::Point& p) { return p.name == name; });
      if (listed) {
        ctx_.Event(LogLevel::kError, fmt::format("{}: {}@{} is still listed after its destroy succeeded", host.label(), dataset, name));
        r.still_there.push_back(name);
      } else {
        r.destroyed.push_back(name);
      }
    }
    ctx_.Event(LogLevel::kInfo, fmt::format("{}: {}: {} snapshot(s) destroyed, {} kept by rule, {} failed", host.label(), dataset,
                                            r.destroyed.size(), r.kept.size(), r.failed.size() + r.still_there.size()));
    return r;
  }

  agent::StepContext& ctx_;
  const ShellConnector& connect_;
  agent::Params params_;
  std::string dataset_, target_dataset_, prefix_;
  std::vector<zfs::GridTerm> source_grid_;
  std::optional<std::vector<zfs::GridTerm>> target_grid_;
  int keep_last_ = 1;
  bool dry_run_ = false;
  HostAccess source_access_;
  std::optional<HostAccess> target_access_;
  NewHostKeys new_keys_;
};

}  // namespace

StepOutcome RunPrune(agent::StepContext& ctx, const ShellConnector& connect) { return Prune(ctx, connect).Run(); }

}  // namespace dcops::zfs_worker
