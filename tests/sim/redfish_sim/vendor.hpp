#pragma once
// Whose BMC a simulated one is. Every make serves the same resource paths (a client follows
// links, so only what the documents say differs), shaped on real captures:
//   dell        iDRAC9: root Vendor "Dell" with Oem/Dell/ServiceTag, system Manufacturer
//               "Dell Inc." and SKU = the service tag, the Dell OEM services (LC status, job
//               queue, configuration profiles, catalog repository). The default.
//   hpe         iLO 5: root Vendor "HPE" and Oem/Hpe, system Manufacturer "HPE", SKU the
//               model's part number ("P19766-B21", identical on every BMC of the fleet),
//               a unique SerialNumber; no Oem/Dell anywhere, no Dell OEM services.
//   supermicro  an X11 board left unconfigured: Manufacturer "Supermicro", SerialNumber and
//               SKU "Default string" on every BMC, a unique UUID.
//   generic     DMTF's public rack server mockup: Manufacturer "Contoso", no Model, no
//               root Vendor, empty root Oem.
// Every non-Dell make has no service tag (Identity::service_tag is "").
//
// Thread-safety: values and pure functions.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dcops::sim {

enum class Vendor { kDell, kHpe, kSupermicro, kGeneric };

// "dell", "hpe", "supermicro", "generic".
const char* VendorName(Vendor v);
std::optional<Vendor> ParseVendor(std::string_view name);

// Every `every`-th BMC of a fleet (numbers every, 2*every, ...; counted from 1) is `vendor`.
struct VendorEvery {
  int every = 0;
  Vendor vendor = Vendor::kDell;
};
// "N:NAME" (N >= 1), e.g. "3:hpe"; nullopt when malformed.
std::optional<VendorEvery> ParseVendorEvery(std::string_view spec);
// The make of BMC number `index` (from 0): `base`, unless an entry of `every` picks it
// (the last matching entry wins).
Vendor VendorOf(int index, Vendor base, const std::vector<VendorEvery>& every);

struct Identity;
// Turns a Dell identity (MakeIdentity's) into `vendor`'s: manufacturer, model, SKU, serial,
// UUID and the service tag (cleared for non-Dell). `salt` keeps serials and UUIDs distinct.
void ApplyVendor(Identity& id, Vendor vendor, std::uint64_t salt);

}  // namespace dcops::sim
