#include "dcops/ome/inventory.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <initializer_list>
#include <map>
#include <string_view>

namespace dcops::ome {
namespace {

using Value = rapidjson::Value;

std::string Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

bool SameWord(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

const Value* Member(const Value& o, const char* key) {
  auto it = o.FindMember(key);
  return it == o.MemberEnd() || it->value.IsNull() ? nullptr : &it->value;
}

// Text as OME writes it, or a number written where text was expected ("SlotNumber": 0).
std::string Text(const Value& o, const char* key) {
  const Value* v = Member(o, key);
  if (v == nullptr) return "";
  if (v->IsString()) return Trim(std::string_view(v->GetString(), v->GetStringLength()));
  if (v->IsInt64()) return std::to_string(v->GetInt64());
  return "";
}

// The first of several field names (OME versions rename fields) that has text.
std::string FirstText(const Value& o, std::initializer_list<const char*> keys) {
  for (const char* key : keys) {
    if (auto t = Text(o, key); !t.empty()) return t;
  }
  return "";
}

// A whole number written as a number or as text, with an optional unit after it ("2400 MHz").
// -1 when absent or not a number; `unit` is the only suffix accepted.
std::int64_t Number(const Value& o, const char* key, const char* unit = nullptr) {
  const Value* v = Member(o, key);
  if (v == nullptr) return -1;
  if (v->IsInt64()) return v->GetInt64() < 0 ? -1 : v->GetInt64();
  // Beyond int64 (or not finite) is not a count: -1, never llround's unspecified value.
  auto whole = [](double d) -> std::int64_t { return d < 0 || !(d < 9.2e18) ? -1 : std::llround(d); };
  if (v->IsDouble()) return whole(v->GetDouble());
  if (!v->IsString()) return -1;
  const std::string text = Trim(v->GetString());
  double n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || n < 0) return -1;
  const std::string rest = Trim(std::string_view(end, text.data() + text.size() - end));
  if (!rest.empty() && (unit == nullptr || !SameWord(rest, unit))) return -1;
  return whole(n);
}

std::int64_t FirstNumber(const Value& o, std::initializer_list<const char*> keys, const char* unit = nullptr) {
  for (const char* key : keys) {
    if (auto n = Number(o, key, unit); n >= 0) return n;
  }
  return -1;
}

// OME's status codes (1000 normal, 2000 unknown, 3000 warning, 4000 critical), as a number,
// as text, or as a word, in the words a Redfish refresh writes.
std::string Health(const Value& o, std::initializer_list<const char*> keys) {
  for (const char* key : keys) {
    const std::string t = Text(o, key);
    if (t == "1000" || SameWord(t, "OK") || SameWord(t, "Normal")) return "OK";
    if (t == "3000" || SameWord(t, "Warning")) return "Warning";
    if (t == "4000" || SameWord(t, "Critical")) return "Critical";
  }
  return "";
}

int Int(std::int64_t n) { return n > 0x7fffffff ? -1 : static_cast<int>(n); }

// "Disk.Bay.0:Enclosure.Internal.0-1:RAID.Integrated.1-1": a disk's FQDD, not display text.
bool IsDiskFqdd(const std::string& s) { return s.rfind("Disk.", 0) == 0 && s.find(' ') == std::string::npos; }

// An install date PostgreSQL can take: "2025-03-01T00:00:00Z"; "NA", "", Dell's
// "0000-00-00…" and anything else are unknown.
std::string InstallDate(const std::string& text) {
  if (text.size() < 10 || text.compare(0, 4, "0000") == 0) return "";
  for (int i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return "";
  }
  return text[4] == '-' && text[7] == '-' ? text : "";
}

std::int64_t DiskBytes(const Value& o, const char* key) {
  const Value* v = Member(o, key);
  if (v == nullptr) return -1;
  if (v->IsString()) return ParseSize(v->GetString(), "GB");
  // A bare number is read as the text would be: gigabytes.
  if (v->IsNumber() && v->GetDouble() >= 0) return ParseSize(std::to_string(v->GetDouble()), "GB");
  return -1;
}

std::int64_t DimmMib(const Value& o, const char* key) {
  const Value* v = Member(o, key);
  if (v == nullptr) return -1;
  if (v->IsString()) {
    const std::int64_t bytes = ParseSize(v->GetString(), "MB");
    return bytes < 0 ? -1 : bytes / (1024 * 1024);
  }
  return Number(o, key);  // OME's usual shape: megabytes as a number
}

std::string MediaType(const std::string& text) {
  for (const char* ssd : {"Solid State Drive", "SolidStateDrive", "SSD"}) {
    if (SameWord(text, ssd)) return "SSD";
  }
  for (const char* hdd : {"Hard Disk Drive", "HardDiskDrive", "Magnetic Drive", "HDD"}) {
    if (SameWord(text, hdd)) return "HDD";
  }
  return text;
}

// "Intel(R) Ethernet 25G 2P XXV710 Mezz - 24:6E:96:9C:E6:70": the adapter without the MAC
// OME appends to its product name.
std::string AdapterName(const std::string& product) {
  const auto dash = product.rfind(" - ");
  if (dash == std::string::npos) return product;
  const std::string tail = product.substr(dash + 3);
  const bool mac = tail.size() == 17 && std::count(tail.begin(), tail.end(), ':') == 5;
  return mac ? product.substr(0, dash) : product;
}

void ReadProcessor(const Value& i, DeviceDetails& out) {
  DeviceDetails::Processor p;
  p.socket = FirstText(i, {"SlotNumber", "InstanceId", "Fqdd"});
  if (p.socket.empty()) return;
  p.model = Text(i, "ModelName");
  p.manufacturer = FirstText(i, {"BrandName", "Manufacturer"});
  p.cores = Int(FirstNumber(i, {"NumberOfCores", "NumberOfEnabledCores"}));
  p.max_speed_mhz = Int(Number(i, "MaxSpeed", "MHz"));
  p.health = Health(i, {"Status"});
  out.processors.push_back(std::move(p));
}

void ReadDimm(const Value& i, DeviceDetails& out) {
  DeviceDetails::Dimm m;
  m.slot = FirstText(i, {"InstanceId", "Name", "DeviceDescription"});
  if (m.slot.empty()) return;
  m.memory_type = FirstText(i, {"TypeDetails", "MemoryType"});
  m.manufacturer = Text(i, "Manufacturer");
  m.part_number = Text(i, "PartNumber");
  m.serial_number = Text(i, "SerialNumber");
  m.health = Health(i, {"Status"});
  m.capacity_mib = DimmMib(i, "Size");
  m.speed_mhz = Int(FirstNumber(i, {"Speed", "CurrentOperatingSpeed"}, "MHz"));
  out.memory.push_back(std::move(m));
}

void ReadDisk(const Value& i, DeviceDetails& out) {
  DeviceDetails::Disk k;
  // The FQDD is in EnclosureId on current OME, in DiskNumber on some; DiskNumber is display
  // text ("Disk 0 on Embedded AHCI Controller 2") otherwise.
  for (const char* key : {"EnclosureId", "DiskNumber", "Fqdd", "InstanceId"}) {
    if (auto t = Text(i, key); IsDiskFqdd(t)) {
      k.slot = t;
      break;
    }
  }
  if (!k.slot.empty()) {
    const auto last = k.slot.rfind(':');
    if (last != std::string::npos) k.controller = k.slot.substr(last + 1);
  } else {
    k.slot = FirstText(i, {"DiskNumber", "SlotNumber"});
    if (k.slot.empty()) return;
  }
  k.model = Text(i, "ModelNumber");
  k.serial_number = Text(i, "SerialNumber");
  k.media_type = MediaType(Text(i, "MediaType"));
  k.protocol = Text(i, "BusType");
  k.firmware_version = Text(i, "Revision");
  k.health = Health(i, {"Status"});
  k.capacity_bytes = DiskBytes(i, "Size");
  if (k.capacity_bytes == 0) k.capacity_bytes = -1;  // "0 bytes": a disk OME could not size
  if (const Value* flag = Member(i, "PredictiveFailureState")) k.predicted_failure = ReadFlag(*flag);
  out.drives.push_back(std::move(k));
}

void ReadController(const Value& i, DeviceDetails& out) {
  DeviceDetails::Controller c;
  c.fqdd = FirstText(i, {"Fqdd", "InstanceId"});
  if (c.fqdd.empty()) return;
  c.name = FirstText(i, {"Name", "DeviceDescription"});
  c.firmware_version = FirstText(i, {"FirmwareVersion", "Firmware"});
  c.health = Health(i, {"Status", "RollupStatus"});
  c.cache_mib = FirstNumber(i, {"CacheSizeInMb", "CacheSizeInMB"}, "MB");
  out.controllers.push_back(std::move(c));
}

void ReadNic(const Value& i, DeviceDetails& out) {
  const Value* ports = Member(i, "Ports");
  if (ports == nullptr || !ports->IsArray()) return;
  for (const auto& port : ports->GetArray()) {
    if (!port.IsObject()) continue;
    DeviceDetails::Nic base;
    base.adapter = AdapterName(Text(port, "ProductName"));
    base.link_status = Text(port, "LinkStatus");
    base.speed_mbps = Int(Number(port, "LinkSpeed", "Mbps"));
    if (base.speed_mbps == 0) base.speed_mbps = -1;  // no link, or not known: LinkStatus says which
    const Value* partitions = Member(port, "Partitions");
    bool any = false;
    if (partitions != nullptr && partitions->IsArray()) {
      for (const auto& part : partitions->GetArray()) {
        if (!part.IsObject()) continue;
        DeviceDetails::Nic n = base;
        n.port_id = Text(part, "Fqdd");
        if (n.port_id.empty()) continue;
        n.mac_address = FirstText(part, {"CurrentMacAddress", "PermanentMacAddress"});
        out.nics.push_back(std::move(n));
        any = true;
      }
    }
    if (!any) {
      base.port_id = Text(port, "PortId");
      if (!base.port_id.empty()) out.nics.push_back(std::move(base));
    }
  }
}

void ReadPowerSupply(const Value& i, DeviceDetails& out) {
  DeviceDetails::PowerSupply p;
  p.slot = FirstText(i, {"Location", "InstanceId", "MemberId", "Fqdd", "Name"});
  if (p.slot.empty()) return;
  p.model = FirstText(i, {"Model", "ModelName", "Name"});
  if (p.model == p.slot) p.model.clear();
  p.serial_number = Text(i, "SerialNumber");
  p.firmware_version = FirstText(i, {"FirmwareVersion", "Revision"});
  p.health = Health(i, {"Status", "HealthStatus"});
  // 0 is what OME writes for a rating it does not know (RatedMaxOutputPower beside a real
  // OutputWatts), never a supply's capacity.
  for (const char* key : {"OutputWatts", "RatedMaxOutputPower", "Capacity", "TotalOutputPower"}) {
    if (const auto watts = Int(Number(i, key, "W")); watts > 0) {
      p.capacity_watts = watts;
      break;
    }
  }
  out.power_supplies.push_back(std::move(p));
}

void ReadSoftware(const Value& i, DeviceDetails& out) {
  const std::string instance = Text(i, "InstanceId");
  const std::string status = Text(i, "Status");
  // Installed images only: OME also lists the previous iDRAC image ("Available").
  if (!status.empty() ? !SameWord(status, "Installed") : instance.rfind("DCIM:INSTALLED", 0) != 0) return;
  DeviceDetails::Firmware f;
  f.software_id = Text(i, "ComponentId");
  f.fqdd = SoftwareFqdd(instance);
  f.type = Text(i, "SoftwareType");
  f.version = Text(i, "Version");
  f.name = FirstText(i, {"DeviceDescription", "Name"});
  f.install_date = InstallDate(Text(i, "InstallationDate"));
  if (!f.fqdd.empty()) {
    f.component_id = "Installed-" + (f.software_id.empty() ? std::string("0") : f.software_id) + "__" + f.fqdd;
  } else if (!instance.empty()) {
    f.component_id = instance;
  } else if (!f.software_id.empty()) {
    f.component_id = "Installed-" + f.software_id;
  } else {
    return;
  }
  out.firmware.push_back(std::move(f));
}

// A disk OME names only by display text ("Disk 0 on Embedded AHCI Controller 2") is named by
// the FQDD of the one installed software instance with that description, when exactly one
// disk instance has it; otherwise it keeps the text (an ambiguity is not resolved by guessing).
void NameDisksBySoftware(DeviceDetails& d, const std::vector<std::pair<std::string, std::string>>& disk_software) {
  for (auto& k : d.drives) {
    if (IsDiskFqdd(k.slot)) continue;
    std::string fqdd;
    int matches = 0;
    for (const auto& [description, instance_fqdd] : disk_software) {
      if (description == k.slot) {
        fqdd = instance_fqdd;
        ++matches;
      }
    }
    if (matches != 1) continue;
    k.slot = fqdd;
    const auto last = fqdd.rfind(':');
    if (last != std::string::npos) k.controller = fqdd.substr(last + 1);
  }
}

// A component's firmware is listed under its FQDD in deviceSoftware; the component records
// carry it only sometimes.
void AttachFirmware(DeviceDetails& d) {
  std::map<std::string, std::string> by_fqdd;
  for (const auto& f : d.firmware) {
    if (!f.fqdd.empty()) by_fqdd.emplace(f.fqdd, f.version);
  }
  auto fill = [&](const std::string& fqdd, std::string& version) {
    if (!version.empty()) return;
    if (auto it = by_fqdd.find(fqdd); it != by_fqdd.end()) version = it->second;
  };
  for (auto& n : d.nics) fill(n.port_id, n.firmware_version);
  for (auto& c : d.controllers) fill(c.fqdd, c.firmware_version);
  for (auto& p : d.power_supplies) fill(p.slot, p.firmware_version);
}

}  // namespace

std::int64_t ParseSize(const std::string& text, const char* bare_unit) {
  // "1,788.50 GB": a thousands separator some OME versions write.
  std::string t = Trim(text);
  t.erase(std::remove(t.begin(), t.end(), ','), t.end());
  double v = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || v < 0 || !std::isfinite(v)) return -1;
  std::string unit = Trim(std::string_view(end, t.data() + t.size() - end));
  if (unit.empty()) {
    if (bare_unit == nullptr) return -1;
    unit = bare_unit;
  }
  static const std::pair<const char*, double> kUnits[] = {
      {"bytes", 1},          {"B", 1},
      {"KB", 1024.0},        {"KiB", 1024.0},
      {"MB", 1048576.0},     {"MiB", 1048576.0},
      {"GB", 1073741824.0},  {"GiB", 1073741824.0},
      {"TB", 1099511627776.0}, {"TiB", 1099511627776.0},
      {"PB", 1125899906842624.0}, {"PiB", 1125899906842624.0}};
  for (const auto& [name, factor] : kUnits) {
    if (SameWord(unit, name)) {
      const double bytes = v * factor;
      return bytes >= 9.2e18 ? -1 : std::llround(bytes);
    }
  }
  return -1;
}

