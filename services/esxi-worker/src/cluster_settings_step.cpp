#include "cluster_settings_step.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <vector>

#include "dcops/agent/params.hpp"
#include "dcops/vsphere/watch.hpp"
#include "dcops/vsphere/soap.hpp"
#include "vcenter_target.hpp"

namespace dcops::esxi {
namespace {

using agent::StepOutcome;

// How long vCenter may take to reconfigure a cluster (HA reconfigures its agents).
constexpr std::chrono::minutes kTaskLimit{10};
constexpr const char* kAdmission = "ha_admission_control";
constexpr const char* kDrs = "drs_behavior";

std::string OnOff(bool on) { return on ? "on" : "off"; }

// The cluster's values of the settings `of` names, read from its configurationEx: a value
// vCenter left out is an error, never a default (this step proves what it changes). With HA
// off admission control does nothing, and with DRS off no level moves a VM: said apart.
struct ClusterState {
  ClusterSettings settings;
  bool ha_on = true, drs_on = true;
};
Result<ClusterState> ReadState(vsphere::Client& vc, const std::string& cluster_moref, const ClusterSettings& of) {
  auto read = vc.ReadObject({"ClusterComputeResource", cluster_moref}, {"name", "configurationEx"});
  if (!read && read.error().code == "vsphere.managed_object_not_found") {
    return MakeError("vsphere.not_found", fmt::format("no cluster {} in this vCenter", cluster_moref));
  }
  if (!read) return read.error();
  if (read->objects.empty() || read->objects.front().props.count("configurationEx") == 0) {
    return MakeError("vsphere.unexpected", fmt::format("cluster {}: vCenter sent no configurationEx", cluster_moref));
  }
  const pugi::xml_node config = read->objects.front().props.at("configurationEx");
  auto flag = [&](const char* parent, const char* name) -> Result<bool> {
    const std::string text = vsphere::TrimmedText(vsphere::Child(vsphere::Child(config, parent), name));
    if (text != "true" && text != "false") {
      return MakeError("vsphere.unexpected", fmt::format("cluster {}: configurationEx.{}.{} is {}", cluster_moref, parent, name,
                                                         text.empty() ? "missing" : "'" + text + "'"));
    }
    return text == "true";
  };
  ClusterState now;
  if (of.admission_control) {
    auto ha = flag("dasConfig", "enabled");
    if (!ha) return ha.error();
    auto admission = flag("dasConfig", "admissionControlEnabled");
    // With HA off, admission control does nothing whatever the flag says (and vCenter may
    // leave the flag out).
    if (*ha && !admission) return admission.error();
    now.ha_on = *ha;
    now.settings.admission_control = *ha && *admission;
  }
  if (of.drs_behavior) {
    auto drs = flag("drsConfig", "enabled");
    if (!drs) return drs.error();
    now.drs_on = *drs;
    if (!*drs) return now;
    const std::string behavior = vsphere::TrimmedText(vsphere::Child(vsphere::Child(config, "drsConfig"), "defaultVmBehavior"));
    if (behavior.empty()) {
      return MakeError("vsphere.unexpected", fmt::format("cluster {}: configurationEx.drsConfig.defaultVmBehavior is missing",
                                                         cluster_moref));
    }
    now.settings.drs_behavior = behavior;
  }
  return now;
}

// The settings alone, for a change: DRS off refuses a level (none would move a VM; turning DRS
// on is not this job's to do).
Result<ClusterSettings> ReadSettings(vsphere::Client& vc, const std::string& cluster_moref, const ClusterSettings& of) {
  auto state = ReadState(vc, cluster_moref, of);
  if (!state) return state.error();
  if (of.drs_behavior && !state->drs_on) {
    return MakeError("esxi.drs_disabled", fmt::format("cluster {}: DRS is off, so no automation level moves a VM; turn DRS "
                                                      "on, or empty each host by hand (this job does not turn it on)",
                                                      cluster_moref));
  }
  return state->settings;
}

// The settings of `wanted` that `now` does not have yet.
ClusterSettings Difference(const ClusterSettings& wanted, const ClusterSettings& now) {
  ClusterSettings d;
  if (wanted.admission_control && wanted.admission_control != now.admission_control) d.admission_control = wanted.admission_control;
  if (wanted.drs_behavior && wanted.drs_behavior != now.drs_behavior) d.drs_behavior = wanted.drs_behavior;
  return d;
}

std::vector<std::string> Names(const ClusterSettings& s) {
  std::vector<std::string> out;
  if (s.admission_control) out.emplace_back(kAdmission);
  if (s.drs_behavior) out.emplace_back(kDrs);
  return out;
}

std::string Describe(const ClusterSettings& from, const ClusterSettings& to) {
  std::vector<std::string> parts;
  if (to.admission_control) {
    parts.push_back(fmt::format("HA admission control {} → {}", from.admission_control ? OnOff(*from.admission_control) : "?",
                                OnOff(*to.admission_control)));
  }
  if (to.drs_behavior) parts.push_back(fmt::format("DRS {} → {}", from.drs_behavior.value_or("?"), *to.drs_behavior));
  return fmt::format("{}", fmt::join(parts, ", "));
}

std::string NamesJson(const std::vector<std::string>& names) {
  std::string out = "[";
  for (std::size_t i = 0; i < names.size(); ++i) out += (i ? ",\"" : "\"") + names[i] + "\"";
  return out + "]";
}

class SettingsRun {
 public:
  SettingsRun(agent::StepContext& ctx, vsphere::Client& vc, const VcenterTarget& target)
      : ctx_(ctx), vc_(vc), target_(target) {}

