#include "bmc.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "dcops/common/clock.hpp"

namespace dcops::sim {

const char* PowerName(Power p) {
  switch (p) {
    case Power::kOn: return "On";
    case Power::kOff: return "Off";
    case Power::kPoweringOn: return "PoweringOn";
    case Power::kPoweringOff: return "PoweringOff";
  }
  return "Off";
}

Bmc::Bmc(Identity identity, Timing timing, int session_cap, std::string username,
         std::string password, std::uint64_t seed)
    : identity_(std::move(identity)), timing_(timing), session_cap_(session_cap),
      username_(std::move(username)), password_(std::move(password)), rng_(seed) {
  inventory_ = MakeInventory(identity_.index, identity_.cpu_count, identity_.cpu_model,
                             identity_.memory_gib, identity_.bmc_firmware, identity_.bios_version, rng_);
  // iDRAC9 6.x serves virtual media under the system; older firmware under the manager.
  if (identity_.legacy_reset_types) {
    media_ = {{"CD", {"CD", "DVD"}, false, ""}, {"RemovableDisk", {"USBStick"}, false, ""}};
  } else {
    media_ = {{"1", {"CD", "DVD"}, false, ""}, {"2", {"USBStick"}, false, ""}};
  }
  bios_ = {{"BootMode", "\"Uefi\""},          {"LogicalProc", "\"Enabled\""},
           {"ProcVirtualization", "\"Enabled\""}, {"SysProfile", "\"PerfPerWattOptimizedDapc\""},
           {"MemTest", "\"Disabled\""},         {"SerialComm", "\"OnNoConRedir\""},
           {"ProcCStates", "\"Enabled\""},      {"NumLock", "\"On\""},
           {"AcPwrRcvryUserDelay", "60"}};
  idrac_attrs_ = {{"NTPConfigGroup.1.NTPEnable", "\"Disabled\""}, {"NTPConfigGroup.1.NTP1", "\"\""},
                  {"NTPConfigGroup.1.NTP2", "\"\""},             {"Time.1.Timezone", "\"UTC\""},
                  {"IPv4.1.DHCPEnable", "\"Enabled\""},          {"SNMP.1.AgentEnable", "\"Enabled\""},
                  {"SNMP.1.AgentCommunity", "\"public\""},      {"WebServer.1.Enable", "\"Enabled\""},
                  {"Info.1.Version", "\"" + identity_.bmc_firmware + "\""}};
  AppendLog("sel", {"", "", "OK", "", "Log cleared.", "Event Logging Disabled", "Log Area Reset/Cleared"});
}

Inventory Bmc::inventory() const {
  std::lock_guard lock(mu_);
  return inventory_;
}

std::string Bmc::LcStatus(SimTime now) {
  std::lock_guard lock(mu_);
  Advance(now);
  // The Lifecycle Controller is busy while a job runs.
  return jobs_.AnyRunning() ? "NotReady" : lc_status_;
}

void Bmc::SetLcStatus(std::string status) {
  std::lock_guard lock(mu_);
  lc_status_ = std::move(status);
}

void Bmc::SetDriveFailing(std::size_t drive, bool failing) {
  std::lock_guard lock(mu_);
  if (drive >= inventory_.drives.size()) return;
  inventory_.drives[drive].predicted_failure = failing;
  inventory_.drives[drive].health = failing ? "Warning" : "OK";
}

void Bmc::Enter(bool mutating) {
  std::lock_guard lock(mu_);
  ++counters_.requests;
  ++counters_.concurrent;
  counters_.concurrent_high = std::max(counters_.concurrent_high, counters_.concurrent);
  if (mutating) {
    ++counters_.mutating;
    counters_.mutating_high = std::max(counters_.mutating_high, counters_.mutating);
  }
}

void Bmc::Leave(bool mutating) {
  std::lock_guard lock(mu_);
  --counters_.concurrent;
  if (mutating) --counters_.mutating;
}

bool Bmc::RollFault() {
  std::lock_guard lock(mu_);
  if (faults_.error_rate <= 0) return false;
  return std::uniform_real_distribution<double>(0, 1)(rng_) < faults_.error_rate;
}

Faults Bmc::faults() const {
  std::lock_guard lock(mu_);
  return faults_;
}

void Bmc::SetFaults(const Faults& f) {
  std::lock_guard lock(mu_);
  faults_ = f;
}

bool Bmc::CheckPassword(const std::string& user, const std::string& password) {
  std::lock_guard lock(mu_);
  const bool ok = user == username_ && password == password_;
  if (!ok) ++counters_.unauthorized;
  return ok;
}

std::optional<std::string> Bmc::CreateSession(const std::string& user, SimTime now) {
  std::lock_guard lock(mu_);
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    it = (now - it->second.last_used > session_timeout_) ? sessions_.erase(it) : std::next(it);
  }
  if (static_cast<int>(sessions_.size()) >= session_cap_) {
    ++counters_.sessions_refused;
    return std::nullopt;
  }
  std::uniform_int_distribution<std::uint64_t> d;
  const std::string token = fmt::format("{:016x}{:016x}", d(rng_), d(rng_));
  sessions_[token] = Session{std::to_string(next_session_++), user, now};
  AppendLog("lifecycle", {"", "", "OK", "USR0030", fmt::format("Successfully logged in using {}, from 127.0.0.1 and REDFISH.", user), "", ""});
  ++counters_.sessions_created;
  counters_.sessions_high = std::max(counters_.sessions_high, static_cast<int>(sessions_.size()));
  return token;
}

