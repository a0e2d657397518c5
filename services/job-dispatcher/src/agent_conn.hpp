#pragma once
// The dispatcher's view of its connected agents and the steps they run: part of the
// gRPC-facing server library (it holds an agent's stream).
//
// Thread-safety: AgentConn::Write/Close may be called from any thread (they lock); the rest
// of AgentConn, Inbound and RunningStep belong to the dispatcher's loop.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "dcops/agent/v1/agent.grpc.pb.h"

namespace dcops::dispatcher {

using AgentStream = grpc::ServerReaderWriter<agent::v1::DispatcherMessage, agent::v1::AgentMessage>;

// One connected agent. The stream belongs to its gRPC thread; the loop writes through
// Write(), which refuses once that thread has returned.
struct AgentConn {
  std::string id, kind, version, hostname;
  int capacity = 1;
  std::vector<std::string> step_kinds;
  // Targets this agent served last, newest at the back (loop-owned): its open device
  // sessions, which the next claims prefer.
  std::deque<std::string> recent_targets;
  // When the loop last heard from it (any message; loop-owned): silence past a few heartbeat
  // intervals closes the connection (a frozen process keeps its TCP connection open).
  std::chrono::steady_clock::time_point last_heard = std::chrono::steady_clock::now();
  std::mutex write_mu;
  AgentStream* stream = nullptr;
  grpc::ServerContext* ctx = nullptr;  // valid while alive (the gRPC thread holds the call)
  bool alive = true;

  // `more`: another message follows at once, so this one may wait in gRPC's buffer and go
  // out with it (a batch of Assigns costs one transport write, not one each).
  bool Write(const agent::v1::DispatcherMessage& m, bool more = false) {
    std::lock_guard lock(write_mu);
    grpc::WriteOptions options;
    if (more) options.set_buffer_hint();
    return alive && stream->Write(m, options);
  }
  void Close() {
    std::lock_guard lock(write_mu);
    alive = false;
  }
  // Ends the connection from the dispatcher's side (another connection took this identity):
  // the agent's read fails and its gRPC thread returns.
  void Fence() {
    std::lock_guard lock(write_mu);
    if (alive && ctx != nullptr) ctx->TryCancel();
    alive = false;
  }
};

struct Inbound {
  enum Kind { kHello, kMessage, kGone } kind;
  std::shared_ptr<AgentConn> conn;
  agent::v1::AgentMessage msg;
};

struct RunningStep {
  std::string job_id, lease_id, target, agent_id, step_kind, trace_id;
  bool mutating = false;
};

}  // namespace dcops::dispatcher
