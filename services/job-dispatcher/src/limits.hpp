#pragma once
// Per-target concurrency limits (DESIGN.md §4), separately for mutating steps and for all
// steps, by target kind ("idrac", "vcenter", "esxi", "zfs", "ome") with per-target overrides.
// In-memory: the leader dispatcher is the only one starting steps of its site.
//
// Thread-safety: not thread-safe; owned by the dispatch loop.

#include <map>
#include <string>
#include <vector>

namespace dcops::dispatcher {

struct LimitRule {
  int mutating = 1;  // mutating steps running at once on one target
  int total = 2;     // all steps running at once on one target
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

class TargetLimits {
 public:
  explicit TargetLimits(LimitsConfig config = {}) : config_(std::move(config)) {}

  const LimitRule& RuleFor(const std::string& target) const;
  bool CanStart(const std::string& target, bool mutating) const;
  void Started(const std::string& target, bool mutating);
  void Finished(const std::string& target, bool mutating);
  int Running(const std::string& target) const;
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