  StepOutcome Apply(const ClusterSettings& wanted) {
    // What the cluster had before the job: an earlier attempt's record wins (by now the
    // cluster may show what that attempt set).
    ClusterSettings before;
    std::optional<ClusterSettings> now;  // when read just now: what the change starts from
    rapidjson::Document cp;
    const std::string& saved = ctx_.assignment().checkpoint_json;
    cp.Parse(saved.empty() ? "{}" : saved.c_str());
    if (!cp.HasParseError() && cp.IsObject() && cp.HasMember("before") && cp["before"].IsObject()) {
      rapidjson::StringBuffer buf;
      rapidjson::Writer<rapidjson::StringBuffer> w(buf);
      cp["before"].Accept(w);
      auto parsed = ParseClusterSettings(buf.GetString());
      if (!parsed) return StepOutcome::Failed(parsed.error());
      before = *parsed;
    } else {
      ctx_.Progress(10, fmt::format("reading the settings of cluster {}", Cluster()));
      auto read = ReadSettings(vc_, target_.cluster_moref, wanted);
      if (!read) return StepOutcome::Failed(read.error());
      before = *read;
      now = *read;
      // Recorded before anything is sent: the restore needs it even if this step dies next.
      if (auto st = ctx_.SaveCheckpoint(R"({"before":)" + ClusterSettingsJson(before) + "}"); !st) {
        return StepOutcome::Failed(st.error());
      }
    }
    auto changed = Change(wanted, "for this job", now);
    if (!changed) return StepOutcome::Failed(changed.error());
    const std::string note = changed->empty() ? fmt::format("cluster {} already has the settings the job asks for", Cluster())
                                              : fmt::format("cluster {}: {} for this job; restored at its end", Cluster(),
                                                            Describe(before, wanted));
    ctx_.Event(LogLevel::kInfo, note);
    ctx_.Progress(100, note);
    return StepOutcome::Succeeded(fmt::format(R"({{"before":{},"applied":{},"changed":{}}})", ClusterSettingsJson(before),
                                              ClusterSettingsJson(wanted), NamesJson(*changed)));
  }

