#include "upgrade_step.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>

#include "dcops/agent/params.hpp"
#include "esxcli_output.hpp"
#include "host_runtime.hpp"
#include "reboot_step.hpp"
#include "host_step.hpp"

namespace dcops::esxi {
namespace {

using agent::StepOutcome;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr milliseconds kQuickCommand{60000};  // esxcli reads that answer from the host itself
constexpr const char* kSshService = "TSM-SSH";

struct UpgradeParams {
  std::string depot, profile, build;
  long long min_free_mb = 1024;
  seconds timeout{1800};
};

Result<UpgradeParams> ParseParams(const agent::Params& p) {
  UpgradeParams out;
  auto depot = p.RequiredText("depot");
  if (!depot) return depot.error();
  auto profile = p.RequiredText("profile");
  if (!profile) return profile.error();
  auto build = p.Text("build");
  if (!build) return build.error();
  auto free = p.Int("min_free_mb", 0, 1 << 20);
  if (!free) return free.error();
  auto timeout = p.Int("timeout_seconds", 300, 86400);
  if (!timeout) return timeout.error();
  out.depot = *depot;
  out.profile = *profile;
  out.build = build->value_or("");
  if (*free) out.min_free_mb = **free;
  if (*timeout) out.timeout = seconds(**timeout);
  // What reaches the remote shell is quoted once; these are still checked against what a depot
  // and a profile name can be (the catalog's schema says the same).
  auto safe = [](const std::string& s, const std::string& extra) {
    return !s.empty() && s.size() <= 2048 && std::all_of(s.begin(), s.end(), [&](unsigned char c) {
      return std::isalnum(c) || extra.find(static_cast<char>(c)) != std::string::npos;
    });
  };
  if (!safe(out.depot, ":/._-%?=&+~") || !(out.depot.rfind("http://", 0) == 0 || out.depot.rfind("https://", 0) == 0 ||
                                           out.depot.rfind("/vmfs/volumes/", 0) == 0)) {
    return agent::BadParam("depot", "must be an http(s) URL or a /vmfs/volumes/ path");
  }
  if (!safe(out.profile, "._-")) return agent::BadParam("profile", "must be an image profile name (letters, digits, . _ -)");
  if (!out.build.empty() && (out.build.size() < 5 || out.build.size() > 12 ||
                              !std::all_of(out.build.begin(), out.build.end(), [](unsigned char c) { return std::isdigit(c); }))) {
    return agent::BadParam("build", "must be a build number (5 to 12 digits)");
  }
  return out;
}

// A string member of the dispatcher's "_endpoint".
std::string EndpointText(const agent::Params& p, const char* member) {
  const rapidjson::Value* e = p.Raw("_endpoint");
  if (e == nullptr || !e->IsObject() || !e->HasMember(member) || !(*e)[member].IsString()) return "";
  return (*e)[member].GetString();
}

// Starts the host's SSH service through vCenter when it is off, and stops it again when this
// goes out of scope (or Restore() is called): the host is left as it was found.
class SshService {
 public:
  SshService(vsphere::Client& vcenter, agent::StepContext& ctx) : vcenter_(vcenter), ctx_(ctx) {}
  ~SshService() { Restore(); }

