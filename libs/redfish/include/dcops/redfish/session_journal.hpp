#pragma once
// Where an agent records the Redfish sessions it opens, so that its successor (after a crash,
// an OOM kill or kill -9) logs them out instead of leaving them on the BMC until its idle
// timeout (30 minutes on an iDRAC, whose cap is a handful of sessions): a worker killed
// repeatedly must never lock dcops out of a BMC.
//
// The file is an append-only list of JSON lines ("open" with what a DELETE needs, "close"),
// compacted when recovered. It holds session tokens (never passwords): created 0600, in the
// agent's private state directory; a token is worth nothing after the BMC's idle timeout.
//
// Ownership: FileSessionJournal owns its file descriptor. Thread-safety: every method is safe
// from many threads. Blocking: each call is one small write(2) to a local file.

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "dcops/common/result.hpp"
#include "dcops/http/options.hpp"

namespace dcops::redfish {

// What deleting a session needs, and when it was opened (Unix seconds, to forget sessions the
// BMC has surely expired).
struct JournaledSession {
  std::string address;
  std::string token;     // secret
  std::string location;  // "/redfish/v1/SessionService/Sessions/12"
  http::TlsOptions tls;
  std::int64_t opened_at = 0;
};

class SessionJournal {
 public:
  virtual ~SessionJournal() = default;
  virtual void Opened(const JournaledSession& s) = 0;
  virtual void Closed(const std::string& address, const std::string& token) = 0;
};

class FileSessionJournal final : public SessionJournal {
 public:
  // Reads what a predecessor left at `path` (sessions opened and not closed; a torn last line
  // is ignored), rewrites the file with exactly those, and keeps it open for appending. Fails
  // while another live journal holds `path` (an exclusive lock on `path`.lock).
  static Result<std::unique_ptr<FileSessionJournal>> Recover(const std::string& path,
                                                              std::vector<JournaledSession>* left_open);
  ~FileSessionJournal() override;
  FileSessionJournal(const FileSessionJournal&) = delete;
  FileSessionJournal& operator=(const FileSessionJournal&) = delete;

  void Opened(const JournaledSession& s) override;
  void Closed(const std::string& address, const std::string& token) override;
  // Appends that failed (a full disk, say) since the journal was opened: each is a session a
  // successor may not find. The owner reports them; the steps are not failed for it.
  long failed_writes() const { return failed_writes_.load(); }

 private:
  FileSessionJournal(std::string path, int fd, int lock_fd) : path_(std::move(path)), fd_(fd), lock_fd_(lock_fd) {}
  void Append(const std::string& line);

  std::string path_;
  std::mutex mu_;
  int fd_;
  int lock_fd_;  // holds an exclusive flock for the journal's life
  std::atomic<long> failed_writes_{0};
};

}  // namespace dcops::redfish
