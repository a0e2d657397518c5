#include "zfs_host.hpp"

#include <fmt/format.h>

#include "dcops/zfs/names.hpp"

namespace dcops::zfs_worker {

std::string Words(const std::string& err) {
  std::string out;
  for (char c : err) {
    if (out.size() >= 600) {
      out += "…";
      break;
    }
    if (c == '\n' || c == '\t') {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else if (static_cast<unsigned char>(c) >= 0x20) {
      out += c;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out.empty() ? "(nothing on stderr)" : out;
}

Error ReceiveFailure(const std::string& target_label, const std::string& dataset, const std::string& err, bool resumable) {
  const std::string words = Words(err);
  if (err.find("has been modified") != std::string::npos) {
    return MakeError("zfs.target_modified",
                     fmt::format("{}: {} was changed since its most recent snapshot, so an increment cannot land on it ({}). "
                                 "Nothing was destroyed; set the target readonly, or allow the job to roll it back "
                                 "(allow_target_destroy)",
                                 target_label, dataset, words));
  }
  if (err.find("does not match incremental source") != std::string::npos || err.find("destination has snapshots") != std::string::npos) {
    return MakeError("zfs.diverged", fmt::format("{}: {} refused the increment: {}", target_label, dataset, words));
  }
  if (resumable) {
    return MakeError("zfs.transfer_interrupted",
                     fmt::format("{}: the receive into {} was interrupted and its partial state kept; the next attempt resumes it ({})",
                                 target_label, dataset, words),
                     true);
  }
  return MakeError("zfs.receive_failed", fmt::format("{}: receive into {} failed: {}", target_label, dataset, words), true);
}

Error ZfsHost::Truncated(const std::vector<std::string>& argv) const {
  return MakeError("zfs.unexpected_output", fmt::format("{}: `{} {}` printed more than {} MiB; the rest was not read, so nothing is "
                                                        "decided on it",
                                                        label_, argv.size() > 0 ? argv[0] : "", argv.size() > 1 ? argv[1] : "",
                                                        ssh::Session::kMaxOutput >> 20));
}

Result<ssh::CommandResult> ZfsHost::Try(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  return shell_.Run(argv, timeout);
}

Result<std::string> ZfsHost::Command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  auto r = Try(argv, timeout);
  if (!r) return r.error();
  if (r->exit_status != 0) {
    std::string shown;
    for (std::size_t i = 0; i < argv.size() && i < 6; ++i) shown += (i ? " " : "") + argv[i];
    return MakeError("zfs.command_failed", fmt::format("{}: `{}` failed (exit {}): {}", label_, shown, r->exit_status, Words(r->err)));
  }
  if (r->truncated) return Truncated(argv);
  return std::move(r->out);
}

Result<std::string> ZfsHost::Version() {
  if (!version_) {
    auto r = Try({"zfs", "version"});
    if (!r) return r.error();
    version_ = r->exit_status == 0 ? zfs::ParseZfsVersion(r->out) : "";
  }
  return *version_;
}

Status ZfsHost::Probe(const std::string& pool) {
  if (auto st = zfs::CheckPool(pool); !st) return st;
  auto version = Version();
  if (!version) return version.error();
  const bool openzfs = !version->empty();
  std::string pool_props;
  if (openzfs) {
    auto props = Command({"zpool", "get", "-H", "-o", "property,value",
                          "version,feature@bookmarks,feature@extensible_dataset,feature@encryption,feature@large_blocks", pool});
    if (!props) return props.error();
    pool_props = std::move(*props);
  } else {
    auto props = Command({"zpool", "get", "version", pool});
    if (!props) return props.error();
    pool_props = std::move(*props);
  }
  caps_ = zfs::ProbeResult(openzfs, "zfs-" + *version, pool_props);
  return {};
}

Result<zfs::DatasetPoints> ZfsHost::Points(const std::string& dataset) {
  if (auto st = zfs::CheckDataset(dataset); !st) return st.error();
  std::string props = "guid,createtxg,creation,userrefs,used";
  if (caps_.resume) props += ",receive_resume_token";
  if (caps_.openzfs) props += ",encryption";
  auto r = Try({"zfs", "get", "-H", "-p", "-r", "-d", "1", "-o", "name,property,value", props, dataset});
  if (!r) return r.error();
  if (r->exit_status != 0) {
    if (r->err.find("dataset does not exist") != std::string::npos) return zfs::DatasetPoints{};
    return MakeError("zfs.command_failed", fmt::format("{}: listing {} failed (exit {}): {}", label_, dataset, r->exit_status, Words(r->err)));
  }
  if (r->truncated) return Truncated({"zfs", "get"});
  auto entries = zfs::ParseGet(r->out);
  if (!entries) return MakeError(entries.error().code, label_ + ": " + entries.error().message);
  return zfs::PointsOf(*entries, dataset);
}

Status ZfsHost::Snapshot(const std::string& snapshot) {
  if (auto st = zfs::CheckSnapshot(snapshot); !st) return st;
  auto r = Command({"zfs", "snapshot", snapshot});
  if (!r) return r.error();
  return {};
}

Status ZfsHost::Hold(const std::string& tag, const std::string& snapshot) {
  if (auto st = zfs::CheckHoldTag(tag); !st) return st;
  if (auto st = zfs::CheckSnapshot(snapshot); !st) return st;
  auto r = Try({"zfs", "hold", tag, snapshot});
  if (!r) return r.error();
  if (r->exit_status != 0 && r->err.find("tag already exists") == std::string::npos) {
    return MakeError("zfs.command_failed", fmt::format("{}: holding {} failed: {}", label_, snapshot, Words(r->err)));
  }
  return {};
}

Status ZfsHost::Release(const std::string& tag, const std::string& snapshot) {
  if (auto st = zfs::CheckHoldTag(tag); !st) return st;
  if (auto st = zfs::CheckSnapshot(snapshot); !st) return st;
  auto r = Try({"zfs", "release", tag, snapshot});
  if (!r) return r.error();
  if (r->exit_status != 0 && r->err.find("no such tag") == std::string::npos) {
    return MakeError("zfs.command_failed", fmt::format("{}: releasing {} failed: {}", label_, snapshot, Words(r->err)));
  }
  return {};
}

Status ZfsHost::Bookmark(const std::string& snapshot, const std::string& bookmark) {
  if (auto st = zfs::CheckSnapshot(snapshot); !st) return st;
  if (auto st = zfs::CheckBookmark(bookmark); !st) return st;
  auto r = Command({"zfs", "bookmark", snapshot, bookmark});
  if (!r) return r.error();
  return {};
}

Status ZfsHost::Destroy(const std::string& name) {
  // Only a snapshot or a bookmark: never a dataset.
  if (!zfs::CheckSnapshot(name) && !zfs::CheckBookmark(name)) {
    return MakeError("zfs.bad_name", fmt::format("{}: refusing to destroy '{}': not a snapshot or bookmark name", label_, name));
  }
  auto r = Command({"zfs", "destroy", name});
  if (!r) return r.error();
  return {};
}

Status ZfsHost::AbortReceive(const std::string& dataset) {
  if (auto st = zfs::CheckDataset(dataset); !st) return st;
  auto r = Command({"zfs", "receive", "-A", dataset});
  if (!r) return r.error();
  return {};
}

Result<std::optional<std::uint64_t>> ZfsHost::Estimate(const std::vector<std::string>& send_args) {
  if (!caps_.send_estimate) return std::optional<std::uint64_t>{};
  std::vector<std::string> argv{"zfs", "send", "-n", "-P"};
  argv.insert(argv.end(), send_args.begin(), send_args.end());
  auto out = Command(argv);
  if (!out) return out.error();
  // "size\t<bytes>" is the total (OpenZFS prints it on stdout with -P).
  const auto at = out->rfind("size\t");
  if (at == std::string::npos || (at != 0 && (*out)[at - 1] != '\n')) return std::optional<std::uint64_t>{};
  try {
    return std::optional<std::uint64_t>{std::stoull(out->substr(at + 5))};
  } catch (...) {
    return std::optional<std::uint64_t>{};
  }
}

Result<std::string> ZfsHost::ResumeTarget(const std::string& token, std::string& why) {
  // OpenZFS prints "1-<hex>-<hex>-<hex>"; anything outside a token's alphabet is refused.
  if (token.empty() || token.size() > 65536 ||
      token.find_first_not_of("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_+/=") != std::string::npos) {
    return MakeError("zfs.unexpected_output", fmt::format("{}: the target's resume token is not a token", label_));
  }
  auto r = Try({"zfs", "send", "-n", "-v", "-t", token});
  if (!r) return r.error();
  const std::string text = r->out + r->err;
  if (r->exit_status != 0) {
    why = Words(r->err);
    return std::string();
  }
  const auto at = text.find("toname = ");
  if (at == std::string::npos) return std::string();
  const auto end = text.find('\n', at);
  return text.substr(at + 9, end == std::string::npos ? std::string::npos : end - at - 9);
}

Result<std::unique_ptr<ssh::RemoteProcess>> ZfsHost::StartSend(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"zfs", "send"};
  argv.insert(argv.end(), args.begin(), args.end());
  return shell_.Start(argv);
}

Result<std::unique_ptr<ssh::RemoteProcess>> ZfsHost::StartReceive(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"zfs", "receive"};
  argv.insert(argv.end(), args.begin(), args.end());
  return shell_.Start(argv);
}

}  // namespace dcops::zfs_worker