std::optional<bool> ReadFlag(const rapidjson::Value& v) {
  if (v.IsBool()) return v.GetBool();
  if (v.IsInt()) return v.GetInt() == 1 ? std::optional<bool>(true) : v.GetInt() == 0 ? std::optional<bool>(false) : std::nullopt;
  if (!v.IsString()) return std::nullopt;
  const std::string t = Trim(v.GetString());
  for (const char* yes : {"Yes", "True", "1"}) {
    if (SameWord(t, yes)) return true;
  }
  for (const char* no : {"No", "False", "0"}) {
    if (SameWord(t, no)) return false;
  }
  return std::nullopt;
}

std::string SoftwareFqdd(const std::string& instance_id) {
  std::string s = instance_id;
  if (const auto hash = s.find('#'); hash != std::string::npos) s = s.substr(hash + 1);  // "DCIM:INSTALLED#"
  if (const auto hash = s.find('#'); hash != std::string::npos) s = s.substr(0, hash);   // "#IDRACinfo"
  // "701__NIC…", "304_C_Disk…": a numeric class, then "__" or "_C_".
  std::size_t digits = 0;
  while (digits < s.size() && std::isdigit(static_cast<unsigned char>(s[digits]))) ++digits;
  if (digits > 0) {
    if (s.compare(digits, 2, "__") == 0) return s.substr(digits + 2);
    if (s.compare(digits, 3, "_C_") == 0) return s.substr(digits + 3);
  }
  if (const auto sep = s.find("__"); sep != std::string::npos) return s.substr(sep + 2);
  // An FQDD has a dot ("iDRAC.Embedded.1-1"); anything else names no device.
  return s.find('.') != std::string::npos && s.find(' ') == std::string::npos ? s : "";
}