bool Bmc::ValidSession(const std::string& token, SimTime now) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(token);
  if (it == sessions_.end() || now - it->second.last_used > session_timeout_) {
    ++counters_.unauthorized;
    return false;
  }
  it->second.last_used = now;
  return true;
}

bool Bmc::DeleteSession(const std::string& id) {
  std::lock_guard lock(mu_);
  for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
    if (it->second.id == id) {
      sessions_.erase(it);
      return true;
    }
  }
  return false;
}

std::string Bmc::SessionIdOf(const std::string& token) const {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(token);
  return it == sessions_.end() ? std::string() : it->second.id;
}

int Bmc::SessionCount(SimTime now) {
  std::lock_guard lock(mu_);
  return static_cast<int>(std::count_if(sessions_.begin(), sessions_.end(), [&](const auto& s) {
    return now - s.second.last_used <= session_timeout_;
  }));
}

void Bmc::Advance(SimTime now) {
  for (const auto& job : jobs_.Advance(now)) Finish(job, now);
  if (!target_) return;
  if (power_ == Power::kPoweringOff && *target_ == Power::kOn && now >= restart_off_until_) {
    power_ = Power::kPoweringOn;  // a restart passes through off, then comes back
  }
  if (now >= transition_done_) {
    power_ = *target_;
    target_.reset();
    if (power_ == Power::kOff) last_off_ = transition_done_;
    if (power_ == Power::kOn) Booted();
  }
}

void Bmc::StartTransition(Power target, milliseconds how_long, SimTime now, bool through_off) {
  // Wall-clock time with milliseconds, so two resets within a second still differ.
  last_reset_time_ = FormatUtc(std::chrono::system_clock::now());
  target_ = target;
  transition_done_ = now + how_long;
  // Lifecycle Controller jobs scheduled for the next reboot run while the host POSTs.
  if (target == Power::kOn) jobs_.HostReset(now + how_long / 2);
  if (through_off) {
    power_ = Power::kPoweringOff;
    restart_off_until_ = now + how_long / 2;
  } else {
    power_ = target == Power::kOn ? Power::kPoweringOn : Power::kPoweringOff;
  }
}

Power Bmc::PowerState(SimTime now) {
  std::lock_guard lock(mu_);
  Advance(now);
  return power_;
}

std::string Bmc::LastResetTime() const {
  std::lock_guard lock(mu_);
  return last_reset_time_;
}

