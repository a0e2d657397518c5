#pragma once
// Per-target concurrency limits (DESIGN.md §4), separately for mutating steps and for all
// steps, by target kind ("idrac", "vcenter", "esxi", "zfs", "ome") with per-target overrides.
// In-memory: the leader dispatcher is the only one starting steps of its site.
//
// Thread-safety: not thread-safe; owned by the dispatch loop.

#include <map>

#include "dcops/common/result.hpp"
#include <string>
#include <vector>

namespace dcops::dispatcher {

struct LimitRule {
  int mutating = 1;  // mutating steps running at once on one target
  int total = 2;     // all steps running at once on one target
  // Pacing handed to the agent in each Assign: the least gap between two requests to the
  // target (0 = none). Slow or old BMCs get a gap instead of a lower limit.
  int min_interval_ms = 0;
};

struct LimitsConfig {
  // Defaults of DESIGN.md §4: iDRAC 1 mutating / 2 total; vCenter 4; ESXi host 1; ZFS host 1;
  // OME 2.
  std::map<std::string, LimitRule> by_kind{{"idrac", {1, 2}},   {"redfish", {1, 2}},
                                           {"vcenter", {4, 4}}, {"esxi", {1, 1}},
                                           {"zfs", {1, 1}},     {"ome", {2, 2}}};
  std::map<std::string, LimitRule> by_target;  // "idrac:127.0.1.4" -> rule
  LimitRule fallback{1, 1};
};

// "idrac:127.0.1.4:8443" -> "idrac"
std::string TargetKind(const std::string& target);

// Overrides from the operator's limits file (DCOPS_LIMITS_FILE), on top of `base`:
//   {"kinds":   {"idrac": {"mutating": 1, "total": 2, "min_interval_ms": 100}},
//    "targets": {"idrac:10.1.2.3:443": {"total": 1, "min_interval_ms": 500}}}
// A field left out keeps the kind's (for a target) or the default's (for a kind) value.
// Errors name the offending path ("limits.kinds.idrac.total: ...").
Result<LimitsConfig> ParseLimitsJson(const std::string& json, LimitsConfig base = {});

class TargetLimits {
 public:
  explicit TargetLimits(LimitsConfig config = {}) : config_(std::move(config)) {}

  const LimitRule& RuleFor(const std::string& target) const;
  bool CanStart(const std::string& target, bool mutating) const;
  void Started(const std::string& target, bool mutating);
  void Finished(const std::string& target, bool mutating);
  int Running(const std::string& target) const;
  // The targets with steps running now, for people watching: [{"target", "kind", "running",
  // "running_mutating", "limit_total", "limit_mutating", "min_interval_ms"}], by target.
  std::string InUseJson() const;
  // Targets with no room for any step (to leave out of the next claim).
  std::vector<std::string> Full() const;
  // Targets with room for read-only steps but not for a mutating one.
  std::vector<std::string> FullForMutating() const;

 private:
  struct Count {
    int mutating = 0;
    int total = 0;
  };
  LimitsConfig config_;
  std::map<std::string, Count> running_;
};

}  // namespace dcops::dispatcher
