#pragma once
// The bytes of one replication: read from `zfs send` on the source, written into
// `zfs receive` on the target, by this worker (the two hosts share no keys). Bounded memory
// (one chunk), a bandwidth limit, progress with an ETA when the size is known, and a stall
// timeout. Cancellation stops the pump between chunks; the caller then drops the send and
// ends the receive's input, which the target sees as an interrupted stream (resumable when it
// received with -s).
//
// The rate limit is a token bucket over the Clock: a burst of at most one second's worth,
// then waits (through `wait`, so a cancel cuts them short).
//
// Thread-safety: one pump per call. Blocking: until the stream ends, fails or is cancelled.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "dcops/common/clock.hpp"
#include "dcops/common/result.hpp"
#include "dcops/ssh/session.hpp"

namespace dcops::zfs_worker {

struct TransferOptions {
  std::uint64_t bytes_per_second = 0;  // 0: no limit
  std::optional<std::uint64_t> expected_bytes;
  std::chrono::milliseconds stall_timeout{120000};
  std::chrono::milliseconds progress_every{1000};
  std::size_t chunk = 1u << 20;
};

struct TransferProgress {
  std::uint64_t bytes = 0;
  double seconds = 0;
  double bytes_per_second = 0;
  std::optional<double> eta_seconds;
  std::optional<int> percent;
};

struct TransferStats {
  std::uint64_t bytes = 0;
  double seconds = 0;
  bool cancelled = false;
};

using ProgressFn = std::function<void(const TransferProgress&)>;
// Waits up to `d`; false when the wait was cut short by a cancel.
using WaitFn = std::function<bool(std::chrono::milliseconds)>;

// Errors: the read or write error of the side that failed (ssh.*), with which side it was.
Result<TransferStats> Pump(ssh::RemoteProcess& from, ssh::RemoteProcess& to, const TransferOptions& options, Clock& clock,
                           const ProgressFn& progress, const std::function<bool()>& cancelled, const WaitFn& wait);

// "1.5 GiB", "312 KiB", "17 B".
std::string HumanBytes(std::uint64_t bytes);
// "1.5 GiB of 2.0 GiB (75%), 112 MiB/s, about 4 s left" / "1.5 GiB, 112 MiB/s".
std::string DescribeProgress(const TransferProgress& p, const std::optional<std::uint64_t>& expected);

}  // namespace dcops::zfs_worker
