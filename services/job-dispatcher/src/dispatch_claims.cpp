// DispatchCore's claiming round: which agents are asked for work, what their claims exclude
// and prefer, when an agent counts as drained, and how claimed steps become Assigns within
// the per-target limits. The rest of DispatchCore is in dispatch_core.cpp.
#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "dispatch_core.hpp"
#include "dispatch_core_helpers.hpp"

namespace dcops::dispatcher {

namespace pb = dcops::agent::v1;
using core_detail::Done;
using core_detail::TraceId;

void DispatchCore::AssignWork(CorePort& port, bool new_work) {
  std::vector<std::shared_ptr<AgentConn>> order;
  for (const auto& [id, a] : agents_) order.push_back(a);
  std::sort(order.begin(), order.end(),
            [this](const auto& a, const auto& b) { return Free(*a) > Free(*b); });
  for (const auto& agent : order) {
    const int free = Free(*agent);
    // A fenced agent (silent too long: TendAgents) stays listed until its stream ends; a claim
    // for it would only be handed back.
    if (free <= 0 || agent->step_kinds.empty() || !agent->alive()) continue;
    if (!new_work && agent->drained_at && clock_.Steady() - *agent->drained_at < kDrainedRecheck) continue;
    std::vector<std::string> exclude = limits_.Full();
    for (auto& t : limits_.FullForMutating()) exclude.push_back(t);
    const bool at_limits = !exclude.empty();  // a freed slot may make these claimable
    metrics_.SetTargetsAtLimit(static_cast<long>(exclude.size()));
    // Affinity: this agent prefers the targets it served last; targets another agent with
    // a free slot served last are left to that agent. Affinity is a preference, never a
    // wait: a target whose agent is busy goes to whoever is free.
    std::vector<std::string> prefer;
    for (const auto& t : agent->recent_targets) {
      if (auto it = affinity_.find(t); it != affinity_.end() && it->second == agent->id)
        prefer.push_back(t);
    }
    const std::size_t at_limit_count = exclude.size();
    for (const auto& [id, other] : agents_) {
      if (other == agent || Free(*other) <= 0 || other->step_kinds != agent->step_kinds) continue;
      for (const auto& t : other->recent_targets) {
        if (auto it = affinity_.find(t); it != affinity_.end() && it->second == other->id)
          exclude.push_back(t);
      }
    }
    const bool left_to_others = exclude.size() > at_limit_count;
    ClaimRequest request{options_.site, agent->id, agent->step_kinds, free, options_.lease,
                         exclude,       1,         std::move(prefer)};
    auto claimed = port.ClaimSteps(request);
    if (!claimed) return;
    // Everything it could take taken (nothing at all, or all the claim found), and no target
    // left out at its limit (a freed slot would make it claimable). Targets left to another
    // agent's affinity do not count when the claim found nothing: that agent claims them, and
    // should it fill up first, the recheck finds them (an idle site's agents must not claim
    // every round). A claim that took something while leaving targets to another agent is
    // asked again: that agent may fill up in this very round.
    const bool drained = claimed->empty() || (claimed->front().queue_drained && !left_to_others);
    if (drained && !at_limits) {
      agent->drained_at = clock_.Steady();
    } else {
      agent->drained_at.reset();
    }
    // Each step takes its target's slot as it is prepared, so two steps of one claim never
    // both pass the limit (the claim's one-per-target bound is the database's promise; this is
    // the dispatcher's own).
    std::vector<std::pair<const ClaimedStep*, pb::DispatcherMessage>> assigns;
    for (const auto& s : *claimed) {
      if (auto m = PrepareAssign(port, s)) {
        limits_.Started(s.target, s.mutating);
        assigns.emplace_back(&s, std::move(*m));
      }
    }
    for (std::size_t i = 0; i < assigns.size(); ++i) {
      const auto& [s, m] = assigns[i];
      if (!agent->Write(m, /*more=*/i + 1 < assigns.size())) {
        limits_.Finished(s->target, s->mutating);
        Ensure(port, s->task_id, "SnoozeStep",
               [task = s->task_id, lease = s->lease_id](CorePort& p) {
                 return Done(p.SnoozeStep(task, lease, std::chrono::seconds(0),
                                          "agent went away before the assignment"));
               });
        continue;
      }
      Started(*agent, *s);
    }
  }
}

void DispatchCore::Remember(AgentConn& agent, const std::string& target) {
  affinity_[target] = agent.id;
  auto& recent = agent.recent_targets;
  if (auto it = std::find(recent.begin(), recent.end(), target); it != recent.end())
    recent.erase(it);
  recent.push_back(target);
  if (recent.size() > kRecentTargets) recent.pop_front();
  if (affinity_.size() > 64 * kRecentTargets) {  // forget targets nobody remembers any more
    std::set<std::string> kept;
    for (const auto& [_, a] : agents_)
      kept.insert(a->recent_targets.begin(), a->recent_targets.end());
    std::erase_if(affinity_, [&kept](const auto& kv) { return !kept.count(kv.first); });
  }
}

int DispatchCore::Free(const AgentConn& a) const {
  int used = 0;
  for (const auto& [_, r] : running_) used += r.agent_id == a.id ? 1 : 0;
  return a.capacity - used;
}

// The Assign of a claimed step, with its credentials decrypted just in time; nothing when
// the step cannot start (it is snoozed or failed here).
std::optional<pb::DispatcherMessage> DispatchCore::PrepareAssign(CorePort& port,
                                                                 const ClaimedStep& s) {
  if (!limits_.CanStart(s.target, s.mutating)) {
    Ensure(port, s.task_id, "SnoozeStep", [task = s.task_id, lease = s.lease_id](CorePort& p) {
      return Done(p.SnoozeStep(task, lease, std::chrono::seconds(0), "target at its limit"));
    });
    metrics_.LimitWait();
    return std::nullopt;
  }
  auto m = port.Assignment(s, limits_.RuleFor(s.target).min_interval_ms);
  if (!m && m.error().code == kStepMustWait) {
    Ensure(port, s.task_id, "SnoozeStep", [task = s.task_id, lease = s.lease_id, why = m.error().message](CorePort& p) {
      return Done(p.SnoozeStep(task, lease, kMustWaitRecheck, why));
    });
    metrics_.LimitWait();
    return std::nullopt;
  }
  if (!m) {
    Ensure(port, s.task_id, "FailStep",
           [task = s.task_id, lease = s.lease_id, e = m.error()](CorePort& p) {
             return Done(p.FailStep(task, lease, e));
           });
    return std::nullopt;
  }
  return std::move(*m);
}

// A step assigned (its target's slot was taken when it was prepared).
void DispatchCore::Started(AgentConn& agent, const ClaimedStep& s) {
  Remember(agent, s.target);
  running_[s.task_id] = {s.job_id,   s.lease_id,     s.target,
                         agent.id,   s.step_kind,    TraceId(s.traceparent),
                         s.mutating, clock_.Steady()};
  UpdateGauges();
  metrics_.StepStarted(s.step_kind, s.waited_ms / 1000.0);
}

}  // namespace dcops::dispatcher
