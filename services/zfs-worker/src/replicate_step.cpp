#include "replicate_step.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

#include "dcops/agent/params.hpp"
#include "dcops/zfs/names.hpp"
#include "dcops/zfs/replication_plan.hpp"
#include "dcops/zfs/retention.hpp"
#include "host_access.hpp"
#include "pair.hpp"
#include "transfer.hpp"
#include "zfs_host.hpp"

namespace dcops::zfs_worker {
namespace {

using agent::StepOutcome;
using namespace std::chrono;

// What a retry needs: the snapshot this job made, and how far it got.
struct Checkpoint {
  std::string snapshot;  // short name
  std::string phase;     // "snapshotted", "sending", "received"
};

Checkpoint ReadCheckpoint(const std::string& json) {
  Checkpoint c;
  rapidjson::Document d;
  d.Parse(json.c_str());
  if (d.HasParseError() || !d.IsObject()) return c;
  if (d.HasMember("snapshot") && d["snapshot"].IsString()) c.snapshot = d["snapshot"].GetString();
  if (d.HasMember("phase") && d["phase"].IsString()) c.phase = d["phase"].GetString();
  return c;
}

std::string CheckpointJson(const Checkpoint& c) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("snapshot");
  w.String(c.snapshot.c_str());
  w.Key("phase");
  w.String(c.phase.c_str());
  w.EndObject();
  return buf.GetString();
}

class Replication {
 public:
  Replication(agent::StepContext& ctx, const ShellConnector& connect) : ctx_(ctx), connect_(connect) {}

  StepOutcome Run() {
    if (auto st = ReadParams(); !st) return StepOutcome::Failed(st.error());
    auto src_shell = Connect(source_access_);
    if (!src_shell) return StepOutcome::Failed(src_shell.error());
    auto dst_shell = Connect(target_access_);
    if (!dst_shell) return StepOutcome::Failed(dst_shell.error());
    ZfsHost source(**src_shell, source_access_.Label());
    ZfsHost target(**dst_shell, target_access_.Label());
    if (auto st = source.Probe(std::string(source_dataset_.substr(0, source_dataset_.find('/')))); !st) return StepOutcome::Failed(st.error());
    if (auto st = target.Probe(std::string(target_dataset_.substr(0, target_dataset_.find('/')))); !st) return StepOutcome::Failed(st.error());
    ctx_.Progress(5, fmt::format("{}: {}; {}: {}", source.label(), source.capabilities().software, target.label(),
                                 target.capabilities().software));

    // The snapshot: this job's, made once.
    auto made = EnsureSnapshot(source);
    if (!made) return StepOutcome::Failed(made.error());
    const std::string snapshot_full = source_dataset_ + "@" + snapshot_;
    if (source.capabilities().holds) {
      if (auto st = source.Hold(hold_tag_, snapshot_full); !st) return StepOutcome::Failed(st.error());
    }

    // An interrupted receive first.
    auto target_points = target.Points(target_dataset_);
    if (!target_points) return StepOutcome::Failed(target_points.error());
    if (!target_points->resume_token.empty()) {
      auto resumed = Resume(source, target, target_points->resume_token);
      if (!resumed) return resumed.error().retryable ? StepOutcome::Failed(resumed.error()) : Fail(source, resumed.error());
      if (resumed->has_value()) return **resumed;
      target_points = target.Points(target_dataset_);
      if (!target_points) return StepOutcome::Failed(target_points.error());
    }

    // The source as it was listed once the snapshot was there (a resume changes only the target).
    const std::optional<zfs::DatasetPoints> source_points = source_listing_;
    const auto snap = Find(source_points->snapshots, snapshot_);
    if (!snap) return StepOutcome::Failed(SnapshotGone());
    snapshot_guid_ = snap->guid;
    decision_ = zfs::PlanReplication(*source_points, *target_points, snapshot_, options_);
    using Kind = zfs::ReplicationDecision::Kind;
    if (!decision_.message.empty()) {
      ctx_.Event(decision_.kind == Kind::kNoCommon || decision_.kind == Kind::kDiverged || decision_.force ? LogLevel::kWarn : LogLevel::kInfo,
                 fmt::format("{} → {}: {}", source_dataset_, target_dataset_, decision_.message));
    }
    if (decision_.kind == Kind::kNoCommon) {
      return Fail(source, MakeError("zfs.no_common_snapshot", fmt::format("{} → {}:{}: {}", source_dataset_, target.label(), target_dataset_, decision_.message)));
    }
    if (decision_.kind == Kind::kDiverged) {
      return Fail(source, MakeError("zfs.diverged", fmt::format("{} → {}:{}: {}", source_dataset_, target.label(), target_dataset_, decision_.message)));
    }
    if (decision_.overtaken) {
      // A later replication brought a newer snapshot: this one is not needed there, and the
      // pair's cursor and record stay with the newer one.
      ReleaseHolds(source);
      ctx_.Progress(100, decision_.message);
      return StepOutcome::Succeeded(ResultJson(source, target, ""));
    }
    if (decision_.kind != Kind::kUpToDate) {
      if (decision_.from.rfind('@', 0) == 0 && source.capabilities().holds) {
        base_hold_ = source_dataset_ + decision_.from;
        if (auto st = source.Hold(hold_tag_, base_hold_); !st) return Fail(source, st.error());
      }
      // Everything that can refuse is decided before anything on the target is destroyed.
      auto flags = SendFlags(source, target, *source_points);
      if (!flags) return Fail(source, flags.error());
      if (decision_.kind == Kind::kFull && decision_.force) {
        const bool raw = std::find(flags->begin(), flags->end(), "-w") != flags->end();
        const bool target_encrypted = !target_points->encryption.empty() && target_points->encryption != "off";
        if (raw || target_encrypted) {
          return Fail(source, MakeError("zfs.no_common_snapshot",
                                        fmt::format("{}:{} shares no snapshot with {} and {} encrypted: ZFS cannot replace an encrypted "
                                                    "dataset by a forced receive; nothing was destroyed. Replicate into a new dataset",
                                                    target.label(), target_dataset_, source_dataset_,
                                                    target_encrypted ? "it is" : "the source is")));
        }
        if (auto st = DestroyTargetSnapshots(target); !st) return Fail(source, st.error());
      }
      std::vector<std::string> send_args = *flags;
      if (!decision_.from.empty()) {
        send_args.push_back(decision_.intermediates ? "-I" : "-i");
        send_args.push_back(source_dataset_ + decision_.from);
      }
      send_args.push_back(snapshot_full);
      checkpoint_.phase = "sending";
      if (auto st = ctx_.SaveCheckpoint(CheckpointJson(checkpoint_)); !st) return StepOutcome::Failed(st.error());
      auto sent = Transfer(source, target, send_args, ReceiveArgs(target, decision_.force));
      if (!sent) return sent.error().retryable ? StepOutcome::Failed(sent.error()) : Fail(source, sent.error());
      if (*sent) return **sent;
    }
    return Finish(source, target);
  }

