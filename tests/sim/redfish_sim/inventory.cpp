#include "inventory.hpp"

#include <fmt/format.h>

namespace dcops::sim {

std::string SimFirmware::Id() const {
  const char* kind = previous ? "Previous" : "Installed";
  return device.empty() ? fmt::format("{}-{}-{}", kind, software_id, version)
                        : fmt::format("{}-{}-{}__{}", kind, software_id, version, device);
}

Inventory MakeInventory(int index, int cpu_count, const std::string& cpu_model, int memory_gib,
                        const std::string& bmc_firmware, const std::string& bios_version,
                        std::mt19937_64& rng) {
  Inventory inv;
  const bool amd = cpu_model.find("AMD") != std::string::npos;
  for (int s = 1; s <= cpu_count; ++s) {
    inv.processors.push_back({fmt::format("CPU.Socket.{}", s), cpu_model, amd ? "AMD" : "Intel",
                              32, 64, amd ? 3700 : 3200});
  }
  const int dimm_gib = 32;
  const int dimms = memory_gib / dimm_gib;
  static const char kBanks[] = "ABCD";
  for (int d = 0; d < dimms; ++d) {
    inv.dimms.push_back({fmt::format("DIMM.Socket.{}{}", kBanks[d % 4], d / 4 + 1),
                         dimm_gib * 1024L, "DDR4", 3200, "Hynix Semiconductor", "HMA84GR7CJR4N-XN",
                         fmt::format("{:08X}", static_cast<unsigned>(rng() & 0xffffffffu))});
  }
  const int drives = 2 + index % 4;
  for (int d = 0; d < drives; ++d) {
    const bool ssd = d < 2;
    inv.drives.push_back({fmt::format("Disk.Bay.{}:Enclosure.Internal.0-1:{}", d, inv.controller_id),
                          ssd ? "MZ7LH480HBHQ0D3" : "ST2000NM003A", fmt::format("S45PNA0M{:06d}", static_cast<int>(rng() % 1000000)),
                          ssd ? "SSD" : "HDD", ssd ? "SATA" : "SAS", ssd ? "HG58" : "CSL2",
                          ssd ? 479559942144LL : 1999844147200LL, false, "OK"});
  }
  inv.volumes.push_back({fmt::format("Disk.Virtual.0:{}", inv.controller_id), "OS", "RAID1", 479559942144LL,
                         {inv.drives[0].id, inv.drives[1].id}});
  for (int p = 1; p <= 4; ++p) {
    const int adapter = p <= 2 ? 1 : 2;
    const int port = p <= 2 ? p : p - 2;
    const std::uint64_t mac = 0xb0262800000ULL + static_cast<std::uint64_t>(index) * 16 + static_cast<std::uint64_t>(p);
    inv.nics.push_back({fmt::format("NIC.Integrated.{}-{}-1", adapter, port),
                        fmt::format("B0:26:28:{:02X}:{:02X}:{:02X}", (mac >> 16) & 0xff, (mac >> 8) & 0xff, mac & 0xff),
                        p == 4 ? "LinkDown" : "LinkUp", p == 4 ? 0 : 25000});
  }
  inv.firmware.push_back({kIdracComponent, "Integrated Dell Remote Access Controller", bmc_firmware, ""});
  inv.firmware.push_back({kBiosComponent, "BIOS", bios_version, ""});
  inv.firmware.push_back({"104947", inv.controller_model, inv.controller_firmware, ""});
  inv.firmware.push_back({"28125", "Dell 64 Bit uEFI Diagnostics", "4301A73", ""});
  inv.firmware.push_back({"101734", "Lifecycle Controller", "7.00.00.171", "", false});
  for (const auto& nic : inv.nics) {
    inv.firmware.push_back({"0", "Broadcom Adv. Dual 25Gb Ethernet", "22.31.6", nic.id});
  }
  return inv;
}

}  // namespace dcops::sim
