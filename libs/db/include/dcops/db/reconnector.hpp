#pragma once
// Keeps one connection alive across database outages.
//
// Get() hands out the current connection, or reconnects with the backoff in
// DbOptions::reconnect (restoring every LISTEN of the lost connection) until `give_up_after`
// passes. Statements are never replayed here: whether a failed statement may run again is
// the caller's decision (the SQL API is built so that dispatcher calls are safe to repeat).
//
// Ownership: owns its Connection; the Clock must outlive it.
// Thread-safety: none; one Reconnector per thread.
// Blocking: Get() blocks (through Clock::SleepFor) while the database is away.

#include <chrono>
#include <optional>
#include <random>

#include "dcops/common/clock.hpp"
#include "dcops/db/connection.hpp"

namespace dcops::db {

class Reconnector {
 public:
  Reconnector(DbOptions options, Clock& clock);

  // A healthy connection, or the last connect error once `give_up_after` has passed.
  Result<Connection*> Get(std::chrono::milliseconds give_up_after);
  // Drops the current connection (call after an error with code db.connection_lost).
  void Reset();
  // How many times a lost connection was replaced.
  int reconnects() const { return reconnects_; }
  // Connection attempts that failed since the last success.
  int failed_attempts() const { return failed_attempts_; }

 private:
  DbOptions options_;
  Clock& clock_;
  std::optional<Connection> conn_;
  std::vector<std::string> channels_;
  std::mt19937_64 rng_{std::random_device{}()};
  bool ever_connected_ = false;
  int reconnects_ = 0;
  int failed_attempts_ = 0;
};

}  // namespace dcops::db
