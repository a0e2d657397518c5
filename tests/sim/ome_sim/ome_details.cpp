#include "ome_details.hpp"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <functional>

namespace dcops::sim::ome {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void Str(Writer& w, const char* key, const std::string& v) {
  w.Key(key);
  w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
}
void Int(Writer& w, const char* key, long long v) {
  w.Key(key);
  w.Int64(v);
}

int Generation(const Device& d) { return d.id % 3; }
int Dimms(const Device& d) { return 12 + (d.id % 4) * 4; }
bool FailingDisk(const Device& d) { return d.id % 13 == 0; }

std::string DiskFqdd(int bay) { return fmt::format("Disk.Bay.{}:Enclosure.Internal.0-1:RAID.Integrated.1-1", bay); }

// The disk size as this generation writes it, and the bytes it means (GB = 2^30 bytes: OME
// shows a 1 TB disk as "931.52 GB").
std::pair<std::string, long long> DiskSize(const Device& d) {
  switch (Generation(d)) {
    case 0: return {"893.75 GB", 959656755200LL};
    case 1: return {"931", 931LL * 1073741824};
    default: return {"1.82 TB", std::llround(1.82 * 1099511627776.0)};
  }
}

void Detail(Writer& w, int id, const char* type, const std::function<void()>& items) {
  w.StartObject();
  Str(w, "@odata.id", fmt::format("/api/DeviceService/Devices({})/InventoryDetails('{}')", id, type));
  Str(w, "@odata.type", "#DeviceService.InventoryDetail");
  w.Key("InventoryInfo");
  w.StartArray();
  items();
  w.EndArray();
  Str(w, "InventoryType", type);
  w.EndObject();
}

void Processors(Writer& w, const Device& d) {
  for (int s = 1; s <= 2; ++s) {
    w.StartObject();
    Str(w, "BrandName", "Intel");
    Int(w, "CurrentSpeed", 2000);
    Str(w, "Family", "Intel(R) Xeon(TM)");
    Int(w, "Id", d.id * 10 + s);
    Str(w, "InstanceId", fmt::format("CPU.Socket.{}", s));
    if (Generation(d) == 1) {
      Str(w, "MaxSpeed", "3500");
    } else {
      Int(w, "MaxSpeed", 3500);
    }
    Str(w, "ModelName", "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz");
    Int(w, "NumberOfCores", 32);
    Int(w, "NumberOfEnabledCores", 32);
    Str(w, "SlotNumber", fmt::format("CPU.Socket.{}", s));
    Int(w, "Status", 1000);
    Str(w, "Voltage", "1.8");
    w.EndObject();
  }
}

void Memory(Writer& w, const Device& d) {
  for (int m = 1; m <= Dimms(d); ++m) {
    const std::string slot = fmt::format("DIMM.Socket.{}{}", m % 2 ? 'A' : 'B', (m + 1) / 2);
    w.StartObject();
    Str(w, "BankName", m % 2 ? "A" : "B");
    Int(w, "CurrentOperatingSpeed", 3200);
    Str(w, "DeviceDescription", "DIMM " + slot.substr(12));
    Int(w, "Id", d.id * 100 + m);
    Str(w, "InstanceId", slot);
    Str(w, "Manufacturer", "Hynix Semiconductor");
    Str(w, "ManufacturerDate", "Mon Jul 10 07:00:00 2023 UTC");
    Str(w, "Name", slot);
    Str(w, "PartNumber", "HMA84GR7DJR4N-XN");
    Str(w, "Rank", "Double Rank");
    Str(w, "SerialNumber", fmt::format("{:08X}", d.id * 64 + m));
    Int(w, "Size", 32768);
    if (Generation(d) == 1) {
      Str(w, "Speed", "3200");
    } else {
      Int(w, "Speed", 3200);
    }
    Int(w, "Status", 1000);
    Str(w, "TypeDetails", "DDR4 DIMM");
    w.EndObject();
  }
}

void Disks(Writer& w, const Device& d) {
  const auto [size, bytes] = DiskSize(d);
  (void)bytes;
  for (int k = 0; k < 2; ++k) {
    const bool failing = k == 1 && FailingDisk(d);
    w.StartObject();
    Str(w, "BusType", "SATA");
    Int(w, "Channel", 0);
    Int(w, "DeviceId", 0);
    if (Generation(d) == 2) {
      Str(w, "DiskNumber", DiskFqdd(k));
    } else {
      Str(w, "DiskNumber", fmt::format("Disk {} in Backplane 1 of Integrated RAID Controller 1", k));
      Str(w, "EnclosureId", DiskFqdd(k));
    }
    w.Key("EncryptionAbility");
    w.Bool(false);
    Str(w, "FreeSpace", "0 bytes");
    Int(w, "Id", d.id * 10 + k);
    Str(w, "MediaType", "Solid State Drive");
    Str(w, "ModelNumber", "MZ7LH960HBJR0D3");
    Str(w, "PredictiveFailureState", Generation(d) == 1 ? (failing ? "Yes" : "No") : (failing ? "1" : "0"));
    Str(w, "RaidStatus", "Online");
    Str(w, "Revision", "HE58");
    Str(w, "SerialNumber", fmt::format("S4{:07d}", d.id * 2 + k));
    Str(w, "Size", size);
    Int(w, "SlotNumber", k);
    Int(w, "Status", failing ? 3000 : 1000);
    Str(w, "StatusString", failing ? "Warning" : "OK");
    Str(w, "UsedSpace", size);
    Str(w, "VendorName", "SAMSUNG");
    w.EndObject();
  }
}

void Controllers(Writer& w, const Device& d) {
  w.StartObject();
  Int(w, "CacheSizeInMb", 8192);
  Str(w, "DeviceDescription", "Integrated RAID Controller 1");
  Int(w, "DeviceId", 0);
  Str(w, "FirmwareVersion", "52.16.1-4405");
  Str(w, "Fqdd", "RAID.Integrated.1-1");
  Int(w, "Id", d.id * 10 + 7);
  Str(w, "Name", "PERC H755 Front");
  Str(w, "PciSlot", "Not Applicable");
  Int(w, "RollupStatus", 1000);
  Int(w, "Status", 1000);
  w.EndObject();
}

std::string Mac(const Device& d, int port) {
  return fmt::format("B4:96:91:{:02X}:{:02X}:{:02X}", (d.id >> 8) & 0xff, d.id & 0xff, port);
}

void Nics(Writer& w, const Device& d) {
  w.StartObject();
  Str(w, "NicId", "NIC.Integrated.1");
  w.Key("Ports");
  w.StartArray();
  for (int p = 1; p <= 4; ++p) {
    w.StartObject();
    Int(w, "LinkSpeed", p <= 2 ? 25000 : 0);
    Str(w, "LinkStatus", p <= 2 ? "Up" : "Down");
    w.Key("Partitions");
    w.StartArray();
    w.StartObject();
    Str(w, "CurrentMacAddress", Mac(d, p));
    Str(w, "Fqdd", fmt::format("NIC.Integrated.1-{}-1", p));
    Str(w, "PermanentMacAddress", Mac(d, p));
    w.EndObject();
    w.EndArray();
    Str(w, "PortId", fmt::format("NIC.Integrated.1-{}", p));
    Str(w, "ProductName", fmt::format("Broadcom Adv. Quad 25Gb Ethernet - {}", Mac(d, p)));
    w.EndObject();
  }
  w.EndArray();
  Str(w, "VendorName", "Broadcom Corp");
  w.EndObject();
}

void PowerSupplies(Writer& w, const Device& d) {
  for (int p = 1; p <= 2; ++p) {
    w.StartObject();
    Str(w, "FirmwareVersion", "00.1B.53");
    Int(w, "Id", d.id * 10 + p);
    Int(w, "InputVoltage", 230);
    Str(w, "Location", fmt::format("PSU.Slot.{}", p));
    Str(w, "Model", "PWR SPLY,1400W,RDNT,DELTA");
    Int(w, "OutputWatts", 1400);
    Str(w, "PowerSupplyType", "AC");
    Str(w, "SerialNumber", fmt::format("CNDED00{:07d}", d.id * 2 + p));
    Str(w, "State", "Present");
    Int(w, "Status", 1000);
    w.EndObject();
  }
}

void Software(Writer& w, const Device& d) {
  auto entry = [&](const char* component, const std::string& description, const std::string& instance, const char* type,
                   const char* status, const std::string& version, const char* date) {
    w.StartObject();
    if (component != nullptr) Str(w, "ComponentId", component);
    Str(w, "DeviceDescription", description);
    Str(w, "InstallationDate", date);
    Str(w, "InstanceId", instance);
    Str(w, "SoftwareType", type);
    Str(w, "Status", status);
    Str(w, "Version", version);
    w.EndObject();
  };
  entry("159", "BIOS", "DCIM:INSTALLED#741__BIOS.Setup.1-1", "BIOS", "Installed", "1.12.1", "2025-03-01T00:00:00Z");
  entry("25227", "Integrated Dell Remote Access Controller", "DCIM:INSTALLED#iDRAC.Embedded.1-1#IDRACinfo", "FRMW", "Installed",
        "7.00.00.171", "2025-03-01T00:00:00Z");
  entry("25227", "Integrated Dell Remote Access Controller", "DCIM:PREVIOUS#iDRAC.Embedded.1-1#IDRACinfo", "FRMW", "Available",
        "6.10.30.00", "NA");
  for (int p = 1; p <= 4; ++p) {
    // The first port's record carries no ComponentId, as OME writes some NIC records.
    entry(p == 1 ? nullptr : "101548", fmt::format("Broadcom Adv. Quad 25Gb Ethernet - {}", Mac(d, p)),
          fmt::format("DCIM:INSTALLED#701__NIC.Integrated.1-{}-1", p), "FRMW", "Installed", "22.31.6", "2024-11-02T00:00:00Z");
  }
  for (int p = 1; p <= 2; ++p) {
    entry("104789", "Power Supply.Slot." + std::to_string(p), fmt::format("DCIM:INSTALLED#0x15__PSU.Slot.{}", p), "FRMW",
          "Installed", "00.1B.53", "NA");
  }
  for (int k = 0; k < 2; ++k) {
    entry("106344", fmt::format("Disk {} in Backplane 1 of Integrated RAID Controller 1", k),
          "DCIM:INSTALLED#304_C_" + DiskFqdd(k), "FRMW", "Installed", "HE58", "2024-06-11T00:00:00Z");
  }
  entry("109016", "PERC H755 Front", "DCIM:INSTALLED#301_C_RAID.Integrated.1-1", "FRMW", "Installed", "52.16.1-4405",
        "2024-06-11T00:00:00Z");
  entry("27763", "System CPLD", "DCIM:INSTALLED#803__CPLD.Embedded.1", "FRMW", "Installed", "1.0.6", "2024-06-11T00:00:00Z");
  entry("103999", "Backplane 1", "DCIM:INSTALLED#314_C_Enclosure.Internal.0-1:RAID.Integrated.1-1", "FRMW", "Installed", "7.10",
        "2024-06-11T00:00:00Z");
}

}  // namespace

