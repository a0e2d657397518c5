#pragma once
// The dispatcher's view of its connected agents and the steps they run. Protocol messages
// only: how a message reaches an agent is an AgentLink (gRPC in dispatcher.cpp, a fake in
// tests), so the dispatch core builds without gRPC.
//
// Thread-safety: AgentConn::Write/Close/Fence may be called from any thread (they lock); the
// rest of AgentConn, Inbound and RunningStep belong to the dispatcher's loop.
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "dcops/agent/v1/agent.pb.h"

namespace dcops::dispatcher {

// One agent's connection as the core writes to it. Calls are serialised by AgentConn.
class AgentLink {
 public:
  virtual ~AgentLink() = default;
  // `more`: another message follows at once (may be buffered with it). False: not sent.
  virtual bool Write(const agent::v1::DispatcherMessage& m, bool more) = 0;
  // Ends the connection from the dispatcher's side: the agent's read fails.
  virtual void Cancel() = 0;
};

// One connected agent. The link belongs to its connection's thread; the loop writes through
// Write(), which refuses once that thread has returned (Close) or the loop fenced it.
struct AgentConn {
  std::string id, kind, version, hostname;
  int capacity = 1;
  std::vector<std::string> step_kinds;
  // Targets this agent served last, newest at the back (loop-owned): its open device
  // sessions, which the next claims prefer.
  std::deque<std::string> recent_targets;
  // When the loop last heard from it (any message; loop-owned): silence past a few heartbeat
  // intervals closes the connection (a frozen process keeps its TCP connection open).
  std::chrono::steady_clock::time_point last_heard{};
  // When its last claim found nothing to give it, with no target left out (loop-owned; unset
  // once a claim gives it anything): DispatchCore::AssignWork's kDrainedRecheck.
  std::optional<std::chrono::steady_clock::time_point> drained_at;
  std::shared_ptr<AgentLink> link;

  bool Write(const agent::v1::DispatcherMessage& m, bool more = false) {
    std::lock_guard lock(write_mu_);
    return alive_ && link && link->Write(m, more);
  }
  // The connection's thread has returned: nothing more can be written.
  void Close() {
    std::lock_guard lock(write_mu_);
    alive_ = false;
  }
  // Ends the connection from the dispatcher's side (another connection took this identity,
  // leadership was lost, the agent went silent).
  void Fence() {
    std::lock_guard lock(write_mu_);
    if (alive_ && link) link->Cancel();
    alive_ = false;
  }
  bool alive() {
    std::lock_guard lock(write_mu_);
    return alive_;
  }

 private:
  std::mutex write_mu_;
  bool alive_ = true;
};

struct Inbound {
  enum Kind { kHello, kMessage, kGone } kind;
  std::shared_ptr<AgentConn> conn;
  agent::v1::AgentMessage msg;
};

struct RunningStep {
  std::string job_id, lease_id, target, agent_id, step_kind, trace_id;
  bool mutating = false;
  // When its lease was last confirmed (assigned, adopted, or renewed by its agent's heartbeat).
  std::chrono::steady_clock::time_point renewed{};
};

}  // namespace dcops::dispatcher