 private:
  Status ReadParams() {
    auto p = agent::Params::Parse(ctx_.assignment().params_json);
    if (!p) return p.error();
    params_ = std::move(*p);
    auto src = params_.RequiredText("source_dataset");
    if (!src) return src.error();
    auto dst = params_.RequiredText("target_dataset");
    if (!dst) return dst.error();
    if (auto st = zfs::CheckDataset(*src, "params.source_dataset"); !st) return st;
    if (auto st = zfs::CheckDataset(*dst, "params.target_dataset"); !st) return st;
    source_dataset_ = *src;
    target_dataset_ = *dst;
    auto prefix = params_.Text("snapshot_prefix");
    if (!prefix) return prefix.error();
    prefix_ = prefix->value_or("dcops");
    if (auto st = zfs::CheckShortName(prefix_, "params.snapshot_prefix"); !st) return st;
    auto mode = params_.Text("incremental", {"i", "I"});
    if (!mode) return mode.error();
    options_.intermediates = mode->value_or("I") == "I";
    auto destroy = params_.Flag("allow_target_destroy");
    if (!destroy) return destroy.error();
    options_.allow_target_destroy = destroy->value_or(false);
    auto limit = params_.Int("bandwidth_limit_mib_s", 1, 100000);
    if (!limit) return limit.error();
    if (*limit) transfer_.bytes_per_second = static_cast<std::uint64_t>(**limit) << 20;
    auto stall = params_.Int("stall_timeout_seconds", 10, 3600);
    if (!stall) return stall.error();
    transfer_.stall_timeout = seconds(stall->value_or(120));
    auto source = ReadHostAccess(params_, ctx_.assignment(), "_endpoint");
    if (!source) return source.error();
    auto target = ReadHostAccess(params_, ctx_.assignment(), "_peer");
    if (!target) return target.error();
    source_access_ = std::move(*source);
    target_access_ = std::move(*target);
    if (source_access_.endpoint.host == target_access_.endpoint.host && source_access_.endpoint.port == target_access_.endpoint.port &&
        source_dataset_ == target_dataset_) {
      return MakeError("step.params", "the target dataset is the source dataset on the same host");
    }
    hold_tag_ = PairTag(target_access_.id.empty() ? target_access_.Label() : target_access_.id, target_dataset_);
    const auto pair_flags = params_.Raw("_pair");
    if (pair_flags != nullptr && pair_flags->IsObject() && pair_flags->HasMember("send_flags") && (*pair_flags)["send_flags"].IsArray()) {
      std::vector<std::string> flags;
      for (const auto& f : (*pair_flags)["send_flags"].GetArray()) {
        const std::string flag = f.IsString() ? f.GetString() : "";
        if (flag != "-w" && flag != "-L" && flag != "-e" && flag != "-c") {
          return MakeError("step.params", "_pair.send_flags: only -w, -L, -e and -c");
        }
        flags.push_back(flag);
      }
      pair_flags_ = flags;
    }
    checkpoint_ = ReadCheckpoint(ctx_.assignment().checkpoint_json);
    return {};
  }

