#include "transfer.hpp"

#include <catch2/catch.hpp>
#include <deque>

namespace dcops::zfs_worker {
namespace {

using namespace std::chrono;

// A send that yields `total` bytes in 1 MiB reads, and a receive that keeps a count.
class FakeSend final : public ssh::RemoteProcess {
 public:
  explicit FakeSend(std::uint64_t total) : left_(total) {}
  Result<std::size_t> Read(char* buf, std::size_t max, milliseconds) override {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left_, max));
    std::fill(buf, buf + n, 'z');
    left_ -= n;
    return n;
  }
  Status Write(const char*, std::size_t) override { return {}; }
  Status CloseStdin() override { return {}; }
  Result<ssh::CommandResult> Wait(milliseconds) override { return ssh::CommandResult{0, "", "", false}; }
  const std::string& err() const override { return err_; }

 private:
  std::uint64_t left_;
  std::string err_;
};

class FakeReceive final : public ssh::RemoteProcess {
 public:
  Result<std::size_t> Read(char*, std::size_t, milliseconds) override { return std::size_t{0}; }
  Status Write(const char*, std::size_t n) override {
    if (fail_after_ && received_ + n > *fail_after_) return MakeError("ssh.channel", "the receive went away", true);
    received_ += n;
    return {};
  }
  Status CloseStdin() override { return {}; }
  Result<ssh::CommandResult> Wait(milliseconds) override { return ssh::CommandResult{0, "", "", false}; }
  const std::string& err() const override { return err_; }
  std::uint64_t received_ = 0;
  std::optional<std::uint64_t> fail_after_;

 private:
  std::string err_;
};

}  // namespace

TEST_CASE("the pump holds a bandwidth limit as waits on the clock, a second's burst at most") {
  FakeClock clock;
  FakeSend send(10u << 20);
  FakeReceive receive;
  TransferOptions options;
  options.bytes_per_second = 2u << 20;
  options.expected_bytes = 10u << 20;
  std::vector<milliseconds> waits;
  std::vector<TransferProgress> reports;
  auto stats = Pump(send, receive, options, clock, [&](const TransferProgress& p) { reports.push_back(p); }, [] { return false; },
                    [&](milliseconds d) {
                      waits.push_back(d);
                      clock.Advance(d);
                      return true;
                    });
  REQUIRE(stats);
  CHECK(stats->bytes == 10u << 20);
  CHECK(receive.received_ == 10u << 20);
  // 10 MiB at 2 MiB/s with a 1 s burst: 4 s of waiting, never more than the chunk's worth at once.
  milliseconds total{0};
  for (auto w : waits) {
    total += w;
    CHECK(w <= milliseconds(500));
  }
  CHECK(total >= milliseconds(3990));
  CHECK(total <= milliseconds(4000));
  CHECK(stats->seconds == Approx(4.0).epsilon(0.01));
  REQUIRE_FALSE(reports.empty());
  CHECK(reports.back().percent.has_value());
  CHECK(reports.back().bytes_per_second == Approx(2.0 * (1 << 20)).epsilon(0.3));
  CHECK(reports.front().eta_seconds.has_value());
  CHECK(*reports.front().eta_seconds > *reports[reports.size() / 2].eta_seconds);
}

TEST_CASE("the pump stops between chunks when cancelled, and names the side that failed") {
  FakeClock clock;
  FakeSend send(8u << 20);
  FakeReceive receive;
  int chunks = 0;
  auto stats = Pump(send, receive, TransferOptions{}, clock, [](const TransferProgress&) {}, [&] { return ++chunks > 3; },
                    [](milliseconds) { return true; });
  REQUIRE(stats);
  CHECK(stats->cancelled);
  CHECK(stats->bytes == 3u << 20);

  FakeSend again(8u << 20);
  FakeReceive broken;
  broken.fail_after_ = 2u << 20;
  auto failed = Pump(again, broken, TransferOptions{}, clock, [](const TransferProgress&) {}, [] { return false; },
                     [](milliseconds) { return true; });
  REQUIRE_FALSE(failed);
  CHECK(failed.error().message == "writing into the target's receive: the receive went away");
  CHECK(failed.error().retryable);
  CHECK(DescribeProgress(TransferProgress{3u << 20, 1.5, 2.0 * (1 << 20), 2.5, 60}, 5u << 20) ==
        "3.0 MiB of 5.0 MiB (60%), 2.0 MiB/s, about 2 s left");
}

}  // namespace dcops::zfs_worker
