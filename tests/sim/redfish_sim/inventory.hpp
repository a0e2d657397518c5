#pragma once
// What a simulated server is made of: processors, DIMMs, a RAID controller with drives and
// volumes, NIC ports and installed firmware. Generated from the BMC's index and seed, so a
// fleet is the same on every run; firmware versions change when an update is applied.
//
// Thread-safety: a value; the Bmc that owns one guards it with its own lock.

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace dcops::sim {

struct SimProcessor {
  std::string id;  // "CPU.Socket.1"
  std::string model;
  std::string manufacturer;
  int cores = 0;
  int threads = 0;
  int max_speed_mhz = 0;
};

struct SimDimm {
  std::string id;  // "DIMM.Socket.A1"
  long capacity_mib = 0;
  std::string type;  // "DDR4"
  int speed_mhz = 0;
  std::string manufacturer;
  std::string part_number;
  std::string serial;
};

struct SimDrive {
  std::string id;  // "Disk.Bay.0:Enclosure.Internal.0-1:RAID.Integrated.1-1"
  std::string model;
  std::string serial;
  std::string media;     // "SSD" / "HDD"
  std::string protocol;  // "SATA" / "SAS" / "NVMe"
  std::string revision;
  std::int64_t capacity_bytes = 0;
  bool predicted_failure = false;
  std::string health = "OK";
};

struct SimVolume {
  std::string id;  // "Disk.Virtual.0:RAID.Integrated.1-1"
  std::string name;
  std::string raid_type;
  std::int64_t capacity_bytes = 0;
  std::vector<std::string> drive_ids;
};

struct SimNic {
  std::string id;  // "NIC.Integrated.1-1-1"
  std::string mac;
  std::string link_status;  // "LinkUp" / "LinkDown"
  int speed_mbps = 0;
};

struct SimFirmware {
  std::string software_id;  // Dell component id, "25227" for the iDRAC
  std::string name;
  std::string version;
  std::string device;  // "" or "NIC.Integrated.1-1-1": one entry per device
  bool updateable = true;
  std::string install_date = "2026-03-02T10:21:47Z";
  bool previous = false;  // the rollback image Dell keeps after an update ("Previous-…")
  // "Installed-25227-7.00.00.171" / "Installed-0-22.31.6__NIC.Integrated.1-1-1"
  std::string Id() const;
};

struct Inventory {
  std::string controller_id = "RAID.Integrated.1-1";
  std::string controller_model = "PERC H755 Front";
  std::string controller_firmware = "52.16.1-4405";
  std::vector<SimProcessor> processors;
  std::vector<SimDimm> dimms;
  std::vector<SimDrive> drives;
  std::vector<SimVolume> volumes;
  std::vector<SimNic> nics;
  std::vector<SimFirmware> firmware;
};

// Component ids the simulator's firmware inventory uses (as Dell's catalogs do).
inline constexpr const char* kIdracComponent = "25227";
inline constexpr const char* kBiosComponent = "159";

Inventory MakeInventory(int index, int cpu_count, const std::string& cpu_model, int memory_gib,
                        const std::string& bmc_firmware, const std::string& bios_version,
                        std::mt19937_64& rng);

}  // namespace dcops::sim
