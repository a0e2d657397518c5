#pragma once
// One simulated Redfish service serving a mockup tree: the request dispatcher (authentication,
// GET of resources and collections, actions, PATCH, sessions) over the state in sim_state.hpp.
// Transport-free: server.hpp puts it on HTTPS; tests call Handle directly.
//
// Thread-safety: every public member is safe from any thread (one mutex around the state).
// Nothing blocks except Create, which reads the tree from disk.
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "dcops/common/result.hpp"
#include "sim_state.hpp"
#include "sim_types.hpp"

namespace dcops::sim::tree {

class TreeSim {
 public:
  // Loads options.tree and derives what the service offers from it.
  static Result<std::unique_ptr<TreeSim>> Create(SimOptions options);

  SimResponse Handle(const SimRequest& req);
  // The control endpoint's GET /state body (control_state.hpp).
  std::string State();
  // The current body of `uri` (any spelling), or nullopt.
  std::optional<std::string> Resource(const std::string& uri);
  // Replaces the clocks (tests move time by hand).
  void SetClock(std::function<Clock::time_point()> now,
                std::function<WallClock::time_point()> wall_now);

 private:
  TreeSim() = default;
  SimResponse Dispatch(const SimRequest& req);

  std::mutex mu_;
  SimState state_;
};

}  // namespace dcops::sim::tree
