#include "firmware_update.hpp"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "dcops/redfish/collection.hpp"
#include "inventory.hpp"

namespace dcops::idrac {

Result<std::string> FirmwareInventoryOf(redfish::Client& bmc) {
  auto root = bmc.Root();
  if (!root) return root.error();
  if ((*root)->update_service.empty()) {
    return MakeError("redfish.unsupported", bmc.target().address + " has no UpdateService");
  }
  auto service = bmc.Get((*root)->update_service);
  if (!service) return service.error();
  auto link = service->OptionalString("FirmwareInventory/@odata.id");
  if (!link) return MakeError("redfish.unsupported", (*root)->update_service + " lists no FirmwareInventory");
  return *link;
}

Result<FirmwareVersions> ReadFirmwareVersions(redfish::Client& bmc) {
  auto root = bmc.Root();
  if (!root) return root.error();
  auto inventory = FirmwareInventoryOf(bmc);
  if (!inventory) return inventory.error();
  auto members = redfish::ReadMembers(bmc, *inventory, {(*root)->expand});
  if (!members) return members.error();
  FirmwareVersions out;
  for (const auto& m : *members) {
    auto row = FirmwareRow(m);
    if (!row) return row.error();
    if (!*row) continue;
    out[(*row)->Text("component_id").value_or("")] = {(*row)->Text("name").value_or(""),
                                                      (*row)->Text("version").value_or("")};
  }
  return out;
}

std::string EncodeVersions(const FirmwareVersions& v) {
  std::string out;
  for (const auto& [id, nv] : v) out += id + "=" + nv.second + "\n";
  return out;
}

std::map<std::string, std::string> DecodeVersions(const std::string& s) {
  std::map<std::string, std::string> out;
  std::size_t start = 0;
  while (start < s.size()) {
    const auto nl = s.find('\n', start);
    const std::string line = s.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    const auto eq = line.find('=');
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return out;
}

agent::StepOutcome VerifyFirmware(agent::StepContext& ctx, redfish::Client& bmc, const OperationOptions& options,
                                  const std::map<std::string, std::string>& before,
                                  const std::vector<std::string>& tasks, bool all_unchanged) {
  using agent::StepOutcome;
  ctx.Progress(85, "verifying the installed versions");
  FirmwareVersions after;
  auto end = WaitUntil(ctx, options.poll_interval, options.restart_timeout, [&]() -> Result<bool> {
    auto read = ReadFirmwareVersions(bmc);
    if (!read) {
      // Unreachable while the iDRAC restarts onto its new firmware: keep waiting.
      if (read.error().code.rfind("http.", 0) == 0) return MakeError(read.error().code, read.error().message, true);
      return read.error();
    }
    after = *read;
    return true;
  });
  if (!end) return StepOutcome::Failed(end.error());
  if (*end != WaitEnd::kDone) {
    return FailedOrCancelled(ctx, MakeError("idrac.unreachable", bmc.target().address + " did not come back after the update", true));
  }
  std::vector<std::string> changed;
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("tasks");
  w.StartArray();
  for (const auto& t : tasks) w.String(t.c_str());
  w.EndArray();
  w.Key("updated");
  w.StartArray();
  for (const auto& [id, nv] : after) {
    auto it = before.find(id);
    if (it == before.end() || it->second == nv.second) continue;
    changed.push_back(fmt::format("{} {} → {}", nv.first, it->second, nv.second));
    w.StartObject();
    w.Key("component_id");
    w.String(id.c_str());
    w.Key("name");
    w.String(nv.first.c_str());
    w.Key("from");
    w.String(it->second.c_str());
    w.Key("to");
    w.String(nv.second.c_str());
    w.EndObject();
  }
  w.EndArray();
  w.Key("state");
  w.String(changed.empty() ? "unchanged" : "updated");
  w.EndObject();
  if (changed.empty() && !all_unchanged) {
    std::vector<std::string> followed;
    for (const auto& t : tasks) {
      if (t != "none") followed.push_back(t);  // "none": accepted without a task (firmware_step.cpp)
    }
    return StepOutcome::Failed(MakeError(
        "firmware.not_applied",
        followed.empty() ? std::string("the BMC accepted the update without a task to follow, but no installed "
                                       "version changed: the update is not proven")
                         : fmt::format("{} reported success, but no installed version changed", fmt::join(followed, ", "))));
  }
  ctx.Progress(100, changed.empty() ? "already at these versions" : fmt::format("{}", fmt::join(changed, "; ")));
  return StepOutcome::Succeeded(std::string(buf.GetString(), buf.GetSize()));
}

}  // namespace dcops::idrac
