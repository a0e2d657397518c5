#include "inventory.hpp"

#include "dcops/redfish/service.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace dcops::idrac {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void WriteString(Writer& w, const std::string& s) {
  w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
}

void WriteField(Writer& w, const Field& f) {
  std::visit(
      [&w](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          w.Null();
        } else if constexpr (std::is_same_v<T, std::string>) {
          WriteString(w, v);
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          w.Int64(v);
        } else if constexpr (std::is_same_v<T, double>) {
          w.Double(v);
        } else if constexpr (std::is_same_v<T, bool>) {
          w.Bool(v);
        } else {
          w.StartArray();
          for (const auto& s : v) WriteString(w, s);
          w.EndArray();
        }
      },
      f);
}

void WriteRow(Writer& w, const Row& row) {
  for (const auto& [key, value] : row.fields) {
    w.Key(key.c_str(), static_cast<rapidjson::SizeType>(key.size()));
    WriteField(w, value);
  }
}

bool Absent(const redfish::Document& doc) {
  return doc.OptionalString("Status/State").value_or("") == "Absent";
}

}  // namespace

void Row::Set(const std::string& key, Field value) {
  for (auto& [k, v] : fields) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  fields.emplace_back(key, std::move(value));
}

const Field* Row::Get(const std::string& key) const {
  for (const auto& [k, v] : fields) {
    if (k == key) return &v;
  }
  return nullptr;
}

std::optional<std::string> Row::Text(const std::string& key) const {
  const Field* f = Get(key);
  if (f == nullptr || !std::holds_alternative<std::string>(*f)) return std::nullopt;
  return std::get<std::string>(*f);
}

template <typename T>
RowReader& RowReader::Keep(const char* key, Result<std::optional<T>> value) {
  if (error_) return *this;
  if (!value) {
    error_ = value.error();
    return *this;
  }
  row_.Set(key, value->has_value() ? Field(**value) : Field(std::monostate{}));
  return *this;
}

RowReader& RowReader::Text(const char* key, std::string_view path) { return Keep(key, doc_.MaybeString(path)); }
RowReader& RowReader::Int(const char* key, std::string_view path) { return Keep(key, doc_.MaybeInt(path)); }
RowReader& RowReader::Number(const char* key, std::string_view path) { return Keep(key, doc_.MaybeNumber(path)); }
RowReader& RowReader::Bool(const char* key, std::string_view path) { return Keep(key, doc_.MaybeBool(path)); }

RowReader& RowReader::RequiredText(const char* key, std::string_view path) {
  if (error_) return *this;
  auto v = doc_.String(path);
  if (!v) {
    error_ = v.error();
    return *this;
  }
  row_.Set(key, *v);
  return *this;
}

RowReader& RowReader::Links(const char* key, std::string_view path) {
  if (error_) return *this;
  if (doc_.Find(path) == nullptr) {
    row_.Set(key, std::vector<std::string>{});
    return *this;
  }
  auto ids = doc_.LinkIds(path);
  if (!ids) {
    error_ = ids.error();
    return *this;
  }
  std::vector<std::string> names;
  for (const auto& id : *ids) names.push_back(id.substr(id.rfind('/') + 1));
  row_.Set(key, std::move(names));
  return *this;
}

RowReader& RowReader::Value(const char* key, Field value) {
  if (!error_) row_.Set(key, std::move(value));
  return *this;
}

Result<Row> RowReader::Done() {
  if (error_) return *error_;
  return std::move(row_);
}

bool IsDellService(const redfish::Document& root) { return redfish::ReadServiceRoot(root).vendor == "Dell"; }

Result<Row> SystemRow(const redfish::Document& root, const redfish::Document& sys) {
  auto health = sys.MaybeString("Status/HealthRollup");
  if (!health) return health.error();
  RowReader reader(sys);
  const std::string maker = sys.OptionalString("Manufacturer").value_or("");
  if (IsDellService(root) || maker == "Dell Inc." || maker == "Dell") {
    std::optional<std::string> tag;
    for (auto candidate : {root.OptionalString("Oem/Dell/ServiceTag"), sys.OptionalString("SKU")}) {
      if (candidate && !candidate->empty()) {
        tag = std::move(candidate);
        break;
      }
    }
    reader.Value("service_tag", tag ? Field(*tag) : Field(std::monostate{}));
  }
  return reader.Text("manufacturer", "Manufacturer")
      .Text("model", "Model")
      .Text("serial_number", "SerialNumber")
      .Text("system_uuid", "UUID")
      .Text("hostname", "HostName")
      .Text("bios_version", "BiosVersion")
      .RequiredText("power_state", "PowerState")
      .Value("health", *health ? Field(**health) : Field(sys.OptionalString("Status/Health").value_or("")))
      .Int("cpu_count", "ProcessorSummary/Count")
      .Number("memory_gib", "MemorySummary/TotalSystemMemoryGiB")
      .Done();
}

Result<std::optional<Row>> ProcessorRow(const redfish::Document& doc) {
  if (Absent(doc)) return std::optional<Row>();
  auto id = doc.String("Id");
  if (!id) return id.error();
  auto row = RowReader(doc)
                 .Value("socket", doc.OptionalString("Socket").value_or(*id))
                 .Text("model", "Model")
                 .Text("manufacturer", "Manufacturer")
                 .Int("cores", "TotalCores")
                 .Int("threads", "TotalThreads")
                 .Int("max_speed_mhz", "MaxSpeedMHz")
                 .Text("health", "Status/Health")
                 .Done();
  if (!row) return row.error();
  return std::optional<Row>(std::move(*row));
}