  StepOutcome Restore(const std::optional<ClusterSettings>& before, const ClusterSettings& applied) {
    if (!before) {
      const std::string note = fmt::format("cluster {}: the job changed none of its settings; nothing to restore", Cluster());
      ctx_.Event(LogLevel::kInfo, note);
      return StepOutcome::Succeeded(R"({"restored":[],"left":[],"note":"nothing was changed"})");
    }
    ctx_.Progress(10, fmt::format("reading the settings of cluster {}", Cluster()));
    auto state = ReadState(vc_, target_.cluster_moref, *before);
    if (!state) return StepOutcome::Failed(state.error());
    const ClusterSettings* now = &state->settings;
    // Back only what still has the job's value: a setting someone changed since is theirs (HA
    // or DRS turned off meanwhile included: theirs too, and nothing to put back into).
    ClusterSettings back;
    std::vector<std::string> left;
    if (before->admission_control && !state->ha_on) {
      left.emplace_back(kAdmission);
    } else if (before->admission_control && now->admission_control != before->admission_control) {
      if (applied.admission_control && now->admission_control == applied.admission_control) {
        back.admission_control = before->admission_control;
      } else {
        left.emplace_back(kAdmission);
      }
    }
    if (before->drs_behavior && !state->drs_on) {
      left.emplace_back(kDrs);
    } else if (before->drs_behavior && now->drs_behavior != before->drs_behavior) {
      if (applied.drs_behavior && now->drs_behavior == applied.drs_behavior) {
        back.drs_behavior = before->drs_behavior;
      } else {
        left.emplace_back(kDrs);
      }
    }
    for (const auto& name : left) {
      ctx_.Event(LogLevel::kWarn, fmt::format("cluster {}: {} was changed outside this job while it ran; left as it is now",
                                              Cluster(), name));
    }
    auto changed = Change(back, "back as they were", state->settings);
    if (!changed) return StepOutcome::Failed(changed.error());
    const std::string note = changed->empty() ? fmt::format("cluster {}: its settings are as the job found them", Cluster())
                                              : fmt::format("cluster {}: {} (restored)", Cluster(), Describe(state->settings, back));
    ctx_.Event(LogLevel::kInfo, note);
    ctx_.Progress(100, note);
    return StepOutcome::Succeeded(
        fmt::format(R"({{"restored":{},"left":{}}})", NamesJson(*changed), NamesJson(left)));
  }

 private:
  std::string Cluster() const { return target_.cluster_name.empty() ? target_.cluster_moref : target_.cluster_name; }

  // Sets what of `wanted` the cluster lacks, proven by reading it back; the names changed.
  // `known`: the cluster's values as the caller just read them (not read again), else read.
  Result<std::vector<std::string>> Change(const ClusterSettings& wanted, const char* why,
                                          const std::optional<ClusterSettings>& known) {
    Result<ClusterSettings> now = known ? Result<ClusterSettings>(*known) : ReadSettings(vc_, target_.cluster_moref, wanted);
    if (!now) return now.error();
    const ClusterSettings todo = Difference(wanted, *now);
    if (Names(todo).empty()) return std::vector<std::string>{};
    ctx_.Progress(40, fmt::format("cluster {}: {} {}", Cluster(), Describe(*now, todo), why));
    auto task = vc_.StartTask("ReconfigureComputeResource_Task", {"ClusterComputeResource", target_.cluster_moref},
                              ReconfigureBody(todo));
    if (!task) return task.error();
    auto followed = vsphere::FollowTask(vc_, *task, ctx_.clock(), kTaskLimit, {}, {});
    if (!followed) return followed.error();
    if (followed->end != vsphere::TaskWaitEnd::kFinished) {
      return MakeError("vsphere.task_timeout",
                       fmt::format("reconfiguring cluster {}: task {} did not end within {} s", Cluster(), task->value,
                                   std::chrono::duration_cast<std::chrono::seconds>(kTaskLimit).count()),
                       true);
    }
    if (followed->info.state == "error") return vsphere::TaskError(followed->info, "reconfiguring cluster " + Cluster());
    auto after = ReadSettings(vc_, target_.cluster_moref, wanted);
    if (!after) return after.error();
    if (!Names(Difference(wanted, *after)).empty()) {
      return MakeError("esxi.unverified", fmt::format("reconfiguring cluster {}: task {} succeeded, yet the cluster shows {}",
                                                      Cluster(), task->value, ClusterSettingsJson(*after)));
    }
    return Names(todo);
  }

