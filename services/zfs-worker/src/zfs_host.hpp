#pragma once
// One ZFS host as the steps use it: `zfs` and `zpool` over an SSH shell, every name checked
// against ZFS's grammar first (libs/zfs names.hpp), every command an argument vector, and
// the host's refusals turned into errors that quote its own words.
//
// Errors: zfs.bad_name (refused before running), zfs.command_failed (the host's stderr in the
// message), zfs.unexpected_output, and the ssh.* errors of the shell.
// Ownership: borrows the shell; one thread at a time. Blocking: every call.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dcops/ssh/session.hpp"
#include "dcops/zfs/capabilities.hpp"
#include "dcops/zfs/listing.hpp"

namespace dcops::zfs_worker {

class ZfsHost {
 public:
  ZfsHost(ssh::RemoteShell& shell, std::string label) : shell_(shell), label_(std::move(label)) {}

  const std::string& label() const { return label_; }  // "backup-01 (127.0.0.3:22)", for messages
  const zfs::Capabilities& capabilities() const { return caps_; }

  // `zfs version` and the pool's properties: what this host can do (kept for later calls).
  Status Probe(const std::string& pool);
  // The OpenZFS version `zfs version` prints ("2.1.11"), "" on old ZFS (no such command).
  // Asked once per host; later calls answer from the first.
  Result<std::string> Version();

  // The dataset's own entry and its snapshots and bookmarks; exists=false when it does not.
  Result<zfs::DatasetPoints> Points(const std::string& dataset);

  Status Snapshot(const std::string& snapshot);
  Status Hold(const std::string& tag, const std::string& snapshot);      // "tag already exists" is success
  Status Release(const std::string& tag, const std::string& snapshot);   // "no such tag" is success
  Status Bookmark(const std::string& snapshot, const std::string& bookmark);
  Status Destroy(const std::string& snapshot_or_bookmark);
  Status AbortReceive(const std::string& dataset);
  // What `zfs send -n -P` says a send of these arguments would write; nullopt when the host
  // cannot estimate.
  Result<std::optional<std::uint64_t>> Estimate(const std::vector<std::string>& send_args);
  // `zfs send -n -v -t TOKEN`: the snapshot the token resumes ("" when the host says it is gone:
  // `why` then holds its words).
  Result<std::string> ResumeTarget(const std::string& token, std::string& why);

  // Streams: `zfs send ARGS…` and `zfs receive ARGS… DATASET`.
  Result<std::unique_ptr<ssh::RemoteProcess>> StartSend(const std::vector<std::string>& args);
  Result<std::unique_ptr<ssh::RemoteProcess>> StartReceive(const std::vector<std::string>& args);

  // Runs `argv` (zfs or zpool …): its stdout, or zfs.command_failed with its stderr
  // (zfs.unexpected_output when it printed more than ssh::Session::kMaxOutput).
  Result<std::string> Command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // As Command, but a failure is the CommandResult (exit status and stderr), for callers that
  // tell one refusal from another.
  Result<ssh::CommandResult> Try(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // zfs.unexpected_output: `argv` printed more than the shell keeps.
  Error Truncated(const std::vector<std::string>& argv) const;

 private:
  ssh::RemoteShell& shell_;
  std::string label_;
  zfs::Capabilities caps_;
  std::optional<std::string> version_;
};

// The first lines of a host's stderr, trimmed, for an error message.
std::string Words(const std::string& err);

// A `zfs receive` refusal (its stderr `err`) in the operator's terms: zfs.target_modified,
// zfs.diverged, zfs.transfer_interrupted (retryable: `resumable`, the target kept a partial
// receive a retry can resume) or zfs.receive_failed.
Error ReceiveFailure(const std::string& target_label, const std::string& dataset, const std::string& err, bool resumable);

}  // namespace dcops::zfs_worker