Result<DeviceDetails> ReadDeviceDetails(const rapidjson::Value& collection) {
  if (!collection.IsObject() || !collection.HasMember("value") || !collection["value"].IsArray()) {
    return MakeError("ome.schema", "InventoryDetails: value is missing or not an array");
  }
  using Reader = void (*)(const Value&, DeviceDetails&);
  static const std::pair<std::string_view, Reader> kReaders[] = {
      {"serverProcessors", ReadProcessor},       {"serverMemoryDevices", ReadDimm},
      {"serverArrayDisks", ReadDisk},            {"serverRaidControllers", ReadController},
      {"serverNetworkInterfaces", ReadNic},      {"serverPowerSupplies", ReadPowerSupply},
      {"deviceSoftware", ReadSoftware}};
  DeviceDetails out;
  for (const auto& detail : collection["value"].GetArray()) {
    if (!detail.IsObject()) continue;
    const Value* info = Member(detail, "InventoryInfo");
    if (info == nullptr || !info->IsArray()) continue;
    const std::string type = Text(detail, "InventoryType");
    if (type == "serverOperatingSystems") {
      for (const auto& i : info->GetArray()) {
        if (i.IsObject() && out.hostname.empty()) out.hostname = Text(i, "Hostname");
      }
      continue;
    }
    const auto reader = std::find_if(std::begin(kReaders), std::end(kReaders), [&](const auto& r) { return r.first == type; });
    if (reader == std::end(kReaders)) continue;
    for (const auto& i : info->GetArray()) {
      if (i.IsObject()) reader->second(i, out);
    }
  }
  std::vector<std::pair<std::string, std::string>> disk_software;
  for (const auto& f : out.firmware) {
    if (IsDiskFqdd(f.fqdd)) disk_software.emplace_back(f.name, f.fqdd);
  }
  NameDisksBySoftware(out, disk_software);
  AttachFirmware(out);
  return out;
}

}  // namespace dcops::ome
