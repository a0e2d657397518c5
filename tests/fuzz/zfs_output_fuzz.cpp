// What a ZFS host prints, as libs/zfs reads it over SSH: zpool list/status, zfs list/get,
// zfs version, sizes and retention grids. The first byte picks the reader.
#include "dcops/zfs/capabilities.hpp"
#include "dcops/zfs/health.hpp"
#include "dcops/zfs/listing.hpp"
#include "dcops/zfs/retention.hpp"
#include "fuzz_target.hpp"

FUZZ_TARGET {
  using namespace dcops::zfs;
  if (size == 0) return 0;
  const std::string out = dcops::fuzz::Text(data + 1, size - 1);
  switch (data[0] % 7) {
    case 0: (void)ParsePoolList(out); break;
    case 1: (void)ParsePoolStatus(out); break;
    case 2: (void)ParseDatasetList(out); break;
    case 3: (void)ParseGet(out); break;
    case 4: (void)ParseGrid(out); break;
    case 5: (void)ParseZfsVersion(out); break;
    default: (void)ParseSize(out); break;
  }
  return 0;
}