  Result<std::unique_ptr<ssh::Session>> Connect(const HostAccess& h) { return ConnectHost(ctx_, connect_, h, new_host_keys_); }

  // The job's snapshot: the one a previous attempt made (it must still exist), or a new one.
  Status EnsureSnapshot(ZfsHost& source) {
    auto points = source.Points(source_dataset_);
    if (!points) return points.error();
    if (!points->exists) {
      return MakeError("zfs.no_dataset", fmt::format("{}: the source dataset {} does not exist", source.label(), source_dataset_));
    }
    if (!checkpoint_.snapshot.empty()) {
      snapshot_ = checkpoint_.snapshot;
      if (Find(points->snapshots, snapshot_)) {
        source_listing_ = std::move(*points);
        return {};
      }
      // Named but never seen made (an attempt cut off around `zfs snapshot`): make it now.
      if (checkpoint_.phase != "snapshotting") return SnapshotGone();
    } else {
      snapshot_ = zfs::SnapshotName(prefix_, ctx_.clock().Now());
      // Another job of this dataset in the same second: ours gets a suffix, never its snapshot.
      for (int i = 1; Find(points->snapshots, snapshot_); ++i) snapshot_ = zfs::SnapshotName(prefix_, ctx_.clock().Now()) + fmt::format(".{}", i);
      // The name first: a retry after a cut-off `zfs snapshot` finds it, and never makes a second.
      checkpoint_ = {snapshot_, "snapshotting"};
      if (auto st = ctx_.SaveCheckpoint(CheckpointJson(checkpoint_)); !st) return st;
    }
    if (auto st = source.Snapshot(source_dataset_ + "@" + snapshot_); !st) return st;
    auto after = source.Points(source_dataset_);
    if (!after) return after.error();
    if (!Find(after->snapshots, snapshot_)) {
      return MakeError("zfs.unverified", fmt::format("{}: `zfs snapshot {}@{}` said yes but the snapshot is not listed", source.label(),
                                                     source_dataset_, snapshot_));
    }
    ctx_.Event(LogLevel::kInfo, fmt::format("{}: snapshot {}@{} made", source.label(), source_dataset_, snapshot_));
    source_listing_ = std::move(*after);
    checkpoint_ = {snapshot_, "snapshotted"};
    return ctx_.SaveCheckpoint(CheckpointJson(checkpoint_));
  }

  Error SnapshotGone() const {
    return MakeError("zfs.snapshot_gone", fmt::format("{}: the snapshot this job made, {}@{}, was destroyed before it reached the "
                                                      "target; run the job again for a new one",
                                                      source_access_.Label(), source_dataset_, snapshot_));
  }

  static const zfs::Point* Find(const std::vector<zfs::Point>& points, const std::string& name) {
    const auto it = std::find_if(points.begin(), points.end(), [&](const zfs::Point& p) { return p.name == name; });
    return it == points.end() ? nullptr : &*it;
  }