  // `started_before`: an earlier attempt of this step started it (its checkpoint says so): it is
  // this step's to stop. `before_start` is called (and must succeed) before the service is
  // started, so that a crash after the start still knows to stop it.
  Status Ensure(const vsphere::MoRef& host, const std::string& host_name, bool started_before,
                const std::function<Status()>& before_start) {
    auto manager = vcenter_.ReadObject(host, {"configManager.serviceSystem"});
    if (!manager) return manager.error();
    const auto& props = manager->objects.front().props;
    auto it = props.find("configManager.serviceSystem");
    if (it == props.end() || vsphere::TrimmedText(it->second).empty()) {
      return MakeError("esxi.no_service_system", host_name + ": vCenter names no HostServiceSystem for it");
    }
    system_ = {"HostServiceSystem", vsphere::TrimmedText(it->second)};
    auto info = vcenter_.ReadObject(system_, {"serviceInfo"});
    if (!info) return info.error();
    bool known = false, running = false;
    if (auto s = info->objects.front().props.find("serviceInfo"); s != info->objects.front().props.end()) {
      for (const auto& service : vsphere::Children(s->second, "service")) {
        if (vsphere::TrimmedText(vsphere::Child(service, "key")) != kSshService) continue;
        known = true;
        running = vsphere::TrimmedText(vsphere::Child(service, "running")) == "true";
      }
    }
    if (!known) return MakeError("esxi.no_ssh_service", host_name + ": the host lists no SSH service (TSM-SSH)");
    host_name_ = host_name;
    if (running) {
      started_ = started_before;
      return Status();
    }
    if (auto st = before_start(); !st) return st;
    auto r = vcenter_.Call("StartService", system_, std::string("<id>") + kSshService + "</id>");
    if (!r) return r.error();
    started_ = true;
    ctx_.Event(LogLevel::kInfo, fmt::format("started the SSH service of {} through vCenter; it is stopped again afterwards", host_name));
    return Status();
  }

  // Stops the service when this step started it. A failure is a warning, not the step's end:
  // the upgrade itself is not undone by it (`restored()` stays false and the result says so).
  void Restore() {
    if (!started_) return;
    started_ = false;
    auto r = vcenter_.Call("StopService", system_, std::string("<id>") + kSshService + "</id>");
    if (!r) {
      ctx_.Event(LogLevel::kWarn, fmt::format("the SSH service of {} could not be stopped again: {}; stop it by hand", host_name_,
                                              r.error().message));
      return;
    }
    ctx_.Event(LogLevel::kInfo, fmt::format("stopped the SSH service of {} again", host_name_));
    restored_ = true;
  }
  bool started() const { return started_; }
  bool restored() const { return restored_; }

 private:
  vsphere::Client& vcenter_;
  agent::StepContext& ctx_;
  vsphere::MoRef system_;
  std::string host_name_;
  bool started_ = false, restored_ = false;
};

class UpgradeRun : HostStepRun {
 public:
  UpgradeRun(agent::StepContext& ctx, vsphere::Client& vcenter, const VcenterTarget& target, const agent::Params& raw,
             UpgradeParams p, const ShellConnector& connect)
      : HostStepRun(ctx, vcenter, target, ParseHostCheckpoint(ctx.assignment().checkpoint_json)),
        raw_(raw), p_(std::move(p)), connect_(connect) {}

