#include "refresh_step.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>

#include <set>

#include "dcops/redfish/collection.hpp"
#include "dcops/redfish/errors.hpp"
#include "dell.hpp"
#include "inventory.hpp"

namespace dcops::idrac {
namespace {

using agent::StepOutcome;

const std::set<std::string> kAllComponents{"processors", "memory", "storage", "network", "firmware"};

Result<redfish::Document> FirstMember(redfish::Client& bmc, const std::string& collection) {
  auto coll = bmc.Get(collection);
  if (!coll) return coll.error();
  auto ids = coll->MemberIds();
  if (!ids) return ids.error();
  if (ids->empty()) return MakeError("redfish.schema", collection + ": Members is empty");
  return bmc.Get(ids->front());
}

Result<std::set<std::string>> WantedComponents(const std::string& params_json) {
  rapidjson::Document p;
  p.Parse(params_json.empty() ? "{}" : params_json.c_str());
  if (p.HasParseError() || !p.IsObject()) return MakeError("step.params", "params: not a JSON object");
  if (!p.HasMember("components")) return kAllComponents;
  if (!p["components"].IsArray()) return MakeError("step.params", "params.components: not an array");
  std::set<std::string> out;
  for (const auto& c : p["components"].GetArray()) {
    if (!c.IsString()) return MakeError("step.params", "params.components: holds a non-string");
    const std::string name = c.GetString();
    if (name == "system" || name == "manager") continue;  // always read
    if (kAllComponents.count(name) == 0) {
      return MakeError("step.params", fmt::format("params.components: unknown component '{}'", name));
    }
    out.insert(name);
  }
  return out;
}

// The link a document gives for a member collection, or the conventional path.
std::string LinkOr(const redfish::Document& doc, const std::string& member, const std::string& fallback) {
  return doc.OptionalString(member + "/@odata.id").value_or(fallback);
}

// Runs `row_of` over every member of `collection`, appending the rows it keeps.
template <typename RowOf>
Status ReadList(redfish::Client& bmc, const std::string& collection, const redfish::CollectionOptions& opts,
                std::vector<Row>& out, RowOf row_of) {
  auto members = redfish::ReadMembers(bmc, collection, opts);
  if (!members) return members.error();
  for (const auto& m : *members) {
    auto row = row_of(m);
    if (!row) return row.error();
    if (*row) out.push_back(std::move(**row));
  }
  return Status();
}

// Controllers, then each controller's drives (linked from it) and volumes (a collection).
Status ReadStorage(redfish::Client& bmc, const redfish::Document& system, const redfish::CollectionOptions& opts,
                   ServerInventory& inv) {
  auto controllers = redfish::ReadMembers(bmc, LinkOr(system, "Storage", system.resource() + "/Storage"), opts);
  if (!controllers) return controllers.error();
  auto& drives = inv.lists["drives"];
  auto& volumes = inv.lists["volumes"];
  for (const auto& ctrl : *controllers) {
    auto name = ctrl.String("Id");
    if (!name) return name.error();
    std::vector<std::string> drive_ids;
    if (ctrl.Find("Drives") != nullptr) {
      auto ids = ctrl.LinkIds("Drives");
      if (!ids) return ids.error();
      drive_ids = std::move(*ids);
    }
    for (const auto& id : drive_ids) {
      auto doc = bmc.Get(id);
      if (!doc) return doc.error();
      auto row = DriveRow(*doc, *name);
      if (!row) return row.error();
      if (*row) drives.push_back(std::move(**row));
    }
    if (auto link = ctrl.OptionalString("Volumes/@odata.id")) {
      auto st = ReadList(bmc, *link, opts, volumes, [&name](const redfish::Document& d) -> Result<std::optional<Row>> {
        auto row = VolumeRow(d, *name);
        if (!row) return row.error();
        return std::optional<Row>(std::move(*row));
      });
      if (!st) return st;
    }
  }
  return Status();
}

// A NIC port's firmware is listed per device ("…__NIC.Integrated.1-1-1").
void AttachNicFirmware(ServerInventory& inv) {
  auto nics = inv.lists.find("nics");
  auto fw = inv.lists.find("firmware");
  if (nics == inv.lists.end() || fw == inv.lists.end()) return;
  for (auto& nic : nics->second) {
    const auto port = nic.Text("port_id");
    if (!port) continue;
    for (const auto& f : fw->second) {
      const auto id = f.Text("component_id").value_or("");
      const std::string suffix = "__" + *port;
      if (id.size() > suffix.size() && id.compare(id.size() - suffix.size(), suffix.size(), suffix) == 0) {
        if (auto v = f.Text("version")) nic.Set("firmware_version", *v);
      }
    }
  }
}

// The servers row: the system's identity and summary, where it was reached, the BMC firmware.
Result<Row> ServerRow(redfish::Client& bmc, const redfish::Document& root, const redfish::Document& sys,
                      const redfish::Document& mgr) {
  auto row = SystemRow(root, sys);
  if (!row) return row.error();
  auto fw = mgr.String("FirmwareVersion");
  if (!fw) return fw.error();
  row->Set("bmc_address", bmc.target().address);
  row->Set("bmc_firmware", *fw);
  row->Set("source", std::string("redfish"));
  return row;
}

}  // namespace

StepOutcome RunRefresh(agent::StepContext& ctx, redfish::Client& bmc) {
  auto wanted = WantedComponents(ctx.assignment().params_json);
  if (!wanted) return StepOutcome::Failed(wanted.error());
  const int steps = 4 + static_cast<int>(wanted->size());
  int done = 0;
  auto progress = [&](const std::string& what) { ctx.Progress(100 * done++ / steps, what); };

  progress("reading the service root");
  auto root = bmc.Get("/redfish/v1");
  if (!root) return StepOutcome::Failed(root.error());
  const redfish::CollectionOptions opts{redfish::SupportsExpand(*root)};
  progress("reading the computer system");
  auto sys = FirstMember(bmc, LinkOr(*root, "Systems", "/redfish/v1/Systems"));
  if (!sys) return StepOutcome::Failed(sys.error());
  progress("reading the manager");
  auto mgr = FirstMember(bmc, LinkOr(*root, "Managers", "/redfish/v1/Managers"));
  if (!mgr) return StepOutcome::Failed(mgr.error());

  ServerInventory inv;
  auto server = ServerRow(bmc, *root, *sys, *mgr);
  if (!server) return StepOutcome::Failed(server.error());
  inv.server = std::move(*server);
  progress("reading the Lifecycle Controller state");
  if (IsDellService(*root)) {
    // Other BMCs have no LC service: their state is unknown, which is not an error.
    auto lc = LcStatus(bmc);
    if (!lc) return StepOutcome::Failed(lc.error());
    if (*lc) inv.server.Set("lc_state", **lc);
  }

  const std::string& s = sys->resource();
  for (const auto& component : *wanted) {
    progress("reading " + component);
    Status st;
    if (component == "processors") {
      st = ReadList(bmc, LinkOr(*sys, "Processors", s + "/Processors"), opts, inv.lists["processors"], ProcessorRow);
    } else if (component == "memory") {
      st = ReadList(bmc, LinkOr(*sys, "Memory", s + "/Memory"), opts, inv.lists["memory"], MemoryRow);
    } else if (component == "storage") {
      st = ReadStorage(bmc, *sys, opts, inv);
    } else if (component == "network") {
      st = ReadList(bmc, LinkOr(*sys, "EthernetInterfaces", s + "/EthernetInterfaces"), opts, inv.lists["nics"],
                    [](const redfish::Document& d) -> Result<std::optional<Row>> {
                      auto row = NicRow(d);
                      if (!row) return row.error();
                      return std::optional<Row>(std::move(*row));
                    });
    } else if (component == "firmware") {
      st = ReadList(bmc, "/redfish/v1/UpdateService/FirmwareInventory", opts, inv.lists["firmware"], FirmwareRow);
    }
    if (!st) return StepOutcome::Failed(st.error());
  }
  AttachNicFirmware(inv);

  auto count = [&inv](const char* list) { auto it = inv.lists.find(list); return it == inv.lists.end() ? 0 : it->second.size(); };
  ctx.Progress(100, fmt::format("{} {} ({}): {} CPUs, {} DIMMs, {} drives, {} ports, {} firmware",
                                inv.server.Text("model").value_or("?"),
                                inv.server.Text("service_tag").value_or(inv.server.Text("serial_number").value_or("?")),
                                inv.server.Text("power_state").value_or("?"), count("processors"), count("memory"),
                                count("drives"), count("nics"), count("firmware")));
  return StepOutcome::Succeeded(InventoryJson(inv));
}

}  // namespace dcops::idrac
