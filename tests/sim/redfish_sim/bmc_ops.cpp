// The iDRAC operations of a simulated BMC: firmware updates through the job queue, the
// iDRAC's own restart, boot settings, virtual media and BIOS attributes.
#include <fmt/format.h>

#include <algorithm>
#include <regex>

#include "bmc.hpp"
#include "dcops/common/clock.hpp"

namespace dcops::sim {
namespace {

// What a Dell update package updates, from its file name.
struct Package {
  std::string component;  // "" when the simulator does not know the package
  std::string name;
  std::string version;
};

Package ParsePackage(const std::string& uri) {
  const std::string file = uri.substr(uri.rfind('/') + 1);
  std::string lower = file;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  static const std::regex kVersion(R"(_([0-9]+(?:[.-][0-9A-Za-z]+)+)(?:_a[0-9]+)?\.(?:exe|bin|d9)$)");
  std::smatch m;
  Package p;
  if (std::regex_search(lower, m, kVersion)) p.version = file.substr(static_cast<std::size_t>(m.position(1)), m.length(1));
  if (lower.find("idrac") != std::string::npos) {
    p = {kIdracComponent, "Integrated Dell Remote Access Controller", p.version};
  } else if (lower.find("bios") != std::string::npos) {
    p = {kBiosComponent, "BIOS", p.version};
  } else if (lower.find("sas-raid") != std::string::npos || lower.find("perc") != std::string::npos) {
    p = {"104947", "PERC", p.version};
  } else if (lower.find("network") != std::string::npos || lower.find("nic") != std::string::npos) {
    p = {"0", "Broadcom Adv. Dual 25Gb Ethernet", p.version};
  }
  return p;
}

}  // namespace

std::string Bmc::FirmwareVersion(const std::string& component) const {
  std::lock_guard lock(mu_);
  for (const auto& f : inventory_.firmware) {
    if (f.software_id == component && !f.previous) return f.version;
  }
  return "";
}

ActionAnswer Bmc::SimpleUpdate(const std::string& image_uri, SimTime now, std::string* job_id) {
  std::lock_guard lock(mu_);
  Advance(now);
  if (auto busy = RefuseWhileBusy()) return *busy;
  if (image_uri.rfind("http://", 0) != 0 && image_uri.rfind("https://", 0) != 0 &&
      image_uri.rfind("nfs://", 0) != 0 && image_uri.rfind("cifs://", 0) != 0) {
    ++counters_.refused_actions;
    return {400, "IDRAC.2.8.SUP0106", "Invalid or unsupported image URI: " + image_uri};
  }
  // Accepted before anything is fetched: the job downloads first (DownloadFinished).
  SimJob job;
  job.type = "FirmwareUpdate";
  job.name = "Firmware Update: Unknown";
  job.state = "Downloading";
  job.message_id = "RED003";
  job.message = "Downloading package.";
  job.image_uri = image_uri;
  job.ready_at = now + timing_.download;
  ++counters_.actions;
  *job_id = jobs_.Add(std::move(job), now);
  return {202, "", ""};
}

void Bmc::DownloadFinished(const std::string& job_id, const FetchOutcome& outcome, SimTime now) {
  std::lock_guard lock(mu_);
  Advance(now);
  SimJob* job = jobs_.Downloading(job_id);
  if (job == nullptr) return;  // deleted (JID_CLEARALL) while it downloaded
  job->fetched = true;
  job->ready_at = std::max(job->ready_at, now);
  if (outcome.kind != FetchOutcome::Kind::kOk) {
    ++counters_.image_fetch_failures;
    job->download_failed = true;
    // The messages of Dell's registry (EEMI) for each way a download fails.
    switch (outcome.kind) {
      case FetchOutcome::Kind::kNotFound:
        job->fail_message_id = "SUP0106";
        job->fail_message = "Unable to locate firmware image file in specified path.";
        break;
      case FetchOutcome::Kind::kDenied:
        job->fail_message_id = "RED050";
        job->fail_message = "The specified user credentials necessary for downloading an update package were not correct.";
        break;
      case FetchOutcome::Kind::kHttpError:
        job->fail_message_id = "RED006";
        job->fail_message = "Unable to download Update Package.";
        break;
      default:
        job->fail_message_id = "RED051";
        job->fail_message = "The network file transfer of an update package was not successful.";
    }
    return;
  }
  ++counters_.images_fetched;
  counters_.image_bytes += outcome.bytes;
  SimJob planned = PlanUpdate(job->image_uri, IsUpdatePackage(outcome.head));
  job->name = planned.name;
  job->duration = planned.duration;
  job->component = planned.component;
  job->version = planned.version;
  job->waits_for_reboot = planned.waits_for_reboot;
  job->fail_message_id = planned.fail_message_id;
  job->fail_message = planned.fail_message;
  if (job->fail_message_id.empty()) LogUpdating(*job);
}

std::optional<ActionAnswer> Bmc::RefuseWhileBusy() {
  if (!jobs_.AnyRunning() && lc_status_ == "Ready") return std::nullopt;
  ++counters_.refused_actions;
  return ActionAnswer{503, "IDRAC.2.8.SYS518",
                      "iDRAC is not ready. The configuration values cannot be accessed. Please retry after a few minutes."};
}

SimJob Bmc::PlanUpdate(const std::string& package_name, bool signed_package) const {
  const Package pkg = ParsePackage(package_name);
  SimJob job;
  job.type = "FirmwareUpdate";
  job.name = "Firmware Update: " + (pkg.name.empty() ? std::string("Unknown") : pkg.name);
  job.duration = timing_.job_run;
  job.component = pkg.component;
  job.version = pkg.version;
  if (pkg.component.empty() || pkg.version.empty() || !signed_package) {
    job.fail_message_id = "RED004";
    job.fail_message = "Unable to verify Update Package signature.";
  } else {
    std::string installed;
    for (const auto& f : inventory_.firmware) {
      if (f.software_id == pkg.component && !f.previous) installed = f.version;
    }
    if (installed == pkg.version) {
      job.fail_message_id = "SUP029";
      job.fail_message = "Firmware versions on server match catalog, applicable updates are not present.";
    }
    // Host components are flashed while the server POSTs; the iDRAC flashes itself now.
    job.waits_for_reboot = pkg.component != kIdracComponent && job.fail_message_id.empty();
  }
  return job;
}

void Bmc::LogUpdating(const SimJob& job) {
  AppendLog("lifecycle", {"", "", "OK", "SUP0516",
                          fmt::format("Updating firmware for {} to version {}.", job.name.substr(job.name.find(": ") + 2),
                                      job.version),
                          "", ""});
}

ActionAnswer Bmc::QueueUpdate(const std::string& package_name, bool signed_package, SimTime now, std::string* job_id) {
  SimJob job = PlanUpdate(package_name, signed_package);
  ++counters_.actions;
  if (job.fail_message_id.empty()) LogUpdating(job);
  *job_id = jobs_.Add(std::move(job), now);
  return {202, "", ""};
}

void Bmc::Finish(const SimJob& job, SimTime now) {
  if (job.state != "Completed") return;
  if (job.type == "FirmwareUpdate") {
    AppendLog("lifecycle", {"", "", "OK", "SUP0518", fmt::format("Successfully updated the {} firmware to version {}.", job.name.substr(job.name.find(": ") + 2), job.version), "", ""});
    std::vector<SimFirmware> previous;
    for (auto& f : inventory_.firmware) {
      if (f.software_id != job.component || f.previous) continue;
      SimFirmware old = f;
      old.previous = true;
      previous.push_back(old);
      f.version = job.version;
      f.install_date = FormatUtc(std::chrono::system_clock::now()).substr(0, 19) + "Z";
    }
    // One rollback image per component (Dell keeps the last one).
    inventory_.firmware.erase(std::remove_if(inventory_.firmware.begin(), inventory_.firmware.end(),
                                             [&](const SimFirmware& f) { return f.previous && f.software_id == job.component; }),
                              inventory_.firmware.end());
    inventory_.firmware.insert(inventory_.firmware.end(), previous.begin(), previous.end());
    if (job.component == kIdracComponent) {
      // The new iDRAC firmware boots: unreachable for a while, every session gone.
      down_until_ = now + timing_.idrac_restart;
      FlagRestart();
      sessions_.clear();
      manager_last_reset_ = FormatUtc(std::chrono::system_clock::now());
    }
  } else if (job.type == "BIOSConfiguration" || job.type == "ImportConfiguration") {
    for (const auto& [k, v] : job.attributes) {
      bios_[k] = v;
      bios_pending_.erase(k);
    }
    for (const auto& [k, v] : job.idrac_attributes) idrac_attrs_[k] = v;
    if (job.type == "ImportConfiguration" && !job.attributes.empty() && job.message_id == "SYS053") {
      AppendLog("lifecycle", {"", "", "OK", "SYS053", "Successfully imported and applied Server Configuration Profile.", "", ""});
    }
    if (job.power_off_after && !target_) StartTransition(Power::kOff, timing_.power_off, now, false);
  }
}

ActionAnswer Bmc::ResetManager(const std::string& type, SimTime now) {
  std::lock_guard lock(mu_);
  if (type != "GracefulRestart" && type != "ForceRestart") {
    ++counters_.refused_actions;
    return {400, "Base.1.8.PropertyValueNotInList",
            fmt::format("The value {} for the property ResetType is not in the list of acceptable values.", type)};
  }
  ++counters_.actions;
  ++counters_.idrac_resets;
  down_until_ = now + timing_.idrac_restart;
  FlagRestart();
  sessions_.clear();
  manager_last_reset_ = FormatUtc(std::chrono::system_clock::now());
  AppendLog("lifecycle", {"", "", "OK", "RAC0182", "The iDRAC firmware was rebooted with the following reason: user initiated.", "", ""});
  return {204, "", ""};
}

bool Bmc::Down(SimTime now) {
  std::lock_guard lock(mu_);
  return now < down_until_;
}

std::string Bmc::ManagerLastResetTime() const {
  std::lock_guard lock(mu_);
  return manager_last_reset_;
}

ActionAnswer Bmc::ClearJobQueue(const std::string& job_id) {
  std::lock_guard lock(mu_);
  if (job_id != "JID_CLEARALL" && job_id != "JID_CLEARALL_FORCE") {
    auto job = jobs_.Find(job_id);
    if (!job) return {400, "IDRAC.2.8.SUP011", "Job ID not found: " + job_id};
  }
  ++counters_.actions;
  jobs_.Clear();
  if (job_id == "JID_CLEARALL_FORCE") lc_status_ = "Ready";  // also restarts the LC services
  return {200, "", ""};
}

std::vector<SimJob> Bmc::Jobs(SimTime now) {
  std::lock_guard lock(mu_);
  Advance(now);
  return jobs_.List();
}

std::optional<SimJob> Bmc::Job(const std::string& id, SimTime now) {
  std::lock_guard lock(mu_);
  Advance(now);
  return jobs_.Find(id);
}

void Bmc::Booted() {
  boot_.last_boot_source = boot_.override_enabled == "Disabled" ? "Hdd" : boot_.override_target;
  if (boot_.override_enabled == "Once") {
    boot_.override_enabled = "Disabled";
    boot_.override_target = "None";
  }
}

BootState Bmc::Boot() const {
  std::lock_guard lock(mu_);
  return boot_;
}

std::vector<std::string> Bmc::AllowedBootTargets() const {
  return {"None", "Pxe", "Floppy", "Cd", "Usb", "Hdd", "BiosSetup", "Utilities", "UefiTarget", "SDCard", "UefiHttp"};
}

ActionAnswer Bmc::PatchBoot(const std::optional<std::string>& target, const std::optional<std::string>& enabled,
                            const std::optional<std::vector<std::string>>& order) {
  const auto targets = AllowedBootTargets();
  std::lock_guard lock(mu_);
  if (target && std::find(targets.begin(), targets.end(), *target) == targets.end()) {
    return {400, "Base.1.8.PropertyValueNotInList",
            fmt::format("The value {} for the property BootSourceOverrideTarget is not in the list of acceptable values.", *target)};
  }
  if (enabled && *enabled != "Disabled" && *enabled != "Once" && *enabled != "Continuous") {
    return {400, "Base.1.8.PropertyValueNotInList",
            fmt::format("The value {} for the property BootSourceOverrideEnabled is not in the list of acceptable values.", *enabled)};
  }
  if (order) {
    auto sorted_new = *order;
    auto sorted_old = boot_.order;
    std::sort(sorted_new.begin(), sorted_new.end());
    std::sort(sorted_old.begin(), sorted_old.end());
    if (sorted_new != sorted_old) {
      return {400, "Base.1.8.PropertyValueIncorrect",
              "The value for the property BootOrder must name every boot option exactly once."};
    }
    boot_.order = *order;
  }
  if (target) boot_.override_target = *target;
  if (enabled) boot_.override_enabled = *enabled;
  if (target && !enabled && boot_.override_enabled == "Disabled" && *target != "None") boot_.override_enabled = "Once";
  return {200, "", ""};
}

std::vector<MediaSlot> Bmc::VirtualMedia() const {
  std::lock_guard lock(mu_);
  return media_;
}

ActionAnswer Bmc::InsertMedia(const std::string& slot, const std::string& image) {
  std::lock_guard lock(mu_);
  for (auto& m : media_) {
    if (m.id != slot) continue;
    if (m.inserted) {
      ++counters_.refused_actions;
      return {400, "IDRAC.2.8.VRM0012", "The Virtual Media image server is already connected."};
    }
    if (image.find("missing") != std::string::npos) {
      ++counters_.refused_actions;
      return {400, "IDRAC.2.8.VRM0021",
              "Unable to locate the ISO or IMG image file or folder in the network share location because the file or folder path or the user credentials entered are incorrect."};
    }
    ++counters_.actions;
    m.inserted = true;
    m.image = image;
    return {204, "", ""};
  }
  return {404, "Base.1.8.ResourceMissingAtURI", "The resource at the URI was not found."};
}

ActionAnswer Bmc::EjectMedia(const std::string& slot) {
  std::lock_guard lock(mu_);
  for (auto& m : media_) {
    if (m.id != slot) continue;
    if (!m.inserted) {
      ++counters_.refused_actions;
      return {400, "IDRAC.2.8.VRM0009", "Virtual Media is detached or Virtual Media devices are already in use."};
    }
    ++counters_.actions;
    m.inserted = false;
    m.image.clear();
    return {204, "", ""};
  }
  return {404, "Base.1.8.ResourceMissingAtURI", "The resource at the URI was not found."};
}

std::map<std::string, std::string> Bmc::IdracAttributes() const {
  std::lock_guard lock(mu_);
  return idrac_attrs_;
}

ActionAnswer Bmc::PatchIdracAttributes(const std::map<std::string, std::string>& attributes) {
  std::lock_guard lock(mu_);
  for (const auto& [k, _] : attributes) {
    if (idrac_attrs_.count(k) == 0) {
      ++counters_.refused_actions;
      return {400, "Base.1.8.PropertyUnknown", fmt::format("The property {} is not in the list of valid properties for the resource.", k)};
    }
    if (k.rfind("Info.", 0) == 0) {
      ++counters_.refused_actions;
      return {400, "Base.1.8.PropertyNotWritable", fmt::format("The property {} is a read only property and cannot be assigned a value.", k)};
    }
  }
  ++counters_.actions;
  for (const auto& [k, v] : attributes) idrac_attrs_[k] = v;
  return {200, "", ""};
}

std::map<std::string, std::string> Bmc::BiosAttributes() const {
  std::lock_guard lock(mu_);
  return bios_;
}

std::map<std::string, std::string> Bmc::PendingBios() const {
  std::lock_guard lock(mu_);
  return bios_pending_;
}

ActionAnswer Bmc::PatchBios(const std::map<std::string, std::string>& attributes, const std::string& apply_time,
                            SimTime now, std::string* job_id) {
  std::lock_guard lock(mu_);
  Advance(now);
  for (const auto& [k, _] : attributes) {
    if (bios_.count(k) == 0) {
      ++counters_.refused_actions;
      return {400, "Base.1.8.PropertyUnknown", fmt::format("The property {} is not in the list of valid properties for the resource.", k)};
    }
  }
  for (const auto& j : jobs_.List()) {
    if (j.type == "BIOSConfiguration" && j.state == "Scheduled") {
      ++counters_.refused_actions;
      return {400, "IDRAC.2.8.SYS011", "Pending configuration values are already committed, unable to perform another set operation."};
    }
  }
  ++counters_.actions;
  for (const auto& [k, v] : attributes) bios_pending_[k] = v;
  SimJob job;
  job.type = "BIOSConfiguration";
  job.name = "Configure: BIOS.Setup.1-1";
  job.duration = timing_.job_run;
  job.attributes = attributes;
  job.waits_for_reboot = true;
  *job_id = jobs_.Add(std::move(job), now);
  if (apply_time == "Immediate") {
    const bool on = power_ == Power::kOn || power_ == Power::kPoweringOn;
    if (on && !target_) {
      StartTransition(Power::kOn, timing_.restart, now, true);
      ++counters_.effective_resets;
    } else if (!on && !target_) {
      StartTransition(Power::kOn, timing_.power_on, now, false);
      ++counters_.effective_resets;
    }
  }
  return {202, "", ""};
}

}  // namespace dcops::sim