  Result<std::vector<std::string>> SendFlags(ZfsHost& source, ZfsHost& target, const zfs::DatasetPoints& points) {
    const bool encrypted = !points.encryption.empty() && points.encryption != "off";
    std::vector<std::string> flags;
    if (pair_flags_) {
      flags = *pair_flags_;
    } else {
      if (encrypted) flags.push_back("-w");
      const auto& s = source.capabilities();
      const auto& t = target.capabilities();
      if (s.openzfs && t.openzfs && s.large_blocks && t.large_blocks) flags.insert(flags.end(), {"-L", "-e", "-c"});
    }
    const bool raw = std::find(flags.begin(), flags.end(), "-w") != flags.end();
    if (encrypted && !raw) {
      return MakeError("zfs.raw_unsupported", fmt::format("{} is encrypted and this pair's send flags have no -w: sending it would "
                                                          "decrypt it in flight; refused",
                                                          source_dataset_));
    }
    if (raw && (!source.capabilities().raw_send || !target.capabilities().raw_send)) {
      return MakeError("zfs.raw_unsupported", fmt::format("{} needs a raw send (-w), which {} cannot {}", source_dataset_,
                                                          !source.capabilities().raw_send ? source.label() : target.label(),
                                                          !source.capabilities().raw_send ? "send" : "receive"));
    }
    if (std::find(flags.begin(), flags.end(), "-L") != flags.end() && !target.capabilities().large_blocks) {
      return MakeError("zfs.send_flags", fmt::format("this pair was sent with -L (large blocks) and {} has no large_blocks feature; "
                                                     "changing the flags of a pair is refused",
                                                     target.label()));
    }
    send_flags_ = flags;
    return flags;
  }

  // A full send over an existing target: OpenZFS refuses -F over snapshots, so the ones the
  // decision named go first, each proven gone (the job allowed destroying target data).
  Status DestroyTargetSnapshots(ZfsHost& target) {
    for (const auto& name : decision_.destroys) {
      if (auto st = target.Destroy(target_dataset_ + "@" + name); !st) return st;
    }
    auto after = target.Points(target_dataset_);
    if (!after) return after.error();
    for (const auto& name : decision_.destroys) {
      if (Find(after->snapshots, name)) {
        return MakeError("zfs.unverified", fmt::format("{}: {}@{} is still listed after its destroy", target.label(), target_dataset_, name));
      }
      destroyed_on_target_.push_back(name);
    }
    if (!destroyed_on_target_.empty()) {
      ctx_.Event(LogLevel::kWarn, fmt::format("{}: destroyed @{} of {} before a forced full receive (allow_target_destroy)", target.label(),
                                              fmt::join(destroyed_on_target_, ", @"), target_dataset_));
    }
    return {};
  }

  static std::vector<std::string> ReceiveArgs(const ZfsHost& target, bool force) {
    std::vector<std::string> args;
    if (target.capabilities().resume) args.push_back("-s");
    if (target.capabilities().openzfs) args.push_back("-u");
    if (force) args.push_back("-F");
    return args;
  }

  // A receive the target kept: continue it, or abort it when its snapshot is gone. A value
  // is the step's end (failed or cancelled); nullopt lets the replication go on.
  Result<std::optional<StepOutcome>> Resume(ZfsHost& source, ZfsHost& target, const std::string& token) {
    std::string why;
    auto toname = source.ResumeTarget(token, why);
    if (!toname) return toname.error();
    // OpenZFS: "… used in the initial send no longer exists", "… does not exist", or "… is no
    // longer the same snapshot used in the initial send" (the name now has another guid).
    const bool gone = why.find("no longer exists") != std::string::npos || why.find("does not exist") != std::string::npos ||
                      why.find("no longer the same snapshot") != std::string::npos;
    if (toname->empty() && !gone) {
      return MakeError("zfs.resume_unreadable",
                       fmt::format("{}: the target's partial receive could not be checked against {} ({}); it is kept, and the next "
                                   "attempt tries again",
                                   target.label(), source.label(), why.empty() ? "no snapshot named in the token" : why),
                       true);
    }
    if (toname->empty()) {
      ctx_.Event(LogLevel::kWarn, fmt::format("{}: the partial receive into {} cannot be resumed from {} ({}); it is aborted "
                                              "(receive -A) and the replication starts again",
                                              target.label(), target_dataset_, source.label(), why));
      if (auto st = target.AbortReceive(target_dataset_); !st) return st.error();
      aborted_partial_ = true;
      return std::optional<StepOutcome>{};
    }
    if (zfs::DatasetOf(*toname) != source_dataset_) {
      return MakeError("zfs.resume_conflict", fmt::format("{}: {} holds a partial receive of {}, not of {}: left alone; abort it "
                                                          "(zfs receive -A) or replicate elsewhere",
                                                          target.label(), target_dataset_, *toname, source_dataset_));
    }
    ctx_.Event(LogLevel::kInfo, fmt::format("{}: resuming the interrupted receive of {} into {}", target.label(), *toname, target_dataset_));
    resumed_ = true;
    // A resumed receive that ends on a changed target needs -F as the first one did.
    auto sent = Transfer(source, target, {"-t", token}, ReceiveArgs(target, options_.allow_target_destroy));
    if (!sent) return sent.error();
    if (*sent) return std::optional<StepOutcome>{**sent};
    return std::optional<StepOutcome>{};
  }

