// The simulated iDRAC's repository update: a Dell catalog (Catalog.xml) compared with the
// installed firmware, and the update jobs it creates.
#include <fmt/format.h>

#include <algorithm>
#include <regex>

#include "bmc.hpp"

namespace dcops::sim {
namespace {

struct CatalogEntry {
  std::string path, version, name, component, reboot;
};

// The SoftwareComponent entries of a catalog: path and vendorVersion attributes, the display
// name, and the Device componentID they apply to.
std::vector<CatalogEntry> ParseCatalog(const std::string& xml) {
  std::vector<CatalogEntry> out;
  static const std::regex kComponent(R"re(<SoftwareComponent\b([^>]*)>([\s\S]*?)</SoftwareComponent>)re");
  static const std::regex kPath(R"re(\bpath="([^"]+)")re");
  static const std::regex kVersion(R"re(\bvendorVersion="([^"]+)")re");
  static const std::regex kReboot(R"re(\brebootRequired="([^"]+)")re");
  static const std::regex kName(R"re(<Name>\s*<Display[^>]*>(?:<!\[CDATA\[)?([^<\]]+))re");
  static const std::regex kDevice(R"re(<Device\b[^>]*\bcomponentID="([^"]+)")re");
  for (std::sregex_iterator c(xml.begin(), xml.end(), kComponent), end; c != end; ++c) {
    const std::string attrs = (*c)[1];
    const std::string body = (*c)[2];
    std::smatch m;
    CatalogEntry e;
    if (std::regex_search(attrs, m, kPath)) e.path = m[1];
    if (std::regex_search(attrs, m, kVersion)) e.version = m[1];
    if (std::regex_search(attrs, m, kReboot)) e.reboot = m[1];
    if (std::regex_search(body, m, kName)) e.name = m[1];
    if (std::regex_search(body, m, kDevice)) e.component = m[1];
    if (!e.path.empty() && !e.version.empty() && !e.component.empty()) out.push_back(e);
  }
  return out;
}

}  // namespace

ActionAnswer Bmc::InstallFromRepository(const std::string& catalog, const std::string& fetch_error, bool apply,
                                        bool reboot, SimTime now, std::string* job_id) {
  std::lock_guard lock(mu_);
  Advance(now);
  if (auto busy = RefuseWhileBusy()) return *busy;
  SimJob repo;
  repo.type = "RepositoryUpdate";
  repo.name = "Repository Update";
  repo.duration = timing_.job_run / 2;
  ++counters_.actions;
  const auto entries = ParseCatalog(catalog);
  if (!fetch_error.empty() || entries.empty()) {
    repo.fail_message_id = "RED002";
    repo.fail_message = fetch_error.empty() ? "Unable to parse the catalog file." : "Unable to transfer the catalog file: " + fetch_error;
    *job_id = jobs_.Add(std::move(repo), now);
    return {202, "", ""};
  }
  std::vector<RepoUpdate> updates;
  for (const auto& e : entries) {
    for (const auto& f : inventory_.firmware) {
      if (f.previous || f.software_id != e.component || f.version == e.version) continue;
      updates.push_back({e.name.empty() ? f.name : e.name, e.path.substr(e.path.rfind('/') + 1), e.version, f.version,
                         e.component, e.component == kIdracComponent ? "NONE" : "HC", ""});
      break;
    }
  }
  repo.done_message_id = updates.empty() ? "SUP029" : "RED001";
  repo.done_message = updates.empty() ? "Firmware versions on server match catalog, applicable updates are not present in the repository."
                                      : "Job completed successfully.";
  *job_id = jobs_.Add(std::move(repo), now);
  if (apply) {
    const bool host_updates = std::any_of(updates.begin(), updates.end(), [](const RepoUpdate& u) { return u.reboot_type == "HC"; });
    for (auto& u : updates) {
      SimJob job;
      job.type = "FirmwareUpdate";
      job.name = "Firmware Update: " + u.display_name;
      job.duration = timing_.job_run;
      job.component = u.component;
      job.version = u.version;
      // Host components while the server POSTs; the iDRAC's own update after them.
      job.waits_for_reboot = u.reboot_type == "HC" || host_updates;
      if (u.reboot_type != "HC" && host_updates) job.start_delay = timing_.job_run;
      u.job_id = jobs_.Add(std::move(job), now);
    }
    if (reboot && host_updates && !target_) {
      const bool on = power_ == Power::kOn || power_ == Power::kPoweringOn;
      StartTransition(Power::kOn, on ? timing_.restart : timing_.power_on, now, on);
      ++counters_.effective_resets;
    }
  }
  repo_updates_ = std::move(updates);
  return {202, "", ""};
}

std::optional<std::vector<RepoUpdate>> Bmc::RepoUpdates(SimTime now) {
  std::lock_guard lock(mu_);
  Advance(now);
  return repo_updates_;
}

}  // namespace dcops::sim
