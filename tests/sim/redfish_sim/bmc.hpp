#pragma once
// One simulated BMC's state, protocol-independent: identity, power state machine, sessions,
// faults and counters. The HTTP layer (routes.cpp) turns requests into calls here.
//
// Time is passed in (a steady time point), so the state machine is tested without waiting.
// Thread-safety: every public method locks; one Bmc is shared by its server's threads.

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "image_fetcher.hpp"
#include "inventory.hpp"
#include "job_queue.hpp"
#include "vendor.hpp"

namespace dcops::sim {

using SimTime = std::chrono::steady_clock::time_point;
using std::chrono::milliseconds;

struct Timing {
  milliseconds power_on{1500};         // Off -> On
  milliseconds power_off{500};         // ForceOff
  milliseconds graceful_shutdown{3000};
  milliseconds restart{2000};          // ForceRestart / GracefulRestart / PowerCycle
  // A power-on within this long of a power-off is refused with 409 (real iDRACs do this).
  milliseconds on_after_off_guard{60000};
  milliseconds job_run{3000};        // a Lifecycle Controller job, once it runs
  milliseconds idrac_restart{5000};  // the iDRAC is unreachable this long after a reset
  milliseconds download{1000};       // a SimpleUpdate's package downloads at least this long
};

// Boot settings of the ComputerSystem.
struct BootState {
  std::string override_target = "None";      // BootSourceOverrideTarget
  std::string override_enabled = "Disabled";  // Disabled / Once / Continuous
  std::vector<std::string> order{"Boot0003", "Boot0004", "Boot0005", "Boot0006"};
  std::string last_boot_source = "Hdd";       // what the host booted from last (tests read it)
};

// One virtual media device.
struct MediaSlot {
  std::string id;          // "1" (CD) / "2" (USB stick), or "CD" / "RemovableDisk" on old firmware
  std::vector<std::string> media_types;
  bool inserted = false;
  std::string image;
};

// One update a catalog offers this server (Dell DCIM_RepoUpdateSWID).
struct RepoUpdate {
  std::string display_name;
  std::string package;  // file name in the catalog
  std::string version;  // the catalog's
  std::string installed;
  std::string component;  // Dell component id
  std::string reboot_type;  // "HC" (host reboot) or "NONE"
  std::string job_id;       // once applied
};

// One SEL or Lifecycle log record (Redfish LogEntry).
struct SimLogEntry {
  std::string id;       // record number, from 1
  std::string created;  // ISO 8601 with the iDRAC's UTC offset ("2026-11-27T10:00:05+00:00")
  std::string severity;  // OK / Warning / Critical
  std::string message_id;
  std::string message;
  std::string sensor_type;  // SEL only
  std::string entry_code;   // SEL only
};

enum class Mode {
  kNormal,
  kHtml,       // answers every authenticated GET with an HTML error page
  kTruncated,  // answers every authenticated GET with truncated JSON
  kNotReady,   // answers with 503 SYS518-style "not ready" messages
};

struct Faults {
  Mode mode = Mode::kNormal;
  double error_rate = 0.0;      // share of requests answered 503 at random
  milliseconds latency{0};      // added to every request
  milliseconds mutating_latency{0};  // added again to every request but a GET (an action, a
                                     // login: real iDRACs take seconds over those)
  bool ignores_graceful = false;  // the OS ignores ACPI: GracefulShutdown never completes
  bool looping_next_link = false;  // a log page's Members@odata.nextLink names the page itself
};

struct Identity {
  std::string address;  // 127.0.1.x
  Vendor vendor = Vendor::kDell;  // the make whose documents this BMC serves (vendor.hpp)
  std::string service_tag;        // Dell only; "" for other makes (no Oem/Dell block)
  std::string manufacturer = "Dell Inc.";  // ComputerSystem.Manufacturer
  std::string sku;                // ComputerSystem.SKU of other makes ("" leaves it out); a
                                  // Dell's SKU is its service tag
  std::string model;              // "" leaves ComputerSystem.Model out
  std::string bmc_firmware;
  std::string bios_version;
  std::string serial;
  std::string uuid;
  std::string hostname;
  bool legacy_reset_types = false;  // old iDRAC9 firmware: no GracefulRestart / PowerCycle,
                                    // no $expand (it ignores the query and answers links)
  int index = 0;                    // position in the fleet (shapes the inventory)
  int cpu_count = 2;
  std::string cpu_model;
  int memory_gib = 256;
};

// Whether a file's first bytes are an update package's: a Dell DUP is a signed Windows
// executable (MZ) or a Linux script (#!). Anything else fails its signature check (RED004).
inline bool IsUpdatePackage(const std::string& head) { return head.rfind("MZ", 0) == 0 || head.rfind("#!", 0) == 0; }

enum class Power { kOn, kOff, kPoweringOn, kPoweringOff };
const char* PowerName(Power p);

struct Counters {
  long requests = 0;
  long unauthorized = 0;
  long actions = 0;            // Reset POSTs accepted
  long effective_resets = 0;   // accepted actions that changed the power state
  long refused_actions = 0;    // 409 / 400 answers to actions
  int concurrent = 0;
  int concurrent_high = 0;
  int mutating = 0;        // mutating requests being served now (route_support.hpp IsMutating)
  int mutating_high = 0;
  int sessions_high = 0;
  long sessions_created = 0;
  long sessions_refused = 0;   // 503 RAC0218
  std::map<std::string, long> resets_by_type;
  long idrac_resets = 0;
  long images_fetched = 0;        // SimpleUpdate packages downloaded
  long image_fetch_failures = 0;  // ... and downloads that failed
  long image_bytes = 0;
};

// The outcome of an action, as the HTTP layer will answer it.
struct ActionAnswer {
  int status = 204;
  std::string message_id;  // for errors
  std::string message;
};

class Bmc {
 public:
  Bmc(Identity identity, Timing timing, int session_cap, std::string username,
      std::string password, std::uint64_t seed);