  StepOutcome Run() {
    host_key_ = cp_.host_key;
    host_key_new_ = !cp_.host_key.empty();
    if (cp_.phase == "updated" || cp_.phase == "sending" || cp_.phase == "sent") {
      ctx_.Event(LogLevel::kInfo, fmt::format("resuming: the update of {} is installed; going on with the reboot", Host()));
      SshService service(vcenter_, ctx_);
      if (cp_.ssh_started) {
        // The earlier attempt started the SSH service and may not have stopped it.
        if (auto st = service.Ensure(target_.host, Host(), true, [] { return Status(); }); st) service.Restore();
      }
      return RebootAndProve(cp_.build_before, service.restored() || !cp_.ssh_started);
    }
    ctx_.Progress(5, fmt::format("reading {} from vCenter", Host()));
    auto now = ReadHostRuntime(vcenter_, target_.host);
    if (!now) return StepOutcome::Failed(now.error());
    if (!now->in_maintenance) {
      return StepOutcome::Failed(MakeError("esxi.not_in_maintenance",
                                           fmt::format("{} is not in maintenance mode: not upgrading it (enter maintenance first)", Host())));
    }
    auto vc_build = VcenterBuild();
    if (!vc_build) return StepOutcome::Failed(vc_build.error());

    SshService service(vcenter_, ctx_);
    const bool started_before = cp_.ssh_started;
    if (auto st = service.Ensure(target_.host, Host(), started_before,
                                 [&] { return Save({.phase = "starting_ssh", .ssh_started = true}); });
        !st) {
      return StepOutcome::Failed(st.error());
    }
    ctx_.Progress(10, fmt::format("connecting to {} over SSH", Host()));
    auto shell = connect_(SshEndpoint());
    if (!shell) return StepOutcome::Failed(shell.error());
    ssh::Session& sh = **shell;
    if (sh.host_key_was_new()) {
      ctx_.Event(LogLevel::kWarn, fmt::format("first contact with {} over SSH: its host key {} is recorded and pinned from now on",
                                              Host(), sh.host_key()));
    }
    host_key_ = sh.host_key();
    host_key_new_ = host_key_new_ || sh.host_key_was_new();

    // What runs now.
    auto version = Esxcli(sh, {"system", "version", "get"}, kQuickCommand);
    if (!version) return StepOutcome::Failed(version.error());
    const auto running = BuildOf(ParseEsxcliRecord(*version)["Build"]);
    if (!running) return StepOutcome::Failed(MakeError("esxcli.schema", Host() + ": `esxcli system version get` shows no build"));
    if (*running != *vc_build) {
      ctx_.Event(LogLevel::kWarn, fmt::format("{} runs build {} by esxcli, {} by vCenter; esxcli's is used", Host(), *running, *vc_build));
    }
    // The depot has the profile.
    ctx_.Progress(15, "reading the depot's image profiles");
    auto listed = Esxcli(sh, {"software", "sources", "profile", "list", "-d", p_.depot}, p_.timeout);
    if (!listed) return StepOutcome::Failed(listed.error());
    auto profiles = ParseEsxcliTable(*listed);
    if (!profiles) return StepOutcome::Failed(profiles.error());
    std::vector<std::string> names;
    bool found = false;
    for (auto& row : *profiles) {
      names.push_back(row["Name"]);
      found = found || row["Name"] == p_.profile;
    }
    if (!found) {
      return StepOutcome::Failed(MakeError("esxi.profile_not_in_depot",
                                           fmt::format("profile {} is not in depot {} (it has: {})", p_.profile, p_.depot,
                                                       names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", ")))));
    }
    const std::string wanted = p_.build.empty() ? BuildInProfileName(p_.profile).value_or("") : p_.build;
    if (wanted.empty()) {
      return StepOutcome::Failed(MakeError("esxi.unknown_build", fmt::format("the build of profile {} cannot be told from its name: "
                                                                              "give it as the build param", p_.profile)));
    }
    if (CompareBuilds(wanted, *running) == 0) {
      const std::string note = fmt::format("{} already runs build {} ({}): nothing to do", Host(), *running, p_.profile);
      ctx_.Event(LogLevel::kInfo, note);
      service.Restore();
      return Done("already_current", note, *running, *running, service.restored(), "");
    }
    if (CompareBuilds(wanted, *running) < 0) {
      return StepOutcome::Failed(MakeError("esxi.downgrade", fmt::format("{} runs build {}; profile {} is build {}: not downgrading",
                                                                         Host(), *running, p_.profile, wanted)));
    }
    // Room on the OSDATA volume for the new image.
    auto filesystems = Esxcli(sh, {"storage", "filesystem", "list"}, kQuickCommand);
    if (!filesystems) return StepOutcome::Failed(filesystems.error());
    auto volumes = ParseEsxcliTable(*filesystems);
    if (!volumes) return StepOutcome::Failed(volumes.error());
    std::optional<long long> free;
    for (auto& v : *volumes) {
      if (v["Volume Name"].rfind("OSDATA", 0) == 0 || v["Type"] == "VMFSOS" || v["Type"] == "VMFS-L") free = EsxcliBytes(v["Free"]);
    }
    if (!free) return StepOutcome::Failed(MakeError("esxi.no_osdata", Host() + ": `esxcli storage filesystem list` shows no OSDATA volume"));
    if (*free < p_.min_free_mb * 1024 * 1024) {
      return StepOutcome::Failed(MakeError("esxi.no_space", fmt::format("{} has {} MiB free on OSDATA; the upgrade needs {} MiB", Host(),
                                                                        *free / (1024 * 1024), p_.min_free_mb)));
    }
    // The update, written ahead.
    if (ctx_.CancelRequested()) {
      service.Restore();
      return StepOutcome::Cancelled(fmt::format("cancelled before the update; {} is as it was", Host()));
    }
    if (auto st = Save({.phase = "updating", .operation = "esxcli software profile update", .before = now->boot_time,
                        .ssh_started = service.started(), .target = wanted, .build_before = *running,
                        .host_key = host_key_new_ ? host_key_ : ""});
        !st) {
      return StepOutcome::Failed(st.error());
    }
    ctx_.Progress(30, fmt::format("installing {} on {} (build {} → {})", p_.profile, Host(), *running, wanted));
    ctx_.Event(LogLevel::kInfo, fmt::format("esxcli software profile update -d {} -p {} on {}", p_.depot, p_.profile, Host()));
    auto updated = Esxcli(sh, {"software", "profile", "update", "-d", p_.depot, "-p", p_.profile}, p_.timeout);
    if (!updated) return StepOutcome::Failed(updated.error());
    auto result = ParseEsxcliRecord(*updated);
    const std::string installed = EsxBaseBuild(result["VIBs Installed"]).value_or("");
    if (!installed.empty() && installed != wanted) {
      ctx_.Event(LogLevel::kWarn, fmt::format("the update installed esx-base build {}, not {} as the profile's name says; {} is expected",
                                              installed, wanted, installed));
    }
    const std::string expected = installed.empty() ? wanted : installed;
    ctx_.Event(LogLevel::kInfo, fmt::format("{}: {}", Host(), result["Message"].empty() ? "update installed" : result["Message"]));
    shell->reset();
    service.Restore();
    if (auto st = Save({.phase = "updated", .operation = "esxcli software profile update", .before = now->boot_time,
                        .ssh_started = service.started(), .target = expected});
        !st) {
      return StepOutcome::Failed(st.error());
    }
    if (ctx_.CancelRequested()) {
      // The image is staged; the reboot that would run it is the operator's call now.
      return StepOutcome::Cancelled(fmt::format("cancelled after the update: {} is staged on {}, which runs build {} until it reboots",
                                                p_.profile, Host(), *running));
    }
    if (result["Reboot Required"] == "false") {
      const std::string note = fmt::format("{}: esxcli needed no reboot ({})", Host(), result["Message"]);
      return Done("updated_without_reboot", note, *running, *running, service.restored(), "");
    }
    return RebootAndProve(*running, service.restored());
  }

