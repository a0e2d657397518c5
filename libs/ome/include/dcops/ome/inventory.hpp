#pragma once
// A server's hardware and firmware as OpenManage Enterprise reports them in
// …/Devices(id)/InventoryDetails, read into the shapes our inventory tables take.
//
// OME writes one field in several shapes across versions and device generations: numbers as
// numbers or as text, sizes as text with a unit or without one ("931.52 GB", "1.82 TB",
// "931"), enumerations as codes or as words ("1"/"0", "Yes"/"No"), a disk's slot as display
// text with its FQDD in another field. Readers take every shape we have seen and leave a
// value unknown (empty text, -1, nullopt) rather than guess; a record that is not an object
// is skipped, and only a collection without "value" is an error.
//
// Pure functions over parsed JSON: no I/O, thread-safe.
#include <rapidjson/document.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dcops/common/result.hpp"

namespace dcops::ome {

struct DeviceDetails {
  struct Processor {
    std::string socket, model, manufacturer, health;
    int cores = -1, max_speed_mhz = -1;
  };
  struct Dimm {
    std::string slot, memory_type, manufacturer, part_number, serial_number, health;
    std::int64_t capacity_mib = -1;
    int speed_mhz = -1;
  };
  struct Disk {
    // slot: the disk's FQDD ("Disk.Bay.0:Enclosure.Internal.0-1:RAID.Integrated.1-1"), the
    // same key a Redfish refresh writes; display text only when OME gives no FQDD.
    std::string slot, model, serial_number, media_type, protocol, firmware_version, health, controller;
    std::int64_t capacity_bytes = -1;
    std::optional<bool> predicted_failure;  // nullopt: OME did not say
  };
  struct Controller {
    std::string fqdd, name, firmware_version, health;
    std::int64_t cache_mib = -1;
  };
  struct Nic {
    // port_id: the partition's FQDD ("NIC.Integrated.1-1-1"), one entry per partition.
    std::string port_id, adapter, mac_address, link_status, firmware_version;
    int speed_mbps = -1;
  };
  struct PowerSupply {
    std::string slot, model, serial_number, firmware_version, health;
    int capacity_watts = -1;
  };
  // One installed instance (four NIC ports of one component are four entries).
  struct Firmware {
    // The row key, the id a Redfish refresh of an iDRAC writes for the same instance:
    // "Installed-<component id>__<FQDD>" ("Installed-25227__iDRAC.Embedded.1-1").
    std::string component_id;
    std::string fqdd;         // "NIC.Mezzanine.1A-1-1", "" when the InstanceId names none
    std::string software_id;  // Dell's component id ("101548"), "" when OME gives none
    std::string type;         // OME's SoftwareType: "FRMW", "BIOS", "APAC", …
    std::string name, version;
    std::string install_date;  // "" when OME says "NA"
  };
  std::vector<Processor> processors;
  std::vector<Dimm> memory;
  std::vector<Disk> drives;
  std::vector<Controller> controllers;
  std::vector<Nic> nics;
  std::vector<PowerSupply> power_supplies;
  std::vector<Firmware> firmware;
  std::string hostname;  // the operating system's, from serverOperatingSystems; "" when none
};

// Reads an InventoryDetails collection (the document OME answers).
Result<DeviceDetails> ReadDeviceDetails(const rapidjson::Value& collection);

// "893.75 GB" → bytes (units B to PB, powers of 1024: OME shows a 1 TB disk as "931.52 GB").
// Text without a unit is in `bare_unit` ("GB" for disks, whose sizes OME also writes as
// "931"). -1 when it is not a size.
std::int64_t ParseSize(const std::string& text, const char* bare_unit = nullptr);

// "Yes"/"No", "True"/"False", "1"/"0" (any case), JSON booleans and 0/1; nullopt otherwise.
std::optional<bool> ReadFlag(const rapidjson::Value& v);

// The device FQDD inside a software InstanceId: "DCIM:INSTALLED#701__NIC.Mezzanine.1A-1-1" →
// "NIC.Mezzanine.1A-1-1", "DCIM:INSTALLED#iDRAC.Embedded.1-1#IDRACinfo" → "iDRAC.Embedded.1-1",
// "DCIM:INSTALLED#304_C_Disk.Direct.0-0:AHCI.Embedded.2-1" → "Disk.Direct.0-0:AHCI.Embedded.2-1".
std::string SoftwareFqdd(const std::string& instance_id);

}  // namespace dcops::ome
