// server.virtual_media: insert or eject an image on the virtual CD or removable disk.
#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

#include "dcops/redfish/actions.hpp"
#include "dcops/redfish/collection.hpp"
#include "dell.hpp"
#include "operation_steps.hpp"
#include "redfish_target.hpp"

namespace dcops::idrac {
namespace {

using agent::StepOutcome;

bool HasType(const redfish::Document& slot, std::initializer_list<const char*> types) {
  auto have = slot.Strings("MediaTypes");
  if (!have) return false;
  return std::any_of(have->begin(), have->end(), [&](const std::string& t) {
    return std::any_of(types.begin(), types.end(), [&](const char* want) { return t == want; });
  });
}

// The device for `media` ("CD" or "RemovableDisk"): iDRAC9 6.x lists virtual media under the
// system, older firmware under the manager.
Result<redfish::Document> FindSlot(redfish::Client& bmc, const std::string& media) {
  auto map = bmc.Map();
  if (!map) return map.error();
  std::string collection;
  for (const std::string& owner : {map->system, map->manager}) {
    if (owner.empty() || !collection.empty()) continue;
    auto doc = bmc.Get(owner);
    if (!doc) return doc.error();
    collection = doc->OptionalString("VirtualMedia/@odata.id").value_or("");
  }
  if (collection.empty()) {
    return MakeError("step.unsupported", bmc.target().address + " offers no virtual media");
  }
  auto slots = redfish::ReadMembers(bmc, collection, {});
  if (!slots) return slots.error();
  for (auto& s : *slots) {
    const bool match = media == "CD" ? HasType(s, {"CD", "DVD"}) : HasType(s, {"USBStick", "Floppy", "RemovableDisk"});
    if (match) return std::move(s);
  }
  return MakeError("step.unsupported", fmt::format("{} has no virtual {} device", bmc.target().address, media));
}

std::string InsertBody(const std::string& image) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("Image");
  w.String(image.c_str(), static_cast<rapidjson::SizeType>(image.size()));
  w.Key("Inserted");
  w.Bool(true);
  w.Key("WriteProtected");
  w.Bool(true);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace

StepOutcome RunVirtualMedia(agent::StepContext& ctx, redfish::Client& bmc) {
  auto params = Params::Parse(ctx.assignment().params_json);
  if (!params) return StepOutcome::Failed(params.error());
  auto action = params->RequiredText("action", {"insert", "eject"});
  if (!action) return StepOutcome::Failed(action.error());
  auto media = params->Text("media", {"CD", "RemovableDisk"});
  if (!media) return StepOutcome::Failed(media.error());
  auto image = params->Text("image_url");
  if (!image) return StepOutcome::Failed(image.error());
  auto boot_once = params->Flag("boot_once");
  if (!boot_once) return StepOutcome::Failed(boot_once.error());
  if (*action == "insert" && !*image) return StepOutcome::Failed(BadParam("image_url", "is required to insert"));
  const std::string device = media->value_or("CD");

  ctx.Progress(10, "finding the virtual " + device);
  auto slot = FindSlot(bmc, device);
  if (!slot) return StepOutcome::Failed(slot.error());
  const std::string path = slot->resource();
  const bool inserted = slot->OptionalBool("Inserted").value_or(false);
  const std::string current = slot->OptionalString("Image").value_or("");

  std::string did;
  if (*action == "eject" || (inserted && current != image->value_or(""))) {
    if (inserted) {
      ctx.Progress(30, "ejecting " + current);
      auto eject = redfish::FindAction(bmc, *slot, "#VirtualMedia.EjectMedia");
      if (!eject) return StepOutcome::Failed(eject.error());
      if (auto r = bmc.Post(eject->target, "{}"); !r) return StepOutcome::Failed(r.error());
      auto after = bmc.Get(path);
      if (!after) return StepOutcome::Failed(after.error());
      if (after->OptionalBool("Inserted").value_or(false)) {
        return StepOutcome::Failed(MakeError("redfish.not_applied", path + ": the image is still shown as inserted"));
      }
      did = "ejected " + current;
    } else {
      did = "nothing was inserted";
    }
  }
  if (*action == "insert") {
    if (inserted && current == **image) {
      did = "already inserted";
    } else {
      ctx.Progress(50, "inserting " + **image);
      auto insert = redfish::FindAction(bmc, *slot, "#VirtualMedia.InsertMedia");
      if (!insert) return StepOutcome::Failed(insert.error());
      if (auto r = bmc.Post(insert->target, InsertBody(**image)); !r) {
        return StepOutcome::Failed(r.error());
      }
      did = did.empty() ? "inserted" : did + ", inserted";
    }
    auto after = bmc.Get(path);
    if (!after) return StepOutcome::Failed(after.error());
    if (!after->OptionalBool("Inserted").value_or(false) || after->OptionalString("Image").value_or("") != **image) {
      return StepOutcome::Failed(MakeError("redfish.not_applied", path + ": the image is not shown as inserted"));
    }
    if (boot_once->value_or(false)) {
      ctx.Progress(80, "one-time boot from the virtual " + device);
      if (auto st = SetBootOverride(bmc, device == "CD" ? "Cd" : "Usb", "Once"); !st) return StepOutcome::Failed(st.error());
      did += ", boots from it once";
    }
  }
  ctx.Progress(100, did);
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("device");
  w.String(path.c_str());
  w.Key("done");
  w.String(did.c_str());
  w.EndObject();
  return StepOutcome::Succeeded(std::string(buf.GetString(), buf.GetSize()));
}

}  // namespace dcops::idrac
