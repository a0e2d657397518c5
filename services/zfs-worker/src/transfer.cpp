#include "transfer.hpp"

#include <fmt/format.h>

#include <vector>

namespace dcops::zfs_worker {

std::string HumanBytes(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, kUnits[u]);
}

std::string DescribeProgress(const TransferProgress& p, const std::optional<std::uint64_t>& expected) {
  std::string out = HumanBytes(p.bytes);
  if (expected) out += fmt::format(" of {}", HumanBytes(*expected));
  if (p.percent) out += fmt::format(" ({}%)", *p.percent);
  out += fmt::format(", {}/s", HumanBytes(static_cast<std::uint64_t>(p.bytes_per_second)));
  if (p.eta_seconds) out += fmt::format(", about {:.0f} s left", *p.eta_seconds);
  return out;
}

Result<TransferStats> Pump(ssh::RemoteProcess& from, ssh::RemoteProcess& to, const TransferOptions& options, Clock& clock,
                           const ProgressFn& progress, const std::function<bool()>& cancelled, const WaitFn& wait) {
  using namespace std::chrono;
  std::vector<char> buf(options.chunk);
  TransferStats stats;
  const auto start = clock.Steady();
  auto last_report = start;
  auto report = [&](Clock::SteadyTime now) {
    TransferProgress p;
    p.bytes = stats.bytes;
    p.seconds = duration<double>(now - start).count();
    p.bytes_per_second = p.seconds > 0 ? static_cast<double>(p.bytes) / p.seconds : 0;
    if (options.expected_bytes && *options.expected_bytes > 0) {
      const auto expected = *options.expected_bytes;
      p.percent = static_cast<int>(std::min<std::uint64_t>(99, p.bytes * 100 / expected));
      if (p.bytes_per_second > 0 && expected > p.bytes) p.eta_seconds = static_cast<double>(expected - p.bytes) / p.bytes_per_second;
    }
    progress(p);
  };
  for (;;) {
    if (cancelled()) {
      stats.cancelled = true;
      break;
    }
    auto n = from.Read(buf.data(), buf.size(), options.stall_timeout);
    if (!n) return MakeError(n.error().code, "reading the source's send stream: " + n.error().message, n.error().retryable);
    if (*n == 0) break;
    if (auto st = to.Write(buf.data(), *n); !st) {
      return MakeError(st.error().code, "writing into the target's receive: " + st.error().message, st.error().retryable);
    }
    stats.bytes += *n;
    // The bucket: no further ahead of the allowed rate than one second's worth.
    if (options.bytes_per_second > 0) {
      const double allowed_at = static_cast<double>(stats.bytes) / static_cast<double>(options.bytes_per_second) - 1.0;
      const double elapsed = duration<double>(clock.Steady() - start).count();
      if (allowed_at > elapsed) {
        if (!wait(duration_cast<milliseconds>(duration<double>(allowed_at - elapsed)))) {
          stats.cancelled = true;
          break;
        }
      }
    }
    const auto now = clock.Steady();
    if (now - last_report >= options.progress_every) {
      report(now);
      last_report = now;
    }
  }
  stats.seconds = duration<double>(clock.Steady() - start).count();
  return stats;
}

}  // namespace dcops::zfs_worker
