#pragma once
// Everything one simulated service knows: the resource tree as it is now, what was derived
// from it at load (action targets, settings objects, the sessions and tasks collections), the
// live sessions and tasks, pending transitions and the counters the control endpoint reports.
//
// Owned by TreeSim; every access holds TreeSim's mutex (the functions taking SimState& assume
// it is held). Time comes only from `now` / `wall_now`, so tests move it.
#include <rapidjson/document.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "sim_types.hpp"
#include "tree_loader.hpp"

namespace dcops::sim::tree {

using Clock = std::chrono::steady_clock;
using WallClock = std::chrono::system_clock;

// One `Actions` entry of a loaded resource, found by its target URI.
struct ActionRef {
  std::string owner;  // URI of the resource whose Actions hold it
  std::string key;    // "#ComputerSystem.Reset"
  bool oem = false;   // found under Actions/Oem
};

struct Session {
  std::string uri;
  std::string token;
  std::string user;
};

struct Restart {
  std::string system;  // ComputerSystem URI, Off until `until`, then On
  Clock::time_point until{};
};

struct TaskRun {
  std::string uri;
  Clock::time_point start{};
  std::string start_wall;
};

struct Recorded {
  std::string uri;   // action target or PATCH URI
  std::string type;  // "#ComputerSystem.Reset"; empty for a PATCH
  std::string body;  // JSON
};

struct SimState {
  SimOptions options;
  Tree tree;
  // Derived at load.
  std::map<std::string, ActionRef> actions;           // target -> action
  std::map<std::string, std::string> settings_owner;  // settings URI -> owner URI
  std::string sessions_uri;                           // "" when sessions are off
  bool basic_enabled = true;
  std::string tasks_uri;         // "" when there is no TaskService
  bool expand_all = false;       // "$expand=*" honoured
  bool expand_no_links = false;  // "$expand=." honoured
  // Live.
  std::vector<Session> sessions;
  std::map<std::string, rapidjson::Document> pending_settings;  // settings URI -> pending
  std::vector<Restart> restarts;
  std::vector<TaskRun> tasks;
  Clock::time_point unavailable_until{};  // a manager reset: every request answers 503
  std::vector<Recorded> actions_done;
  std::vector<Recorded> patches;
  uint64_t next_id = 1;
  uint64_t logins = 0;
  uint64_t requests = 0;
  uint64_t unauthorized = 0;
  std::function<Clock::time_point()> now = [] { return Clock::now(); };
  std::function<WallClock::time_point()> wall_now = [] { return WallClock::now(); };

  rapidjson::Document* Doc(const std::string& uri) {
    const auto it = tree.json.find(uri);
    return it == tree.json.end() ? nullptr : it->second.get();
  }
};

// "2024-05-01T10:00:00+00:00" for the state's wall clock now.
std::string WallTimestamp(const SimState& s);

}  // namespace dcops::sim::tree
