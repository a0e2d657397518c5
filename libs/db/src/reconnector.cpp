#include "dcops/db/reconnector.hpp"

namespace dcops::db {

Reconnector::Reconnector(DbOptions options, Clock& clock)
    : options_(std::move(options)), clock_(clock) {}

void Reconnector::Reset() {
  if (conn_) channels_ = conn_->channels();
  conn_.reset();
}

Result<Connection*> Reconnector::Get(std::chrono::milliseconds give_up_after) {
  if (conn_ && conn_->Healthy()) return &*conn_;
  Reset();
  const auto deadline = clock_.Steady() + give_up_after;
  for (int attempt = 1;; ++attempt) {
    auto opened = Connection::Open(options_);
    Status listening;
    if (opened) {
      for (const auto& channel : channels_) {
        listening = opened->Listen(channel);
        if (!listening) break;
      }
    }
    if (opened && listening) {
      if (ever_connected_) ++reconnects_;
      ever_connected_ = true;
      failed_attempts_ = 0;
      conn_ = std::move(*opened);
      return &*conn_;
    }
    ++failed_attempts_;
    Error last = opened ? listening.error() : opened.error();
    // Wrong credentials or a missing database will not fix themselves: fail at once.
    if (!last.retryable) return last;
    const auto delay = options_.reconnect.Delay(attempt, rng_);
    if (!options_.reconnect.AllowsAttempt(attempt + 1) || clock_.Steady() + delay > deadline) {
      last.message += " (gave up reconnecting)";
      return last;
    }
    clock_.SleepFor(delay);
  }
}

}  // namespace dcops::db
