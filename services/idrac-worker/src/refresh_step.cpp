#include "refresh_step.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>

#include <set>

#include "dcops/redfish/collection.hpp"
#include "dcops/redfish/errors.hpp"
#include "dell.hpp"
#include "firmware_update.hpp"
#include "inventory.hpp"

namespace dcops::idrac {
namespace {

using agent::StepOutcome;

const std::set<std::string> kAllComponents{"processors", "memory", "storage", "network", "firmware"};

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

// SimpleStorage (older and smaller BMCs link only this): each controller's Devices are its drives.
Status ReadSimpleStorage(redfish::Client& bmc, const std::string& collection, const redfish::CollectionOptions& opts,
                         ServerInventory& inv) {
  auto controllers = redfish::ReadMembers(bmc, collection, opts);
  if (!controllers) return controllers.error();
  auto& drives = inv.lists["drives"];
  for (const auto& ctrl : *controllers) {
    const std::string name = ctrl.OptionalString("Id").value_or(ctrl.resource());
    const rapidjson::Value* devices = ctrl.Find("Devices");
    if (devices == nullptr || !devices->IsArray()) continue;
    int index = 0;
    for (const auto& d : devices->GetArray()) {
      ++index;
      if (!d.IsObject()) continue;
      Row row;
      row.Set("slot", fmt::format("{}:{}", name, index));
      row.Set("controller", name);
      if (d.HasMember("Model") && d["Model"].IsString()) row.Set("model", std::string(d["Model"].GetString()));
      if (d.HasMember("Manufacturer") && d["Manufacturer"].IsString()) {
        row.Set("manufacturer", std::string(d["Manufacturer"].GetString()));
      }
      if (d.HasMember("CapacityBytes") && d["CapacityBytes"].IsInt64()) {
        row.Set("capacity_bytes", d["CapacityBytes"].GetInt64());
      }
      if (d.HasMember("Status") && d["Status"].IsObject() && d["Status"].HasMember("Health") &&
          d["Status"]["Health"].IsString()) {
        row.Set("health", std::string(d["Status"]["Health"].GetString()));
      }
      drives.push_back(std::move(row));
    }
  }
  return Status();
}

// Controllers, then each controller's drives (linked from it) and volumes (a collection).
// A system that links only SimpleStorage is read from there; one with neither is reported as a
// part not read (a warning in the result), not a failed refresh.
Status ReadStorage(redfish::Client& bmc, const redfish::Document& system, const redfish::CollectionOptions& opts,
                   ServerInventory& inv) {
  const std::string storage = system.OptionalString("Storage/@odata.id").value_or("");
  if (storage.empty()) {
    if (auto simple = system.OptionalString("SimpleStorage/@odata.id")) return ReadSimpleStorage(bmc, *simple, opts, inv);
    return MakeError("redfish.unsupported", system.resource() + " links neither Storage nor SimpleStorage");
  }
  auto controllers = redfish::ReadMembers(bmc, storage, opts);
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

// The servers row: the system's identity and summary, where it was reached, the BMC firmware
// (when the service has a manager that says).
Result<Row> ServerRow(redfish::Client& bmc, const redfish::Document& root, const redfish::Document& sys,
                      const std::optional<redfish::Document>& mgr) {
  auto row = SystemRow(root, sys);
  if (!row) return row.error();
  if (mgr) {
    auto fw = mgr->MaybeString("FirmwareVersion");
    if (!fw) return fw.error();
    if (*fw) row->Set("bmc_firmware", **fw);
  }
  row->Set("bmc_address", bmc.target().address);
  row->Set("source", std::string("redfish"));
  return row;
}

// Errors that say a part of the service is missing or not as the standard says: that part is
// left out with a warning. Anything else (the BMC unreachable, credentials refused, busy)
// fails the refresh, to be retried.
bool PartMissing(const Error& e) {
  return e.code == "redfish.not_found" || e.code == "redfish.unsupported" || e.code == "redfish.schema" ||
         e.code == "redfish.bad_request";
}

}  // namespace

StepOutcome RunRefresh(agent::StepContext& ctx, redfish::Client& bmc) {
  auto wanted = WantedComponents(ctx.assignment().params_json);
  if (!wanted) return StepOutcome::Failed(wanted.error());
  const int steps = 4 + static_cast<int>(wanted->size());
  int done = 0;
  auto progress = [&](const std::string& what) { ctx.Progress(100 * done++ / steps, what); };

  progress("reading the service root");
  auto map = bmc.Map();
  if (!map) return StepOutcome::Failed(map.error());
  const redfish::Document& root = map->root->document;
  const redfish::CollectionOptions opts{map->root->expand};
  if (map->system.empty()) {
    return StepOutcome::Failed(MakeError("redfish.unsupported", bmc.target().address + " lists no computer system"));
  }
  progress("reading the computer system");
  auto sys = bmc.Get(map->system);
  if (!sys) return StepOutcome::Failed(sys.error());
  progress("reading the manager");
  std::optional<redfish::Document> mgr;
  ServerInventory inv;
  if (!map->manager.empty()) {
    auto read = bmc.Get(map->manager);
    if (read) {
      mgr = std::move(*read);
    } else if (PartMissing(read.error())) {
      inv.warnings.push_back({"manager", read.error().code, read.error().message});
    } else {
      return StepOutcome::Failed(read.error());
    }
  }

  auto server = ServerRow(bmc, root, *sys, mgr);
  if (!server) return StepOutcome::Failed(server.error());
  inv.server = std::move(*server);
  progress("reading the Lifecycle Controller state");
  if (map->idrac) {
    // Other BMCs have no LC service: their state is unknown, which is not an error.
    auto lc = LcStatus(bmc);
    if (!lc) return StepOutcome::Failed(lc.error());
    if (*lc) inv.server.Set("lc_state", **lc);
  }

  const std::string& s = sys->resource();
  auto linked = [&](const char* member) -> Result<std::string> {
    auto link = sys->OptionalString(std::string(member) + "/@odata.id");
    if (!link) return MakeError("redfish.unsupported", fmt::format("{} links no {}", s, member));
    return *link;
  };
  for (const auto& component : *wanted) {
    progress("reading " + component);
    Status st;
    std::vector<std::string> lists;  // what this part writes (left out when it fails)
    if (component == "processors") {
      lists = {"processors"};
      auto link = linked("Processors");
      st = link ? ReadList(bmc, *link, opts, inv.lists["processors"], ProcessorRow) : Status(link.error());
    } else if (component == "memory") {
      lists = {"memory"};
      auto link = linked("Memory");
      st = link ? ReadList(bmc, *link, opts, inv.lists["memory"], MemoryRow) : Status(link.error());
    } else if (component == "storage") {
      lists = {"drives", "volumes"};
      st = ReadStorage(bmc, *sys, opts, inv);
    } else if (component == "network") {
      lists = {"nics"};
      auto link = linked("EthernetInterfaces");
      st = link ? ReadList(bmc, *link, opts, inv.lists["nics"],
                           [](const redfish::Document& d) -> Result<std::optional<Row>> {
                             auto row = NicRow(d);
                             if (!row) return row.error();
                             return std::optional<Row>(std::move(*row));
                           })
                : Status(link.error());
    } else if (component == "firmware") {
      lists = {"firmware"};
      auto inventory = FirmwareInventoryOf(bmc);
      st = inventory ? ReadList(bmc, *inventory, opts, inv.lists["firmware"], FirmwareRow) : Status(inventory.error());
    }
    if (!st && !PartMissing(st.error())) return StepOutcome::Failed(st.error());
    if (!st) {
      // This part keeps what was stored before: its lists are left out of the result.
      for (const auto& l : lists) inv.lists.erase(l);
      inv.warnings.push_back({component, st.error().code, st.error().message});
      ctx.Event(LogLevel::kWarn, fmt::format("refresh: {} not read: {}", component, st.error().message));
    }
  }
  AttachNicFirmware(inv);

  auto count = [&inv](const char* list) { auto it = inv.lists.find(list); return it == inv.lists.end() ? 0 : it->second.size(); };
  ctx.Progress(100, fmt::format("{} {} ({}): {} CPUs, {} DIMMs, {} drives, {} ports, {} firmware{}",
                                inv.server.Text("model").value_or("?"),
                                inv.server.Text("service_tag").value_or(inv.server.Text("serial_number").value_or("?")),
                                inv.server.Text("power_state").value_or("?"), count("processors"), count("memory"),
                                count("drives"), count("nics"), count("firmware"),
                                inv.warnings.empty() ? "" : fmt::format("; {} part(s) not read", inv.warnings.size())));
  return StepOutcome::Succeeded(InventoryJson(inv));
}

}  // namespace dcops::idrac
