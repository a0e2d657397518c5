#include "action_effects.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "json_util.hpp"
#include "redfish_error.hpp"
#include "timeline.hpp"

namespace dcops::sim::tree {
namespace {

SimResponse NoContent() {
  SimResponse r;
  r.status = 204;
  r.content_type.clear();
  return r;
}

bool IsRestart(const std::string& type) {
  return type == "ForceRestart" || type == "GracefulRestart" || type == "PowerCycle";
}

SimResponse SystemReset(SimState& s, const std::string& system, const std::string& type) {
  const rapidjson::Document* doc = s.Doc(system);
  const bool restarting = std::any_of(s.restarts.begin(), s.restarts.end(),
                                      [&](const Restart& r) { return r.system == system; });
  const bool on =
      restarting || (doc != nullptr && FindString(*doc, "PowerState").value_or("On") != "Off");
  if (IsRestart(type)) {
    if (s.options.invisible_restart) return NoContent();
    if (on) {
      StartRestart(s, system);
    } else {
      SetPower(s, system, "On", true);
      ApplyPendingSettings(s, system);
    }
  } else if (type == "On" || type == "ForceOn" || (type == "PushPowerButton" && !on)) {
    CancelRestart(s, system);
    if (!on) {
      SetPower(s, system, "On", true);
      ApplyPendingSettings(s, system);
    }
  } else if (type == "ForceOff" || type == "GracefulShutdown" || type == "PushPowerButton") {
    CancelRestart(s, system);
    SetPower(s, system, "Off", false);
  }
  // Nmi, Suspend, Pause, ...: accepted, no visible effect.
  return NoContent();
}

SimResponse ManagerReset(SimState& s, const std::string& manager) {
  s.unavailable_until = s.now() + s.options.restart;
  if (rapidjson::Document* doc = s.Doc(manager); doc && Find(*doc, "LastResetTime")) {
    SetString(*doc, "LastResetTime", WallTimestamp(s), doc->GetAllocator());
  }
  ApplyPendingSettings(s, manager);
  return NoContent();
}

SimResponse InsertMedia(SimState& s, const std::string& uri, const rapidjson::Value& params) {
  rapidjson::Document* doc = s.Doc(uri);
  if (doc == nullptr) return ResourceMissing(uri);
  const rapidjson::Value* inserted = Find(*doc, "Inserted");
  if (inserted != nullptr && inserted->IsBool() && inserted->GetBool()) {
    return RedfishError(409, "ResourceInUse",
                        "The change to the requested resource failed because the resource is in "
                        "use or in transition: media is already inserted; eject it first.");
  }
  auto& a = doc->GetAllocator();
  const rapidjson::Value& image = *Find(params, "Image");
  Set(*doc, "Image", image, a);
  if (image.IsString() && Find(*doc, "ImageName") != nullptr) {
    const std::string path = image.GetString();
    SetString(*doc, "ImageName", path.substr(path.find_last_of('/') + 1), a);
  }
  const rapidjson::Value* want = Find(params, "Inserted");
  SetBool(*doc, "Inserted", want == nullptr || !want->IsBool() || want->GetBool(), a);
  if (const rapidjson::Value* wp = Find(params, "WriteProtected"); wp && wp->IsBool()) {
    SetBool(*doc, "WriteProtected", wp->GetBool(), a);
  }
  if (const rapidjson::Value* tp = Find(params, "TransferProtocolType"); tp && tp->IsString()) {
    Set(*doc, "TransferProtocolType", *tp, a);
  }
  SetString(*doc, "ConnectedVia", "URI", a);
  return NoContent();
}

SimResponse EjectMedia(SimState& s, const std::string& uri) {
  rapidjson::Document* doc = s.Doc(uri);
  if (doc == nullptr) return ResourceMissing(uri);
  auto& a = doc->GetAllocator();
  SetNull(*doc, "Image", a);
  if (Find(*doc, "ImageName") != nullptr) SetNull(*doc, "ImageName", a);
  SetBool(*doc, "Inserted", false, a);
  SetString(*doc, "ConnectedVia", "NotConnected", a);
  return NoContent();
}

SimResponse SimpleUpdate(SimState& s) {
  if (s.tasks_uri.empty()) return NoContent();
  const std::string task = StartTask(s, "SimpleUpdate");
  SimResponse r;
  r.status = 202;
  r.headers.emplace_back("Location", task);
  r.body = ToJson(*s.Doc(task));
  return r;
}

}  // namespace

SimResponse ApplyAction(SimState& s, const ActionRef& action, const rapidjson::Value& params) {
  const std::string reset_type = FindString(params, "ResetType").value_or("");
  if (action.key == "#ComputerSystem.Reset") return SystemReset(s, action.owner, reset_type);
  if (action.key == "#Manager.Reset") return ManagerReset(s, action.owner);
  if (action.key == "#VirtualMedia.InsertMedia") return InsertMedia(s, action.owner, params);
  if (action.key == "#VirtualMedia.EjectMedia") return EjectMedia(s, action.owner);
  if (action.key == "#UpdateService.SimpleUpdate") return SimpleUpdate(s);
  return NoContent();
}

}  // namespace dcops::sim::tree