std::vector<std::string> Bmc::AllowedResetTypes() const {
  if (identity_.legacy_reset_types) {
    return {"On", "ForceOff", "ForceRestart", "GracefulShutdown", "PushPowerButton", "Nmi"};
  }
  return {"On", "ForceOff", "ForceRestart", "GracefulRestart", "GracefulShutdown",
          "PushPowerButton", "Nmi", "PowerCycle"};
}

ActionAnswer Bmc::Reset(const std::string& type, SimTime now) {
  const auto allowed = AllowedResetTypes();
  std::lock_guard lock(mu_);
  Advance(now);
  auto refuse = [&](int status, std::string id, std::string message) {
    ++counters_.refused_actions;
    return ActionAnswer{status, std::move(id), std::move(message)};
  };
  if (std::find(allowed.begin(), allowed.end(), type) == allowed.end()) {
    return refuse(400, "Base.1.8.PropertyValueNotInList",
                  fmt::format("The value {} for the property ResetType is not in the list of "
                              "acceptable values.", type));
  }
  const bool on = power_ == Power::kOn || power_ == Power::kPoweringOn;
  const bool transitioning = target_.has_value();
  if (type == "On") {
    if (on) return refuse(409, "IDRAC.2.8.PSU501", "Server is already powered ON.");
    if (transitioning || (last_off_ && now - *last_off_ < timing_.on_after_off_guard)) {
      return refuse(409, "IDRAC.2.8.PSU503",
                    "Unable to power on the server because it was powered off moments ago. "
                    "Retry the operation after the power state settles.");
    }
    StartTransition(Power::kOn, timing_.power_on, now, false);
  } else if (type == "ForceOff" || type == "GracefulShutdown" || type == "PushPowerButton") {
    if (!on) return refuse(409, "IDRAC.2.8.PSU502", "Server is already powered OFF.");
    if (type == "GracefulShutdown" && faults_.ignores_graceful) {
      // Accepted, and nothing happens: the OS did not act on the ACPI request.
    } else {
      StartTransition(Power::kOff, type == "ForceOff" ? timing_.power_off : timing_.graceful_shutdown,
                      now, false);
    }
  } else if (type == "ForceRestart" || type == "GracefulRestart" || type == "PowerCycle") {
    if (!on || transitioning) {
      return refuse(409, "IDRAC.2.8.PSU502", "Server is powered OFF or changing state.");
    }
    StartTransition(Power::kOn, timing_.restart, now, true);
  }  // Nmi: accepted, no state change
  ++counters_.actions;
  if (type != "Nmi" && !(type == "GracefulShutdown" && faults_.ignores_graceful)) {
    ++counters_.effective_resets;
  }
  ++counters_.resets_by_type[type];
  if (type == "On") {
    AppendLog("lifecycle", {"", "", "OK", "SYS1000", "System is turning on.", "", ""});
  } else if (type != "Nmi") {
    AppendLog("lifecycle", {"", "", "OK", type.find("Restart") != std::string::npos || type == "PowerCycle" ? "SYS1003" : "SYS1001",
                            type.find("Restart") != std::string::npos || type == "PowerCycle" ? "System CPU Resetting." : "System is turning off.", "", ""});
  }
  return ActionAnswer{204, "", ""};
}

void Bmc::ForcePower(Power p, SimTime now) {
  std::lock_guard lock(mu_);
  target_.reset();
  power_ = p;
  if (p == Power::kOff) last_off_ = now - timing_.on_after_off_guard;  // long off: no 409
}

Counters Bmc::counters() const {
  std::lock_guard lock(mu_);
  return counters_;
}

void Bmc::ResetCounters() {
  std::lock_guard lock(mu_);
  const int concurrent = counters_.concurrent, mutating = counters_.mutating;
  counters_ = Counters{};
  counters_.concurrent = concurrent;
  counters_.mutating = mutating;
  counters_.sessions_high = static_cast<int>(sessions_.size());
}

}  // namespace dcops::sim