std::string InventoryDetailsJson(const Device& d) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  Str(w, "@odata.context", "/api/$metadata#Collection(DeviceService.InventoryDetail)");
  Int(w, "@odata.count", 11);
  w.Key("value");
  w.StartArray();
  Detail(w, d.id, "serverDeviceCards", [] {});
  Detail(w, d.id, "serverProcessors", [&] { Processors(w, d); });
  Detail(w, d.id, "serverNetworkInterfaces", [&] { Nics(w, d); });
  Detail(w, d.id, "serverOperatingSystems", [&] {
    w.StartObject();
    Int(w, "Id", d.id);
    Str(w, "Hostname", d.name + ".lab");
    Str(w, "OsName", "VMware ESXi 8.0.2 build-22380479");
    w.EndObject();
  });
  Detail(w, d.id, "serverPowerSupplies", [&] { PowerSupplies(w, d); });
  Detail(w, d.id, "serverArrayDisks", [&] { Disks(w, d); });
  Detail(w, d.id, "serverRaidControllers", [&] { Controllers(w, d); });
  Detail(w, d.id, "serverMemoryDevices", [&] { Memory(w, d); });
  Detail(w, d.id, "deviceSoftware", [&] { Software(w, d); });
  Detail(w, d.id, "deviceLicense", [] {});
  Detail(w, d.id, "subsystemRollupStatus", [&] {
    w.StartObject();
    Int(w, "Id", d.id);
    Int(w, "Status", 1000);
    Str(w, "SubsystemName", "cpuRollupStatus");
    w.EndObject();
  });
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

DetailsFacts FactsOf(const Device& d) {
  DetailsFacts f;
  f.dimms = Dimms(d);
  f.installed_firmware = 13;  // BIOS, iDRAC, 4 NIC ports, 2 PSUs, 2 disks, PERC, CPLD, backplane
  f.first_disk_slot = DiskFqdd(0);
  f.first_disk_bytes = DiskSize(d).second;
  f.second_disk_predicts_failure = FailingDisk(d);
  f.hostname = d.name + ".lab";
  return f;
}

}  // namespace dcops::sim::ome