Result<std::optional<Row>> MemoryRow(const redfish::Document& doc) {
  if (Absent(doc)) return std::optional<Row>();
  auto row = RowReader(doc)
                 .RequiredText("slot", "Id")
                 .Int("capacity_mib", "CapacityMiB")
                 .Text("memory_type", "MemoryDeviceType")
                 .Int("speed_mhz", "OperatingSpeedMhz")
                 .Text("manufacturer", "Manufacturer")
                 .Text("part_number", "PartNumber")
                 .Text("serial_number", "SerialNumber")
                 .Text("health", "Status/Health")
                 .Done();
  if (!row) return row.error();
  return std::optional<Row>(std::move(*row));
}

Result<std::optional<Row>> DriveRow(const redfish::Document& doc, const std::string& controller) {
  if (Absent(doc)) return std::optional<Row>();
  auto row = RowReader(doc)
                 .RequiredText("slot", "Id")
                 .Text("model", "Model")
                 .Text("serial_number", "SerialNumber")
                 .Text("media_type", "MediaType")
                 .Text("protocol", "Protocol")
                 .Int("capacity_bytes", "CapacityBytes")
                 .Text("firmware_version", "Revision")
                 .Text("health", "Status/Health")
                 .Bool("predicted_failure", "FailurePredicted")
                 .Value("controller", controller)
                 .Done();
  if (!row) return row.error();
  return std::optional<Row>(std::move(*row));
}

Result<Row> VolumeRow(const redfish::Document& doc, const std::string& controller) {
  return RowReader(doc)
      .RequiredText("volume_id", "Id")
      .Text("name", "Name")
      .Text("raid_type", "RAIDType")
      .Int("capacity_bytes", "CapacityBytes")
      .Text("health", "Status/Health")
      .Value("controller", controller)
      .Links("drives", "Links/Drives")
      .Done();
}

Result<Row> NicRow(const redfish::Document& doc) {
  auto id = doc.String("Id");
  if (!id) return id.error();
  auto mac = doc.MaybeString("MACAddress");
  if (!mac) return mac.error();
  auto permanent = doc.MaybeString("PermanentMACAddress");
  if (!permanent) return permanent.error();
  // "NIC.Integrated.1-2-1" is port 2 of adapter NIC.Integrated.1 (Dell's FQDD).
  const auto dash = id->find('-');
  return RowReader(doc)
      .Value("port_id", *id)
      .Value("adapter", dash == std::string::npos ? *id : id->substr(0, dash))
      .Value("mac_address", mac->has_value() && !(*mac)->empty()
                                ? Field(**mac)
                                : permanent->has_value() ? Field(**permanent) : Field(std::monostate{}))
      .Text("link_status", "LinkStatus")
      .Int("speed_mbps", "SpeedMbps")
      .Done();
}

std::string FirmwareComponentId(const std::string& id, const std::string& version) {
  const std::string needle = "-" + version;
  const auto at = version.empty() ? std::string::npos : id.find(needle);
  if (at == std::string::npos) return id;
  return id.substr(0, at) + id.substr(at + needle.size());
}

Result<std::optional<Row>> FirmwareRow(const redfish::Document& doc) {
  // Keyed by the member's URI (its last segment), never by "Id": one vendor gives every
  // member the same Id, and members are told apart by where they are. On an iDRAC both agree
  // ("Installed-25227-2.8.2__NIC.Integrated.1-1-1").
  std::string uri = doc.resource();
  while (!uri.empty() && uri.back() == '/') uri.pop_back();
  std::optional<std::string> id = uri.substr(uri.rfind('/') + 1);  // npos + 1: the whole of it
  if (id->empty()) {
    auto named = doc.String("Id");
    if (!named) return named.error();
    id = *named;
  }
  if (id->rfind("Previous-", 0) == 0 || id->rfind("Available-", 0) == 0) return std::optional<Row>();
  auto version = doc.String("Version");
  if (!version) return version.error();
  auto date = doc.MaybeString("Oem/Dell/DellSoftwareInventory/InstallationDate");
  if (!date) return date.error();
  auto row = RowReader(doc)
                 .Value("component_id", FirmwareComponentId(*id, *version))
                 .Text("name", "Name")
                 .Value("version", *version)
                 .Bool("updateable", "Updateable")
                 // Dell writes "0000-00-00T00:00:00Z" for components it never dated.
                 .Value("install_date", date->has_value() && (*date)->rfind("0000", 0) != 0
                                            ? Field(**date) : Field(std::monostate{}))
                 .Done();
  if (!row) return row.error();
  return std::optional<Row>(std::move(*row));
}

std::string InventoryJson(const ServerInventory& inventory) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  WriteRow(w, inventory.server);
  for (const auto& [name, rows] : inventory.lists) {
    w.Key(name.c_str(), static_cast<rapidjson::SizeType>(name.size()));
    w.StartArray();
    for (const auto& row : rows) {
      w.StartObject();
      WriteRow(w, row);
      w.EndObject();
    }
    w.EndArray();
  }
  if (!inventory.warnings.empty()) {
    w.Key("warnings");
    w.StartArray();
    for (const auto& warning : inventory.warnings) {
      w.StartObject();
      w.Key("part");
      w.String(warning.part.c_str());
      w.Key("code");
      w.String(warning.code.c_str());
      w.Key("message");
      w.String(warning.message.c_str(), static_cast<rapidjson::SizeType>(warning.message.size()));
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace dcops::idrac
