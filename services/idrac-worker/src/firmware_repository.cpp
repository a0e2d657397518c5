// server.firmware_update method repository: Dell's InstallFromRepository.
//
// First a listing (ApplyUpdate False, then GetRepoBasedUpdateList): what the catalog would
// change, reported before anything is applied (dry_run stops there). Then the update
// (ApplyUpdate True; RebootNeeded when the job allows a reboot): the iDRAC creates one job
// per package and reboots the host itself; the jobs are followed host first, the iDRAC's
// last, and the versions are verified.
//
// Checkpoint: "before", "phase" ("listed", "applying" written ahead of the apply, "following"
// with "jobs"). A retry in "applying" looks for the jobs the lost apply created first.
#include "firmware_repository.hpp"

#include <fmt/format.h>
#include <pugixml.hpp>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "dell.hpp"
#include "firmware_packages.hpp"
#include "firmware_update.hpp"
#include "operation_steps.hpp"

namespace dcops::idrac {
namespace {

using agent::StepOutcome;
using State = redfish::TaskStatus::State;

constexpr const char* kInstallActions =
    "/redfish/v1/Dell/Systems/System.Embedded.1/DellSoftwareInstallationService/Actions/DellSoftwareInstallationService.";

std::string InstallBody(const CatalogShare& share, bool apply, bool reboot) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  for (const auto& [k, v] : {std::pair<const char*, const std::string*>{"ShareType", &share.share_type},
                             {"IPAddress", &share.ip_address}, {"ShareName", &share.share_name},
                             {"CatalogFile", &share.catalog_file}}) {
    w.Key(k);
    w.String(v->c_str(), static_cast<rapidjson::SizeType>(v->size()));
  }
  w.Key("ApplyUpdate");
  w.String(apply ? "True" : "False");
  w.Key("RebootNeeded");
  w.Bool(reboot);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

// The update list; empty when the catalog has nothing newer (SUP029).
Result<std::vector<RepoUpdateItem>> UpdateList(redfish::Client& bmc) {
  const std::string path = std::string(kInstallActions) + "GetRepoBasedUpdateList";
  auto r = bmc.Post(path, "{}");
  if (!r) {
    if (r.error().message.find("SUP029") != std::string::npos) return std::vector<RepoUpdateItem>{};
    return r.error();
  }
  auto doc = redfish::Document::Parse(path, r->body, r->Header("Content-Type"));
  if (!doc) return doc.error();
  auto list = doc->String("PackageList");
  if (!list) return list.error();
  auto items = ParsePackageList(*list);
  if (!items) return MakeError(items.error().code, path + ": " + items.error().message);
  return items;
}

std::string ListJson(const std::vector<RepoUpdateItem>& items) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartArray();
  for (const auto& i : items) {
    w.StartObject();
    w.Key("name");
    w.String(i.name.c_str());
    w.Key("package");
    w.String(i.package.c_str());
    w.Key("from");
    w.String(i.installed.c_str());
    w.Key("to");
    w.String(i.version.c_str());
    w.Key("reboot");
    w.Bool(i.reboot_type != "NONE");
    w.EndObject();
  }
  w.EndArray();
  return std::string(buf.GetString(), buf.GetSize());
}

StepOutcome Listed(const std::string& state, const std::vector<RepoUpdateItem>& items) {
  return StepOutcome::Succeeded(fmt::format(R"({{"state":"{}","updates":{}}})", state, ListJson(items)));
}

// The jobs of an applied list ("\n"-separated): host components, and the iDRAC's.
struct AppliedJobs {
  std::string host, idrac;
};
AppliedJobs JobsOf(const std::vector<RepoUpdateItem>& items) {
  AppliedJobs out;
  for (const auto& i : items) {
    if (!i.job_id.empty()) (i.idrac ? out.idrac : out.host) += std::string(kJobsPath) + "/" + i.job_id + "\n";
  }
  return out;
}

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (auto nl = s.find('\n'); nl != std::string::npos; start = nl + 1, nl = s.find('\n', start)) {
    out.push_back(s.substr(start, nl - start));
  }
  return out;
}

}  // namespace

