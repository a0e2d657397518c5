#pragma once
// GET …/Devices(id)/InventoryDetails of a simulated server, shaped as real OME versions answer
// it (modelled on a published OME capture and tests/fixtures/ome/inventory-details). Each
// server gets one of three generations by its id, so one estate carries every shape a client
// must read:
//   id % 3 == 0: OME 3.x, 14G: sizes "893.75 GB", predicted failure "0"/"1", a disk's slot as
//                display text with its FQDD in EnclosureId, numbers as numbers;
//   id % 3 == 1: a current OME, 15G: sizes without a unit ("931", in GB), predicted failure
//                "No"/"Yes", speeds written as text;
//   id % 3 == 2: an older OME: the disk FQDD in DiskNumber, sizes in TB.
// Every server has 2 CPUs, 12 to 24 DIMMs, 2 disks of one model, a RAID controller, a
// four-port NIC, 2 PSUs, the OS's host name, and firmware per instance (the four NIC ports,
// two PSUs and two disks share a component id each; one NIC port has none; the previous iDRAC
// image is listed as "Available"). Every 13th server has a disk predicting failure.
//
// Pure; thread-safe.
#include <string>

#include "ome_model.hpp"

namespace dcops::sim::ome {

std::string InventoryDetailsJson(const Device& d);

// What a correct reading of InventoryDetailsJson(d) holds (tests compare clients with it).
struct DetailsFacts {
  int dimms = 0;
  int installed_firmware = 0;
  std::string first_disk_slot;          // its FQDD
  long long first_disk_bytes = 0;
  bool second_disk_predicts_failure = false;
  std::string hostname;
};
DetailsFacts FactsOf(const Device& d);

}  // namespace dcops::sim::ome