  // One stream from source to target. A value is the step's end (cancelled).
  Result<std::optional<StepOutcome>> Transfer(ZfsHost& source, ZfsHost& target, const std::vector<std::string>& send_args,
                                              std::vector<std::string> receive_args) {
    auto expected = source.Estimate(send_args);
    transfer_.expected_bytes = expected ? *expected : std::nullopt;
    receive_args.push_back(target_dataset_);
    auto receiver = target.StartReceive(receive_args);
    if (!receiver) return receiver.error();
    auto sender = source.StartSend(send_args);
    if (!sender) return sender.error();
    const bool resumable = target.capabilities().resume;
    auto pumped = Pump(
        **sender, **receiver, transfer_, ctx_.clock(),
        [&](const TransferProgress& p) {
          ctx_.Progress(10 + (p.percent ? *p.percent * 85 / 100 : 0),
                        fmt::format("{} → {}: {}", source_dataset_, target_dataset_, DescribeProgress(p, transfer_.expected_bytes)));
        },
        [&] { return ctx_.CancelRequested(); }, [&](milliseconds d) { return ctx_.Wait(d); });
    if (pumped && pumped->cancelled) {
      // The send is dropped and the receive sees its stream end: a target with -s saves what it
      // has. The receive is waited for, so the next job finds the saved state rather than a
      // receive still writing it, and the state is said only when the target lists its token.
      sender->reset();
      (void)(*receiver)->CloseStdin();
      auto ended = (*receiver)->Wait(minutes(1));
      receiver->reset();
      std::string kept;
      if (resumable) {
        auto now = ended ? target.Points(target_dataset_) : Result<zfs::DatasetPoints>(ended.error());
        if (now && !now->resume_token.empty()) {
          kept = "; the target keeps the partial receive and the next replication resumes it";
        } else {
          const std::string why = now ? "the target lists no resume token" : now.error().message;
          ctx_.Event(LogLevel::kWarn, fmt::format("{}: the cancelled receive into {} left no partial state to resume ({})", target.label(),
                                                  target_dataset_, why));
          kept = "; no partial receive was kept, the next replication sends again";
        }
      }
      return std::optional<StepOutcome>{StepOutcome::Cancelled(fmt::format("cancelled after {}{}", HumanBytes(pumped->bytes), kept))};
    }
    Result<ssh::CommandResult> send_end = MakeError("ssh.channel", "the send was dropped");
    if (pumped) {
      bytes_ += pumped->bytes;
      seconds_ += pumped->seconds;
      send_end = (*sender)->Wait(minutes(1));
    } else {
      sender->reset();  // a stalled or broken source: its stream ends here
    }
    // The end of the stream, whole or cut: the receive decides whether it is complete, and its
    // verdict explains a broken pipe better than the pump's error does.
    (void)(*receiver)->CloseStdin();
    auto received = (*receiver)->Wait(minutes(30));
    if (!received) return received.error();
    if (received->exit_status != 0) {
      ctx_.Event(LogLevel::kError, fmt::format("{}: zfs receive into {} failed: {}", target.label(), target_dataset_, Words(received->err)));
      auto now = target.Points(target_dataset_);
      const bool kept = now && !now->resume_token.empty();
      return ReceiveFailure(target.label(), target_dataset_, received->err, kept);
    }
    if (!pumped) return pumped.error();
    if (!send_end) return send_end.error();
    if (send_end->exit_status != 0) {
      return MakeError("zfs.send_failed", fmt::format("{}: zfs send failed (exit {}): {}", source.label(), send_end->exit_status, Words(send_end->err)), true);
    }
    return std::optional<StepOutcome>{};
  }