Result<CatalogShare> ShareOf(const std::string& catalog_url) {
  const auto scheme_end = catalog_url.find("://");
  if (scheme_end == std::string::npos) return BadParam("catalog_url", "must be scheme://host/path");
  std::string scheme = catalog_url.substr(0, scheme_end);
  for (auto& c : scheme) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (scheme != "HTTP" && scheme != "HTTPS" && scheme != "NFS" && scheme != "CIFS") {
    return BadParam("catalog_url", "the scheme must be http, https, nfs or cifs");
  }
  const std::string rest = catalog_url.substr(scheme_end + 3);
  const auto slash = rest.find('/');
  CatalogShare share;
  share.share_type = scheme;
  share.ip_address = rest.substr(0, slash);
  if (share.ip_address.empty()) return BadParam("catalog_url", "names no host");
  const std::string path = slash == std::string::npos ? "" : rest.substr(slash + 1);
  const auto last = path.rfind('/');
  share.share_name = last == std::string::npos ? "" : path.substr(0, last);
  share.catalog_file = last == std::string::npos ? path : path.substr(last + 1);
  if (share.catalog_file.empty()) share.catalog_file = "Catalog.xml";
  return share;
}

Result<std::vector<RepoUpdateItem>> ParsePackageList(const std::string& xml) {
  pugi::xml_document doc;
  const auto parsed = doc.load_string(xml.c_str());
  if (!parsed) return MakeError("redfish.schema", fmt::format("PackageList is not XML: {} at offset {}", parsed.description(), parsed.offset));
  std::vector<RepoUpdateItem> out;
  for (const auto& node : doc.select_nodes("//VALUE.NAMEDINSTANCE/INSTANCENAME")) {
    const pugi::xml_node instance = node.node();
    if (std::string(instance.attribute("CLASSNAME").value()) != "DCIM_RepoUpdateSWID") continue;
    RepoUpdateItem item;
    for (const auto& prop : instance.children("PROPERTY")) {
      const std::string name = prop.attribute("NAME").value();
      const std::string value = prop.child("VALUE").text().get();
      if (name == "DisplayName") item.name = value;
      else if (name == "PackageName") item.package = value;
      else if (name == "PackageVersion") item.version = value;
      else if (name == "ComponentInstalledVersion") item.installed = value;
      else if (name == "RebootType") item.reboot_type = value;
      else if (name == "JobID") item.job_id = value;
    }
    if (item.package.empty() || item.version.empty()) {
      return MakeError("redfish.schema", "a DCIM_RepoUpdateSWID has no PackageName or PackageVersion");
    }
    item.idrac = IsIdracPackage(item.package) || item.name.find("iDRAC") != std::string::npos ||
                 item.name.find("Remote Access Controller") != std::string::npos;
    out.push_back(std::move(item));
  }
  if (out.empty() && !doc.child("CIM")) return MakeError("redfish.schema", "PackageList has no CIM document");
  return out;
}