 private:
  ssh::Endpoint SshEndpoint() const {
    ssh::Endpoint e;
    e.host = EndpointText(raw_, "ssh_address");
    if (e.host.empty()) e.host = Host();
    const rapidjson::Value* ep = raw_.Raw("_endpoint");
    if (ep != nullptr && ep->IsObject() && ep->HasMember("ssh_port") && (*ep)["ssh_port"].IsInt()) e.port = (*ep)["ssh_port"].GetInt();
    e.pinned_host_key = EndpointText(raw_, "ssh_host_key");
    const rapidjson::Value* first = raw_.Raw("_first_contact");
    e.accept_new_host_key = first != nullptr && first->IsBool() && first->GetBool();
    const auto& sets = ctx_.assignment().credential_sets;
    if (!sets.empty()) {
      e.user = sets.front().credentials.username;
      // A set's secret is a private key when it looks like one, else a password.
      const std::string& secret = sets.front().credentials.password;
      (secret.find("PRIVATE KEY-----") != std::string::npos ? e.private_key_pem : e.password) = secret;
    }
    return e;
  }

  Result<std::string> VcenterBuild() {
    auto product = vcenter_.ReadObject(target_.host, {"config.product"});
    if (!product) return product.error();
    const auto& props = product->objects.front().props;
    auto it = props.find("config.product");
    const std::string build = it == props.end() ? "" : vsphere::TrimmedText(vsphere::Child(it->second, "build"));
    if (build.empty()) return MakeError("vsphere.schema", Host() + ": vCenter reports no config.product.build");
    return build;
  }

