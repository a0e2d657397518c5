#include "vendor.hpp"

#include <fmt/format.h>

#include <charconv>
#include <random>

#include "bmc.hpp"

namespace dcops::sim {
namespace {

// A random RFC 4122 style UUID; Dell's start with 4c4c4544 ("DELL"), others do not.
std::string RandomUuid(std::mt19937_64& rng) {
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", rng() & 0xffffffffULL, rng() & 0xffff,
                     0x4000 | (rng() & 0x0fff), 0x8000 | (rng() & 0x3fff),
                     rng() & 0xffffffffffffULL);
}

}  // namespace

const char* VendorName(Vendor v) {
  switch (v) {
    case Vendor::kDell:
      return "dell";
    case Vendor::kHpe:
      return "hpe";
    case Vendor::kSupermicro:
      return "supermicro";
    case Vendor::kGeneric:
      return "generic";
  }
  return "dell";
}

std::optional<Vendor> ParseVendor(std::string_view name) {
  for (Vendor v : {Vendor::kDell, Vendor::kHpe, Vendor::kSupermicro, Vendor::kGeneric}) {
    if (name == VendorName(v)) return v;
  }
  return std::nullopt;
}

std::optional<VendorEvery> ParseVendorEvery(std::string_view spec) {
  const auto colon = spec.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  int every = 0;
  const auto [end, ec] = std::from_chars(spec.data(), spec.data() + colon, every);
  if (ec != std::errc() || end != spec.data() + colon || every < 1) return std::nullopt;
  auto vendor = ParseVendor(spec.substr(colon + 1));
  if (!vendor) return std::nullopt;
  return VendorEvery{every, *vendor};
}

Vendor VendorOf(int index, Vendor base, const std::vector<VendorEvery>& every) {
  Vendor v = base;
  for (const auto& e : every) {
    if (e.every > 0 && (index + 1) % e.every == 0) v = e.vendor;
  }
  return v;
}

void ApplyVendor(Identity& id, Vendor vendor, std::uint64_t salt) {
  id.vendor = vendor;
  if (vendor == Vendor::kDell) {
    id.manufacturer = "Dell Inc.";
    return;
  }
  std::mt19937_64 rng(salt * 7919ULL + 17);
  id.service_tag.clear();
  id.uuid = RandomUuid(rng);
  switch (vendor) {
    case Vendor::kHpe:
      id.manufacturer = "HPE";
      id.model = "ProLiant DL360 Gen10";
      id.sku = "P19766-B21";  // the model's part number: the same on every server of it
      id.serial = fmt::format("CZJ{:07d}", static_cast<int>(rng() % 10000000));
      break;
    case Vendor::kSupermicro:
      id.manufacturer = "Supermicro";
      id.model = "Super Server";
      id.sku = "Default string";  // DMI fields the integrator never filled in
      id.serial = "Default string";
      break;
    case Vendor::kGeneric:
      id.manufacturer = "Contoso";
      id.model.clear();  // Model is optional in the schema
      id.sku = "8675309";
      id.serial = fmt::format("437XR{:06d}", static_cast<int>(rng() % 1000000));
      break;
    case Vendor::kDell:
      break;
  }
}

}  // namespace dcops::sim