StepOutcome RunRepositoryUpdate(agent::StepContext& ctx, redfish::Client& bmc, const OperationOptions& options,
                                const std::string& catalog_url, const std::string& reboot, bool dry_run,
                                std::chrono::milliseconds timeout) {
  auto share = ShareOf(catalog_url);
  if (!share) return StepOutcome::Failed(share.error());
  const bool may_reboot = reboot == "auto" || reboot == "now";
  Checkpoint cp = Checkpoint::Parse(ctx.assignment().checkpoint_json);
  auto save = [&ctx, &cp]() { return ctx.SaveCheckpoint(cp.Json()); };
  const std::string install = std::string(kInstallActions) + "InstallFromRepository";
  auto start = [&](bool apply) -> Result<std::string> {
    auto r = bmc.Post(install, InstallBody(*share, apply, apply && may_reboot));
    if (!r) return r.error();
    const std::string task = ResourcePath(r->Header("Location"));
    if (task.empty()) return MakeError("redfish.schema", install + ": accepted without a Location header");
    return task;
  };

  if (cp.Get("phase").empty()) {
    ctx.Progress(2, "waiting for the Lifecycle Controller to be ready");
    if (auto st = WaitForLcReady(ctx, bmc, options); !st) return FailedOrCancelled(ctx, st.error());
    auto before = ReadFirmwareVersions(bmc);
    if (!before) return StepOutcome::Failed(before.error());
    ctx.Progress(5, "comparing the catalog " + catalog_url + " with the installed firmware");
    auto task = start(false);
    if (!task) return StepOutcome::Failed(task.error());
    auto checked = FollowTask(ctx, bmc, *task, options, timeout, false, 5, 20);
    if (!checked) return FailedOrCancelled(ctx, checked.error());
    if (checked->state == State::kFailed) {
      return StepOutcome::Failed(MakeError("firmware.catalog_failed", fmt::format("the catalog {} could not be used: {}: {}",
                                                                                 catalog_url, checked->message_id, checked->message)));
    }
    auto items = UpdateList(bmc);
    if (!items) return StepOutcome::Failed(items.error());
    for (const auto& i : *items) {
      ctx.Event(LogLevel::kInfo, fmt::format("catalog: {} {} → {}{}", i.name, i.installed, i.version,
                                             i.reboot_type != "NONE" ? " (reboot)" : ""));
    }
    if (items->empty()) {
      ctx.Progress(100, "the server already has the catalog's versions");
      return Listed("unchanged", *items);
    }
    if (dry_run) {
      ctx.Progress(100, fmt::format("{} update(s) would be applied", items->size()));
      return Listed("listed", *items);
    }
    auto reset = ManagerLastReset(bmc);
    if (!reset) return StepOutcome::Failed(reset.error());
    cp.Set("before", EncodeVersions(*before)).Set("reset_before", *reset).Set("phase", "applying");
    if (auto st = save(); !st) return StepOutcome::Failed(st.error());
    ctx.Progress(22, fmt::format("applying {} update(s){}", items->size(), may_reboot ? ", the iDRAC reboots the server" : ""));
    auto applied = start(true);
    if (!applied) return StepOutcome::Failed(applied.error());
    auto done = FollowTask(ctx, bmc, *applied, options, timeout, false, 22, 25);
    if (!done) return FailedOrCancelled(ctx, done.error());
    if (done->state == State::kFailed) {
      return StepOutcome::Failed(MakeError("firmware.job_failed", fmt::format("{} failed: {}: {}", *applied, done->message_id, done->message)));
    }
  }
  if (cp.Get("phase") == "applying") {
    // The apply went out (maybe on an earlier attempt): its jobs are in the list.
    auto items = UpdateList(bmc);
    if (!items) return StepOutcome::Failed(items.error());
    const AppliedJobs jobs = JobsOf(*items);
    if (jobs.host.empty() && jobs.idrac.empty()) {
      return StepOutcome::Failed(MakeError("firmware.not_applied", "the repository update created no update job; retrying lists again", true));
    }
    cp.Set("phase", "following").Set("jobs", jobs.host + jobs.idrac).Set("idrac_jobs", jobs.idrac);
    if (auto st = save(); !st) return StepOutcome::Failed(st.error());
  }
  const auto jobs = Lines(cp.Get("jobs"));
  std::size_t staged = 0;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const int from = 25 + static_cast<int>(60 * i / jobs.size());
    auto s = FollowTask(ctx, bmc, jobs[i], options, timeout, !may_reboot, from, from + static_cast<int>(60 / jobs.size()));
    if (!s) return FailedOrCancelled(ctx, s.error());
    if (s->state == State::kScheduled) {
      ++staged;
    } else if (s->state == State::kFailed && s->message_id.find("SUP029") == std::string::npos) {
      return StepOutcome::Failed(MakeError("firmware.job_failed", fmt::format("{} failed: {}: {}", jobs[i], s->message_id, s->message)));
    }
  }
  if (staged == 0 && !cp.Get("idrac_jobs").empty()) {
    // The iDRAC updated itself last: done once it has restarted and answers healthily.
    auto healthy = WaitForIdracRestart(ctx, bmc, options, cp.Get("reset_before"), false, options.restart_timeout);
    if (!healthy) return FailedOrCancelled(ctx, healthy.error());
  }
  if (staged > 0) {
    ctx.Progress(100, fmt::format("staged: {} update(s) apply at the next reset", staged));
    return StepOutcome::Succeeded(fmt::format(R"({{"state":"scheduled","staged":{}}})", staged));
  }
  return VerifyFirmware(ctx, bmc, options, DecodeVersions(cp.Get("before")), jobs, false);
}

}  // namespace dcops::idrac