  const Identity& identity() const { return identity_; }

  // Request accounting (the HTTP layer calls Enter/Leave around every request).
  void Enter(bool mutating = false);
  void Leave(bool mutating = false);
  // True when this request should fail at random (fault injection).
  bool RollFault();
  Faults faults() const;
  void SetFaults(const Faults& f);

  bool CheckPassword(const std::string& user, const std::string& password);
  // A new session token, or nullopt when the cap is reached (503 RAC0218).
  std::optional<std::string> CreateSession(const std::string& user, SimTime now);
  bool ValidSession(const std::string& token, SimTime now);
  bool DeleteSession(const std::string& id);
  std::string SessionIdOf(const std::string& token) const;
  int SessionCount(SimTime now);

  Power PowerState(SimTime now);
  // Redfish LastResetTime (ISO 8601, UTC): when the last reset or power change began.
  std::string LastResetTime() const;
  std::vector<std::string> AllowedResetTypes() const;
  ActionAnswer Reset(const std::string& reset_type, SimTime now);
  // Test/control hook: force a power state now (no counters).
  void ForcePower(Power p, SimTime now);

  Counters counters() const;
  void ResetCounters();

  Inventory inventory() const;
  bool SupportsExpand() const { return !identity_.legacy_reset_types; }
  // Dell LC service: "Ready", or "NotReady" while the Lifecycle Controller is busy.
  std::string LcStatus(SimTime now);
  void SetLcStatus(std::string status);
  // Test hook: change a drive's predicted-failure flag and health.
  void SetDriveFailing(std::size_t drive, bool failing);

  // --- iDRAC operations (bmc_ops.cpp) ---
  // UpdateService.SimpleUpdate: queues a job that downloads the package first (the HTTP layer
  // fetches it and calls DownloadFinished). A fetched package's first bytes say whether it is
  // one (MZ / #!), its file name what it updates ("BIOS_8T4P1_WN64_1.13.2.EXE",
  // "iDRAC-with-Lifecycle-Controller_Firmware_1HY5M_WN64_7.10.30.00_A00.EXE"); host components
  // then wait for a reboot, the iDRAC's own update restarts it.
  ActionAnswer SimpleUpdate(const std::string& image_uri, SimTime now, std::string* job_id);
  // The download of job `job_id` ended: a failed one fails the job with the iDRAC's message
  // once Timing::download has passed; a good one schedules the update.
  void DownloadFinished(const std::string& job_id, const FetchOutcome& outcome, SimTime now);
  // Manager.Reset: the iDRAC restarts; it is unreachable for Timing::idrac_restart and forgets
  // every session.
  ActionAnswer ResetManager(const std::string& type, SimTime now);
  bool Down(SimTime now);
  // Lock-free hint for the fleet's watcher: a restart began since it last looked.
  bool TakeRestartFlag() { return restart_flag_.exchange(false); }
  // Also raised on every restart, so a fleet's watcher scans its BMCs only when one began.
  void SetRestartSignal(std::atomic<bool>* signal) { restart_signal_ = signal; }
  std::string ManagerLastResetTime() const;
  std::string FirmwareVersion(const std::string& component) const;
  ActionAnswer ClearJobQueue(const std::string& job_id);  // JID_CLEARALL / JID_CLEARALL_FORCE
  std::vector<SimJob> Jobs(SimTime now);
  std::optional<SimJob> Job(const std::string& id, SimTime now);
  BootState Boot() const;
  // PATCH of ComputerSystem.Boot; unset fields are left alone.
  ActionAnswer PatchBoot(const std::optional<std::string>& target, const std::optional<std::string>& enabled,
                         const std::optional<std::vector<std::string>>& order);
  std::vector<std::string> AllowedBootTargets() const;
  std::vector<MediaSlot> VirtualMedia() const;
  ActionAnswer InsertMedia(const std::string& slot, const std::string& image);
  ActionAnswer EjectMedia(const std::string& slot);
  // iDRAC attributes (raw JSON values); applied at once. Read-only ones ("Info.1.*") and
  // unknown names are refused.
  std::map<std::string, std::string> IdracAttributes() const;
  ActionAnswer PatchIdracAttributes(const std::map<std::string, std::string>& attributes);
  // BIOS attributes as raw JSON values ("\"Enabled\"", "3").
  std::map<std::string, std::string> BiosAttributes() const;
  std::map<std::string, std::string> PendingBios() const;
  // PATCH Bios/Settings with an apply time: queues a BIOSConfiguration job that runs at the
  // next host reset ("Immediate" resets the host now).
  ActionAnswer PatchBios(const std::map<std::string, std::string>& attributes, const std::string& apply_time,
                         SimTime now, std::string* job_id);

