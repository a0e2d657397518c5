#include "refresh_step.hpp"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace dcops::idrac {
namespace {

using agent::StepOutcome;

Result<redfish::Document> FirstMember(redfish::Client& bmc, const std::string& collection) {
  auto coll = bmc.Get(collection);
  if (!coll) return coll.error();
  auto ids = coll->MemberIds();
  if (!ids) return ids.error();
  if (ids->empty()) return MakeError("redfish.schema", collection + ": Members is empty");
  return bmc.Get(ids->front());
}

}  // namespace

StepOutcome RunRefresh(agent::StepContext& ctx, redfish::Client& bmc) {
  ctx.Progress(10, "reading the service root");
  auto root = bmc.Get("/redfish/v1");
  if (!root) return StepOutcome::Failed(root.error());
  ctx.Progress(40, "reading the computer system");
  auto sys = FirstMember(bmc, "/redfish/v1/Systems");
  if (!sys) return StepOutcome::Failed(sys.error());
  ctx.Progress(70, "reading the manager");
  auto mgr = FirstMember(bmc, "/redfish/v1/Managers");
  if (!mgr) return StepOutcome::Failed(mgr.error());

  auto power = sys->String("PowerState");
  if (!power) return StepOutcome::Failed(power.error());
  auto model = sys->String("Model");
  if (!model) return StepOutcome::Failed(model.error());
  auto firmware = mgr->String("FirmwareVersion");
  if (!firmware) return StepOutcome::Failed(firmware.error());
  // Dell puts the service tag in the service root's OEM block and in SKU; other vendors
  // have only a serial number.
  std::string tag = root->OptionalString("Oem/Dell/ServiceTag")
                        .value_or(sys->OptionalString("SKU").value_or(""));
  if (tag.empty()) tag = sys->OptionalString("SerialNumber").value_or("");

  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto put = [&w](const char* key, const std::optional<std::string>& value) {
    w.Key(key);
    if (value && !value->empty()) {
      w.String(value->c_str(), static_cast<rapidjson::SizeType>(value->size()));
    } else {
      w.Null();
    }
  };
  w.StartObject();
  put("bmc_address", bmc.target().address);
  put("service_tag", tag);
  put("manufacturer", sys->OptionalString("Manufacturer"));
  put("model", *model);
  put("serial_number", sys->OptionalString("SerialNumber"));
  put("hostname", sys->OptionalString("HostName"));
  put("bios_version", sys->OptionalString("BiosVersion"));
  put("bmc_firmware", *firmware);
  put("power_state", *power);
  put("health", sys->OptionalString("Status/HealthRollup").value_or(sys->OptionalString("Status/Health").value_or("")));
  w.Key("cpu_count");
  if (auto n = sys->OptionalNumber("ProcessorSummary/Count")) w.Int(static_cast<int>(*n)); else w.Null();
  w.Key("memory_gib");
  if (auto g = sys->OptionalNumber("MemorySummary/TotalSystemMemoryGiB")) w.Double(*g); else w.Null();
  put("source", std::string("redfish"));
  w.EndObject();
  ctx.Progress(100, fmt::format("{} {} ({})", *model, tag, *power));
  return StepOutcome::Succeeded(std::string(buf.GetString(), buf.GetSize()));
}

}  // namespace dcops::idrac