  // `esxcli <args>` on the host: its stdout, or its failure with esxcli's own words.
  Result<std::string> Esxcli(ssh::RemoteShell& sh, std::vector<std::string> args, milliseconds timeout) {
    args.insert(args.begin(), "esxcli");
    auto r = sh.Run(args, timeout);
    if (!r) return r.error();
    if (r->exit_status != 0) {
      std::string why = !r->err.empty() ? r->err : r->out;
      while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
      return MakeError("esxi.esxcli_failed", fmt::format("{}: `esxcli {} {}` failed ({}): {}", Host(), args[1], args[2],
                                                         r->exit_status, why.substr(0, 1000)));
    }
    return r->out;
  }

  StepOutcome RebootAndProve(const std::string& build_before, bool service_restored) {
    ctx_.Progress(60, fmt::format("rebooting {} into the new image", Host()));
    RebootParams reboot;
    reboot.timeout = p_.timeout;
    auto rebooted = RebootHost(ctx_, vcenter_, target_, reboot, cp_);
    if (rebooted.kind != StepOutcome::Kind::kSucceeded) return rebooted;
    auto after = VcenterBuild();
    if (!after) return StepOutcome::Failed(after.error());
    const std::string& expected = cp_.target;  // saved with "updating" and kept through the reboot's phases
    if (!expected.empty() && *after != expected) {
      return StepOutcome::Failed(MakeError("esxi.unverified", fmt::format("{} rebooted, and vCenter reports build {}, not {}: the "
                                                                          "upgrade did not take", Host(), *after, expected)));
    }
    const std::string note = fmt::format("{} runs build {} ({})", Host(), *after, p_.profile);
    ctx_.Event(LogLevel::kInfo, note);
    return Done("upgraded", note, build_before, *after, service_restored, rebooted.result_json);
  }

  StepOutcome Done(const std::string& outcome, const std::string& note, const std::string& before, const std::string& after,
                   bool service_restored, const std::string& reboot_json) {
    ctx_.Progress(100, note);
    const std::initializer_list<std::pair<const char*, std::string>> fields = {
        {"outcome", outcome}, {"host", target_.host.value}, {"host_name", Host()}, {"profile", p_.profile}, {"depot", p_.depot},
        {"build_before", before}, {"build_after", after}, {"ssh_host_key", host_key_}, {"note", note}};
    const std::initializer_list<std::pair<const char*, bool>> flags = {{"ssh_host_key_new", host_key_new_},
                                                                       {"ssh_service_restored", service_restored}};
    if (reboot_json.empty()) return StepOutcome::Succeeded(JsonObject(fields, flags));
    return StepOutcome::Succeeded(JsonObject(fields, flags, {{"reboot", reboot_json}}));
  }

  const agent::Params& raw_;
  UpgradeParams p_;
  const ShellConnector& connect_;
  std::string host_key_;
  bool host_key_new_ = false;
};

}  // namespace

StepOutcome RunUpgrade(agent::StepContext& ctx, http::Client& http, const ShellConnector& connect) {
  auto in = ReadHostStepInput(ctx);
  if (!in) return StepOutcome::Failed(in.error());
  auto p = ParseParams(in->params);
  if (!p) return StepOutcome::Failed(p.error());
  if (ctx.assignment().credential_sets.empty()) {
    return StepOutcome::Failed(MakeError("step.credentials", in->target.host_name + ": no SSH credential set for this host"));
  }
  VcenterSession vcenter(http, in->target.endpoint);
  if (auto st = vcenter.Login(); !st) return StepOutcome::Failed(st.error());
  return UpgradeRun(ctx, vcenter.client(), in->target, in->params, std::move(*p), connect).Run();
}

}  // namespace dcops::esxi
