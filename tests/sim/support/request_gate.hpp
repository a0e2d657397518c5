#pragma once
// Holds one request of a simulator until the test lets it go: a slow device, for tests that
// must act while an agent is inside a read (a drain, a cancel), synchronised on the request
// itself rather than on time.
//
// Thread-safety: Pass() runs on the server's threads, the rest on the test's; all lock.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>

namespace dcops::sim {

class RequestGate {
 public:
  // The next request named `what` (an operation, a path) waits in Pass() until Release().
  void HoldNext(const std::string& what);
  // Blocks until a held request is waiting; false when none arrived within `timeout`.
  bool WaitUntilHeld(std::chrono::milliseconds timeout);
  // Lets a held request (and any later one) go. Also called when a server stops.
  void Release();
  // Called by the server for each request: returns at once unless this one is to be held.
  void Pass(const std::string& what);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::string armed_;  // "" when not armed
  bool holding_ = false;
  bool released_ = false;
};

}  // namespace dcops::sim