  // The target must hold the snapshot with the source's guid; then the cursor and the holds.
  StepOutcome Finish(ZfsHost& source, ZfsHost& target) {
    auto after = target.Points(target_dataset_);
    if (!after) return StepOutcome::Failed(after.error());
    const bool there = std::any_of(after->snapshots.begin(), after->snapshots.end(), [&](const zfs::Point& p) { return p.guid == snapshot_guid_; });
    if (!there) {
      return Fail(source, MakeError("zfs.unverified", fmt::format("{}: the receive ended without error but {} does not list a snapshot "
                                                                  "with the guid of {}@{}",
                                                                  target.label(), target_dataset_, source_dataset_, snapshot_)));
    }
    // A forced receive destroys what the target held after the common snapshot on OpenZFS;
    // older ZFS keeps those snapshots. What was destroyed is what is no longer listed.
    if (decision_.force) {
      const bool full = decision_.kind == zfs::ReplicationDecision::Kind::kFull;
      for (const auto& name : full ? std::vector<std::string>{} : decision_.destroys) {
        const bool listed = Find(after->snapshots, name) != nullptr;
        (listed ? kept_on_target_ : destroyed_on_target_).push_back(name);
      }
      if (!full && !destroyed_on_target_.empty()) {
        ctx_.Event(LogLevel::kWarn, fmt::format("{}: the forced receive destroyed {} snapshot(s) of {}: @{}", target.label(),
                                                destroyed_on_target_.size(), target_dataset_, fmt::join(destroyed_on_target_, ", @")));
      }
      if (!kept_on_target_.empty()) {
        ctx_.Event(LogLevel::kInfo, fmt::format("{}: the forced receive kept @{} on {} (this ZFS keeps them)", target.label(),
                                                fmt::join(kept_on_target_, ", @"), target_dataset_));
      }
    }
    checkpoint_.phase = "received";
    if (auto st = ctx_.SaveCheckpoint(CheckpointJson(checkpoint_)); !st) return StepOutcome::Failed(st.error());
    std::string bookmark;
    if (source.capabilities().bookmarks) {
      bookmark = source_dataset_ + "#" + snapshot_ + "_" + hold_tag_.substr(hold_tag_.rfind('-') + 1);
      auto points = source.Points(source_dataset_);
      if (!points) return StepOutcome::Failed(points.error());
      if (!Find(points->bookmarks, std::string(zfs::ShortNameOf(bookmark)))) {
        if (auto st = source.Bookmark(source_dataset_ + "@" + snapshot_, bookmark); !st) return StepOutcome::Failed(st.error());
      }
      // This pair's older cursors.
      const std::string suffix = std::string(zfs::ShortNameOf(bookmark)).substr(snapshot_.size());
      const zfs::Point* mine = Find(points->snapshots, snapshot_);
      for (const auto& b : points->bookmarks) {
        if (b.name == zfs::ShortNameOf(bookmark) || b.name.size() <= suffix.size() || (mine != nullptr && b.createtxg >= mine->createtxg) ||
            b.name.compare(b.name.size() - suffix.size(), suffix.size(), suffix) != 0 || b.name.rfind(prefix_ + "_", 0) != 0) {
          continue;
        }
        if (auto st = source.Destroy(source_dataset_ + "#" + b.name); !st) {
          ctx_.Event(LogLevel::kWarn, fmt::format("{}: the old cursor #{} could not be destroyed: {}", source.label(), b.name, st.error().message));
          ++failed_cleanups_;
        }
      }
    }
    ReleaseHolds(source);
    ctx_.Progress(100, fmt::format("{} → {}: {} in {:.1f} s", source_dataset_, target_dataset_, HumanBytes(bytes_), seconds_));
    return StepOutcome::Succeeded(ResultJson(source, target, bookmark));
  }

