#include "session_hygiene.hpp"

#include <filesystem>

#include "dcops/redfish/client.hpp"

namespace dcops::idrac {

std::string JournalKey(const std::string& agent_id, const std::string& kind, long pid) {
  const std::string suffix = "-" + std::to_string(pid);
  if (agent_id.rfind(kind + "-", 0) == 0 && agent_id.size() > suffix.size() &&
      agent_id.compare(agent_id.size() - suffix.size(), suffix.size(), suffix) == 0) {
    return agent_id.substr(0, agent_id.size() - suffix.size());
  }
  return agent_id;
}

std::string SessionJournalPath(const std::string& state_dir, const std::string& agent_id) {
  std::string name;
  for (char c : agent_id) name += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-') ? c : '_';
  return (std::filesystem::path(state_dir) / ("redfish-sessions-" + name + ".jsonl")).string();
}

namespace {

void AdoptUnheldJournals(const std::string& state_dir, const std::string& own_path, RecoveredJournal& out) {
  // A container recreated (an upgrade, a scale down and up) has a new host name, hence a new
  // journal: the old one's sessions would never be logged out. Any journal no running worker
  // holds is taken over: its open sessions move into this worker's journal first, then the
  // file goes.
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(state_dir, ec)) {
    const std::string name = entry.path().filename().string();
    const std::string path = entry.path().string();
    if (path == own_path || name.rfind("redfish-sessions-", 0) != 0 || entry.path().extension() != ".jsonl") continue;
    std::vector<redfish::JournaledSession> left;
    auto other = redfish::FileSessionJournal::Recover(path, &left);
    if (!other) continue;  // held by a running worker (or unreadable): not ours
    for (const auto& session : left) {
      out.journal->Opened(session);
      out.left_open.push_back(session);
    }
    std::filesystem::remove(path, ec);
    std::filesystem::remove(path + ".lock", ec);
  }
}

}  // namespace

Result<RecoveredJournal> RecoverSessionJournal(const std::string& state_dir, const std::string& agent_id) {
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  if (ec) return MakeError("config.state_dir", "DCOPS_STATE_DIR " + state_dir + ": " + ec.message());
  std::filesystem::permissions(state_dir, std::filesystem::perms::owner_all, std::filesystem::perm_options::replace, ec);
  // The first slot no running worker holds: replicas that share one name (containers on the
  // host's network share its host name, and each is pid 1) and one state volume each take a
  // slot, and a worker started after a crash takes the crashed one's and logs out what it left.
  for (int slot = 1;; ++slot) {
    RecoveredJournal out;
    const std::string key = slot == 1 ? agent_id : agent_id + "-slot" + std::to_string(slot);
    auto journal = redfish::FileSessionJournal::Recover(SessionJournalPath(state_dir, key), &out.left_open);
    if (journal) {
      out.journal = std::move(*journal);
      AdoptUnheldJournals(state_dir, SessionJournalPath(state_dir, key), out);
      return out;
    }
    if (journal.error().code != "journal.in_use" || slot == kMaxJournalSlots) return journal.error();
  }
}


void ReclaimOrphans(http::Client& http, redfish::SessionCache& cache, const Logger& log, const char* when) {
  auto orphans = cache.TakeOrphans();
  if (orphans.empty()) return;
  const auto sweep = redfish::DeleteSessions(http, cache, orphans);
  const LogFields fields{{"logged_out", std::int64_t{sweep.deleted}}, {"unreachable", std::int64_t{sweep.kept}},
                         {"when", std::string(when)}};
  if (sweep.kept == 0) {
    log.Info("Redfish sessions left by an earlier run logged out", {}, fields);
  } else {
    log.Warn("Redfish sessions left by an earlier run could not all be logged out; retried later", {}, fields);
  }
}

void ReportJournalFailures(const redfish::FileSessionJournal* journal, long& reported, const Logger& log) {
  if (journal == nullptr || journal->failed_writes() == reported) return;
  const long now = journal->failed_writes();
  log.Warn("the Redfish session journal could not be written; a restart may leave those sessions on their BMCs",
           {}, {{"failed_writes", std::int64_t{now - reported}}});
  reported = now;
}

}  // namespace dcops::idrac
