#pragma once
// Redfish session hygiene across the worker's lives: the sessions it opens are journaled in its
// state directory; on start it logs out what a killed predecessor left there, and sessions it
// could not log out (the BMC was unreachable) are tried again from the idle sweep. With a
// full cap, the Redfish client itself reclaims this worker's orphans on that BMC first.
//
// Ownership: the returned journal is owned by the caller and must outlive the SessionCache
// built on it. Blocking: Reclaim sends one DELETE per orphan. Thread-safe as the cache is.

#include <memory>
#include <string>
#include <vector>

#include "dcops/common/log.hpp"
#include "dcops/common/result.hpp"
#include "dcops/http/client.hpp"
#include "dcops/redfish/session_cache.hpp"
#include "dcops/redfish/session_journal.hpp"

namespace dcops::idrac {

struct RecoveredJournal {
  std::unique_ptr<redfish::FileSessionJournal> journal;
  std::vector<redfish::JournaledSession> left_open;
};

// The name a worker's journal is kept under: its agent id, except that the default id
// ("<kind>-<host>-<pid>") loses its pid, so a restarted worker finds what the last one left.
std::string JournalKey(const std::string& agent_id, const std::string& kind, long pid);

// The journal file of this key in `state_dir` (created 0700 when missing).
std::string SessionJournalPath(const std::string& state_dir, const std::string& agent_id);

// Opens the journal of `agent_id` in `state_dir`, or, while another running worker holds it,
// the next free slot of that name ("<id>-slot2", …, up to kMaxJournalSlots); what a slot's
// last owner left open comes back in `left_open`. Fails when the directory cannot be written
// or every slot is held.
// Then it adopts every other journal in `state_dir` that no running worker holds (a
// recreated container's old name): their open sessions join `left_open` and this journal,
// and their files are removed.
inline constexpr int kMaxJournalSlots = 64;
Result<RecoveredJournal> RecoverSessionJournal(const std::string& state_dir, const std::string& agent_id);

// Logs out every orphan of `cache` and says how it went: info when all are gone, a warning
// naming how many remain (they are retried later; the BMC expires them meanwhile).
void ReclaimOrphans(http::Client& http, redfish::SessionCache& cache, const Logger& log, const char* when);

// Warns when the journal failed writes since the last report (`reported` is the count then).
void ReportJournalFailures(const redfish::FileSessionJournal* journal, long& reported, const Logger& log);

}  // namespace dcops::idrac