  // Holds are for snapshots in flight: released once the target has the snapshot, or when the
  // job cannot go on. Old holds of this pair (an attempt that never finished) go too: they are
  // on the listing taken at the start (this step's own holds are named).
  void ReleaseHolds(ZfsHost& source) {
    if (!source.capabilities().holds || snapshot_.empty()) return;
    std::vector<std::string> names{source_dataset_ + "@" + snapshot_};
    if (!base_hold_.empty()) names.push_back(base_hold_);
    if (source_listing_) {
      for (const auto& p : source_listing_->snapshots) {
        const std::string full = source_dataset_ + "@" + p.name;
        if (p.userrefs > 0 && std::find(names.begin(), names.end(), full) == names.end()) names.push_back(full);
      }
    }
    for (const auto& n : names) {
      if (auto st = source.Release(hold_tag_, n); !st) {
        ctx_.Event(LogLevel::kWarn, fmt::format("{}: the hold {} on {} could not be released: {}", source.label(), hold_tag_, n, st.error().message));
        ++failed_cleanups_;
      }
    }
  }

  StepOutcome Fail(ZfsHost& source, Error e) {
    ReleaseHolds(source);
    return StepOutcome::Failed(std::move(e));
  }

  std::string ResultJson(const ZfsHost& source, const ZfsHost& target, const std::string& bookmark) const {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    auto str = [&](const char* k, const std::string& v) {
      w.Key(k);
      w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
    };
    w.StartObject();
    str("source_dataset", source_dataset_);
    str("target_dataset", target_dataset_);
    str("snapshot", snapshot_);
    str("guid", std::to_string(snapshot_guid_));
    str("decision", decision_.overtaken ? "overtaken" : zfs::KindName(decision_.kind));
    str("from", decision_.from);
    w.Key("intermediates");
    w.Bool(decision_.intermediates);
    w.Key("forced");
    w.Bool(decision_.force);
    w.Key("destroyed_on_target");
    w.StartArray();
    for (const auto& d : destroyed_on_target_) w.String(d.c_str());
    w.EndArray();
    w.Key("kept_on_target");
    w.StartArray();
    for (const auto& d : kept_on_target_) w.String(d.c_str());
    w.EndArray();
    w.Key("resumed");
    w.Bool(resumed_);
    w.Key("aborted_partial");
    w.Bool(aborted_partial_);
    w.Key("bytes");
    w.Uint64(bytes_);
    w.Key("seconds");
    w.Double(seconds_);
    w.Key("send_flags");
    w.StartArray();
    for (const auto& f : send_flags_) w.String(f.c_str());
    w.EndArray();
    str("bookmark", bookmark);
    str("hold_tag", hold_tag_);
    w.Key("failed_cleanups");
    w.Int(failed_cleanups_);
    w.Key("source_capabilities");
    w.RawValue(zfs::CapabilitiesJson(source.capabilities()).c_str(), zfs::CapabilitiesJson(source.capabilities()).size(), rapidjson::kObjectType);
    w.Key("target_capabilities");
    w.RawValue(zfs::CapabilitiesJson(target.capabilities()).c_str(), zfs::CapabilitiesJson(target.capabilities()).size(), rapidjson::kObjectType);
    w.Key("new_host_keys");
    const std::string keys = NewHostKeysJson(new_host_keys_);
    w.RawValue(keys.c_str(), keys.size(), rapidjson::kArrayType);
    w.EndObject();
    return buf.GetString();
  }

  agent::StepContext& ctx_;
  const ShellConnector& connect_;
  agent::Params params_;
  HostAccess source_access_, target_access_;
  std::string source_dataset_, target_dataset_, prefix_, hold_tag_, snapshot_, base_hold_;
  std::optional<std::vector<std::string>> pair_flags_;
  std::optional<zfs::DatasetPoints> source_listing_;  // once the job's snapshot is listed
  std::vector<std::string> send_flags_, destroyed_on_target_, kept_on_target_;
  zfs::ReplicationOptions options_;
  zfs::ReplicationDecision decision_;
  TransferOptions transfer_;
  Checkpoint checkpoint_;
  std::uint64_t snapshot_guid_ = 0, bytes_ = 0;
  double seconds_ = 0;
  bool resumed_ = false, aborted_partial_ = false;
  int failed_cleanups_ = 0;
  NewHostKeys new_host_keys_;
};

}  // namespace

StepOutcome RunReplicate(agent::StepContext& ctx, const ShellConnector& connect) { return Replication(ctx, connect).Run(); }

}  // namespace dcops::zfs_worker