  // --- logs, configuration profiles, pushed packages (bmc_config.cpp) ---
  // "sel" or "lifecycle", newest first. The SEL keeps 1,024 records and wraps.
  std::vector<SimLogEntry> Log(const std::string& log) const;
  // Appends a record (id and time assigned here); test/control hook and the BMC's own events.
  void AddLogEntry(const std::string& log, SimLogEntry entry);
  // Dell ExportSystemConfiguration: a job whose output is the profile (XML or JSON) of the
  // components `target` names ("ALL", or "BIOS,IDRAC").
  ActionAnswer ExportProfile(const std::string& format, const std::string& target, SimTime now,
                             std::string* job_id);
  // Dell ImportSystemConfiguration(Preview): a job that checks the profile, and (not a preview)
  // applies what differs: iDRAC attributes at once, BIOS attributes through a host reboot
  // (ShutdownType Graceful/Forced reboots now; NoReboot waits for the next one).
  ActionAnswer ImportProfile(const std::string& buffer, const std::string& shutdown_type,
                             const std::string& end_power_state, bool preview, SimTime now, std::string* job_id);
  // A package pushed to MultipartHttpPushUri: an update job as SimpleUpdate's, for the file
  // name; content that is not a Dell package (no "MZ"/"#!" header) fails its signature check.
  ActionAnswer PushUpdate(const std::string& filename, const std::string& content, SimTime now,
                          std::string* job_id);
  // DellSoftwareInstallationService.InstallFromRepository with the catalog the HTTP layer
  // fetched (`catalog` empty and `fetch_error` set when it could not): a repository job that
  // compares the catalog with the installed firmware; with `apply`, one update job per
  // applicable package (the iDRAC's after the host's), and `reboot` restarts the host now.
  ActionAnswer InstallFromRepository(const std::string& catalog, const std::string& fetch_error, bool apply,
                                     bool reboot, SimTime now, std::string* job_id);
  // What the last repository job found (GetRepoBasedUpdateList); nullopt before any.
  std::optional<std::vector<RepoUpdate>> RepoUpdates(SimTime now);

 private:
  void Advance(SimTime now);  // completes transitions and jobs whose time has come
  void Finish(const SimJob& job, SimTime now);  // applies a finished job's effect
  void Booted();              // the host came up: a one-time boot override is spent
  void AppendLog(const std::string& log, SimLogEntry entry);  // mu_ held
  // 503 SYS518 (counted as refused) while an LC job runs or the LC is not ready; mu_ held.
  std::optional<ActionAnswer> RefuseWhileBusy();
  // Queues a firmware job for a package (mu_ held); shared by SimpleUpdate and PushUpdate.
  ActionAnswer QueueUpdate(const std::string& package_name, bool signed_package, SimTime now, std::string* job_id);
  SimJob PlanUpdate(const std::string& package_name, bool signed_package) const;
  void LogUpdating(const SimJob& job);
  void StartTransition(Power target, milliseconds how_long, SimTime now, bool through_off);

  mutable std::mutex mu_;
  Identity identity_;
  Timing timing_;
  int session_cap_;
  std::string username_;
  std::string password_;
  std::mt19937_64 rng_;
  Faults faults_;
  Counters counters_;
  Inventory inventory_;
  std::string lc_status_ = "Ready";
  JobQueue jobs_;
  BootState boot_;
  std::vector<MediaSlot> media_;
  std::map<std::string, std::string> bios_;
  std::map<std::string, std::string> bios_pending_;
  std::map<std::string, std::string> idrac_attrs_;
  std::optional<std::vector<RepoUpdate>> repo_updates_;
  std::vector<SimLogEntry> sel_;      // oldest first
  std::vector<SimLogEntry> lclog_;    // oldest first
  long next_sel_ = 1;
  long next_lc_ = 1;
  SimTime down_until_{};
  std::atomic<bool> restart_flag_{false};
  std::atomic<bool>* restart_signal_ = nullptr;
  void FlagRestart() {  // mu_ held
    restart_flag_ = true;
    if (restart_signal_ != nullptr) restart_signal_->store(true);
  }
  std::string manager_last_reset_ = "2026-01-01T00:00:00Z";
  Power power_ = Power::kOn;
  std::optional<Power> target_;
  SimTime transition_done_{};
  SimTime restart_off_until_{};  // a restart goes through Off until here
  std::optional<SimTime> last_off_;
  std::string last_reset_time_ = "2026-01-01T00:00:00Z";
  struct Session {
    std::string id;
    std::string user;
    SimTime last_used;
  };
  std::map<std::string, Session> sessions_;  // by token
  long next_session_ = 1;
  milliseconds session_timeout_{1800 * 1000};
};

}  // namespace dcops::sim
