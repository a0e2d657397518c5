#pragma once
// Dell catalog repository updates (pure parts, no network): where a catalog URL points in
// the terms of InstallFromRepository, and the update list GetRepoBasedUpdateList answers.
#include <string>
#include <vector>

#include "dcops/common/result.hpp"

namespace dcops::idrac {

// "http://127.0.0.1:8080/repo/Catalog.xml" → ShareType HTTP, IPAddress "127.0.0.1:8080",
// ShareName "repo", CatalogFile "Catalog.xml" (a URL ending in "/" names Catalog.xml).
struct CatalogShare {
  std::string share_type, ip_address, share_name, catalog_file;
};
Result<CatalogShare> ShareOf(const std::string& catalog_url);

// One DCIM_RepoUpdateSWID instance of a PackageList.
struct RepoUpdateItem {
  std::string name, package, version, installed, reboot_type, job_id;
  bool idrac = false;  // the iDRAC's own firmware (followed last)
};

// The CIM XML of GetRepoBasedUpdateList's PackageList; an error naming what is wrong.
Result<std::vector<RepoUpdateItem>> ParsePackageList(const std::string& xml);

}  // namespace dcops::idrac
