#include "device_json.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace dcops::omesync {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void Str(Writer& w, const char* key, const std::string& value) {
  w.Key(key);
  w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
}

// Text OME left empty is unknown: null, so the column stays NULL rather than "".
void Opt(Writer& w, const char* key, const std::string& value) {
  w.Key(key);
  if (value.empty()) {
    w.Null();
  } else {
    w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
  }
}

void Num(Writer& w, const char* key, std::int64_t v) {
  w.Key(key);
  if (v < 0) {
    w.Null();
  } else {
    w.Int64(v);
  }
}

// OME's power codes and health rollup, in the words a Redfish refresh uses.
const char* PowerState(int code) {
  switch (code) {
    case 17: return "On";
    case 18: return "Off";
    case 20: return "PoweringOn";
    case 21: return "PoweringOff";
    default: return nullptr;
  }
}

const char* Health(int status) {
  switch (status) {
    case 1000: return "OK";
    case 3000: return "Warning";
    case 4000: return "Critical";
    default: return nullptr;  // 2000 unknown, 5000 not applicable
  }
}

template <typename T, typename F>
void List(Writer& w, const char* key, const std::vector<T>& items, F write) {
  w.Key(key);
  w.StartArray();
  for (const auto& item : items) {
    w.StartObject();
    write(item);
    w.EndObject();
  }
  w.EndArray();
}

void WriteDetails(Writer& w, const ome::DeviceDetails& d) {
  List(w, "processors", d.processors, [&](const auto& p) {
    Str(w, "socket", p.socket);
    Opt(w, "model", p.model);
    Opt(w, "manufacturer", p.manufacturer);
    Num(w, "cores", p.cores);
    Num(w, "max_speed_mhz", p.max_speed_mhz);
    Opt(w, "health", p.health);
  });
  List(w, "memory", d.memory, [&](const auto& m) {
    Str(w, "slot", m.slot);
    Num(w, "capacity_mib", m.capacity_mib);
    Opt(w, "memory_type", m.memory_type);
    Num(w, "speed_mhz", m.speed_mhz);
    Opt(w, "manufacturer", m.manufacturer);
    Opt(w, "part_number", m.part_number);
    Opt(w, "serial_number", m.serial_number);
    Opt(w, "health", m.health);
  });
  List(w, "drives", d.drives, [&](const auto& k) {
    Str(w, "slot", k.slot);
    Opt(w, "model", k.model);
    Opt(w, "serial_number", k.serial_number);
    Opt(w, "media_type", k.media_type);
    Opt(w, "protocol", k.protocol);
    Num(w, "capacity_bytes", k.capacity_bytes);
    Opt(w, "firmware_version", k.firmware_version);
    Opt(w, "health", k.health);
    w.Key("predicted_failure");
    k.predicted_failure ? w.Bool(*k.predicted_failure) : w.Null();
    Opt(w, "controller", k.controller);
  });
  List(w, "controllers", d.controllers, [&](const auto& c) {
    Str(w, "fqdd", c.fqdd);
    Opt(w, "name", c.name);
    Opt(w, "firmware_version", c.firmware_version);
    Opt(w, "health", c.health);
    Num(w, "cache_mib", c.cache_mib);
  });
  List(w, "nics", d.nics, [&](const auto& n) {
    Str(w, "port_id", n.port_id);
    Opt(w, "adapter", n.adapter);
    Opt(w, "mac_address", n.mac_address);
    Opt(w, "link_status", n.link_status);
    Num(w, "speed_mbps", n.speed_mbps);
    Opt(w, "firmware_version", n.firmware_version);
  });
  List(w, "power_supplies", d.power_supplies, [&](const auto& p) {
    Str(w, "slot", p.slot);
    Opt(w, "model", p.model);
    Opt(w, "serial_number", p.serial_number);
    Opt(w, "firmware_version", p.firmware_version);
    Opt(w, "health", p.health);
    Num(w, "capacity_watts", p.capacity_watts);
  });
  List(w, "firmware", d.firmware, [&](const auto& f) {
    Str(w, "component_id", f.component_id);
    Opt(w, "fqdd", f.fqdd);
    Opt(w, "software_id", f.software_id);
    Opt(w, "component_type", f.type);
    Opt(w, "name", f.name);
    Str(w, "version", f.version);
    Opt(w, "install_date", f.install_date);
  });
}

}  // namespace

std::string DeviceJson(const ome::Device& device, const ome::DeviceDetails* details) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("ome_device_id");
  w.Int(device.id);
  Str(w, "service_tag", device.service_tag);
  if (!device.idrac_address.empty()) Str(w, "bmc_address", device.idrac_address);
  const std::string& hostname = details != nullptr && !details->hostname.empty() ? details->hostname : device.name;
  if (!hostname.empty()) Str(w, "hostname", hostname);
  if (!device.model.empty()) Str(w, "model", device.model);
  if (const char* p = PowerState(device.power_state)) Str(w, "power_state", p);
  if (const char* h = Health(device.status)) Str(w, "health", h);
  if (details != nullptr) WriteDetails(w, *details);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace dcops::omesync