  agent::StepContext& ctx_;
  vsphere::Client& vc_;
  const VcenterTarget& target_;
};

}  // namespace

std::string ClusterSettingsJson(const ClusterSettings& s) {
  std::string out = "{";
  if (s.admission_control) out += fmt::format(R"("{}":{})", kAdmission, *s.admission_control);
  if (s.drs_behavior) out += fmt::format(R"({}"{}":"{}")", s.admission_control ? "," : "", kDrs, *s.drs_behavior);
  return out + "}";
}

Result<ClusterSettings> ParseClusterSettings(const std::string& json) {
  auto p = agent::Params::Parse(json);
  if (!p) return p.error();
  ClusterSettings s;
  auto admission = p->Flag(kAdmission);
  if (!admission) return admission.error();
  s.admission_control = *admission;
  auto drs = p->Text(kDrs, {"fullyAutomated", "partiallyAutomated", "manual"});
  if (!drs) return drs.error();
  s.drs_behavior = *drs;
  return s;
}

std::string ReconfigureBody(const ClusterSettings& s) {
  // ClusterConfigSpecEx: dasConfig before drsConfig, as the WSDL orders them.
  std::string spec = R"(<spec xsi:type="ClusterConfigSpecEx">)";
  if (s.admission_control) {
    spec += fmt::format("<dasConfig><admissionControlEnabled>{}</admissionControlEnabled></dasConfig>", *s.admission_control);
  }
  if (s.drs_behavior) spec += fmt::format("<drsConfig><defaultVmBehavior>{}</defaultVmBehavior></drsConfig>", *s.drs_behavior);
  return spec + "</spec><modify>true</modify>";
}

StepOutcome RunClusterSettings(agent::StepContext& ctx, http::Client& http) {
  const auto& a = ctx.assignment();
  auto params = agent::Params::Parse(a.params_json);
  if (!params) return StepOutcome::Failed(params.error());
  auto action = params->RequiredText("action", {"apply", "restore"});
  if (!action) return StepOutcome::Failed(action.error());
  ClusterSettings wanted;
  auto admission = params->Flag(kAdmission);
  if (!admission) return StepOutcome::Failed(admission.error());
  wanted.admission_control = *admission;
  auto drs = params->Text(kDrs, {"fullyAutomated", "partiallyAutomated", "manual"});
  if (!drs) return StepOutcome::Failed(drs.error());
  wanted.drs_behavior = *drs;
  if (Names(wanted).empty()) {
    return StepOutcome::Failed(agent::BadParam(kAdmission, "names no setting to change (ha_admission_control, drs_behavior)"));
  }
  std::optional<ClusterSettings> before;
  if (*action == "restore") {
    const rapidjson::Value* f = params->Raw("_finalizer");
    if (f == nullptr || !f->IsObject() || !f->HasMember("before")) {
      return StepOutcome::Failed(MakeError("step.params", "_finalizer.before: a restore needs what its apply found (the dispatcher adds it)"));
    }
    if ((*f)["before"].IsObject()) {
      rapidjson::StringBuffer buf;
      rapidjson::Writer<rapidjson::StringBuffer> w(buf);
      (*f)["before"].Accept(w);
      auto parsed = ParseClusterSettings(buf.GetString());
      if (!parsed) return StepOutcome::Failed(parsed.error());
      before = *parsed;
    }
  }
  auto target = ReadVcenterTarget(*params, a, false);
  if (!target) return StepOutcome::Failed(target.error());
  if (target->cluster_moref.empty()) return StepOutcome::Failed(MakeError("step.params", "_endpoint: names no cluster"));
  VcenterSession vcenter(http, target->endpoint);
  if (auto st = vcenter.Login(); !st) return StepOutcome::Failed(st.error());
  SettingsRun run(ctx, vcenter.client(), *target);
  return *action == "apply" ? run.Apply(wanted) : run.Restore(before, wanted);
}

}  // namespace dcops::esxi
