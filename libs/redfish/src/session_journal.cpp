#include "dcops/redfish/session_journal.hpp"

#include <fcntl.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>

namespace dcops::redfish {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void Str(Writer& w, const char* key, const std::string& value) {
  w.Key(key);
  w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
}

std::string OpenLine(const JournaledSession& s) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  Str(w, "op", "open");
  Str(w, "address", s.address);
  Str(w, "token", s.token);
  Str(w, "location", s.location);
  w.Key("verify");
  w.Bool(s.tls.verify);
  Str(w, "ca_file", s.tls.ca_file);
  Str(w, "pin", s.tls.pinned_sha256);
  w.Key("legacy");
  w.Bool(s.tls.legacy);
  w.Key("opened_at");
  w.Int64(s.opened_at);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize()) + "\n";
}

std::string CloseLine(const std::string& address, const std::string& token) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  Str(w, "op", "close");
  Str(w, "address", address);
  Str(w, "token", token);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize()) + "\n";
}

std::string Field(const rapidjson::Document& d, const char* key) {
  return d.HasMember(key) && d[key].IsString() ? std::string(d[key].GetString(), d[key].GetStringLength()) : "";
}

bool WriteAll(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<FileSessionJournal>> FileSessionJournal::Recover(const std::string& path,
                                                                         std::vector<JournaledSession>* left_open) {
  // One live owner per journal: a second worker under the same id (and state directory) would
  // otherwise log out the sessions the first is using. The lock is on a file beside the journal,
  // which compaction replaces.
  const std::string lock_path = path + ".lock";
  const int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) return MakeError("config.state_dir", "cannot write " + lock_path + ": " + std::strerror(errno));
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd);
    return MakeError("journal.in_use", path + " is in use by another running worker with this agent id: give each "
                                              "worker its own DCOPS_AGENT_ID or DCOPS_STATE_DIR");
  }
  // Replay: the key is address + token, so a close matches exactly the session it ends.
  std::map<std::string, JournaledSession> open;
  std::vector<std::string> order;
  {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      rapidjson::Document d;
      d.Parse(line.c_str());
      if (d.HasParseError() || !d.IsObject()) continue;  // a line torn by the crash
      const std::string key = Field(d, "address") + " " + Field(d, "token");
      if (Field(d, "op") == "close") {
        open.erase(key);
        continue;
      }
      JournaledSession s{Field(d, "address"), Field(d, "token"), Field(d, "location"), {}, 0};
      s.tls.verify = !d.HasMember("verify") || !d["verify"].IsBool() || d["verify"].GetBool();
      s.tls.ca_file = Field(d, "ca_file");
      s.tls.pinned_sha256 = Field(d, "pin");
      s.tls.legacy = d.HasMember("legacy") && d["legacy"].IsBool() && d["legacy"].GetBool();
      s.opened_at = d.HasMember("opened_at") && d["opened_at"].IsInt64() ? d["opened_at"].GetInt64() : 0;
      if (s.address.empty() || s.token.empty()) continue;
      if (open.emplace(key, s).second) order.push_back(key);
    }
  }
  std::string compacted;
  for (const auto& key : order) {
    auto it = open.find(key);
    if (it == open.end()) continue;
    compacted += OpenLine(it->second);
    if (left_open != nullptr) left_open->push_back(it->second);
  }
  // Compaction: write beside, then rename over, so a crash now leaves one whole file or the other.
  const std::string tmp = path + ".tmp";
  const int out = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out < 0) {
    ::close(lock_fd);
    return MakeError("config.state_dir", "cannot write " + tmp + ": " + std::strerror(errno));
  }
  const bool written = WriteAll(out, compacted) && ::fsync(out) == 0;
  ::close(out);
  const int fd = written && ::rename(tmp.c_str(), path.c_str()) == 0
                     ? ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC)
                     : -1;
  if (fd < 0) {
    const std::string why = std::strerror(errno);
    ::close(lock_fd);
    return MakeError("config.state_dir", "cannot replace " + path + ": " + why);
  }
  ::fchmod(fd, 0600);
  return std::unique_ptr<FileSessionJournal>(new FileSessionJournal(path, fd, lock_fd));
}

FileSessionJournal::~FileSessionJournal() {
  ::close(fd_);
  ::close(lock_fd_);  // releases the lock
}

void FileSessionJournal::Append(const std::string& line) {
  std::lock_guard lock(mu_);
  // A failed write loses only the successor's chance to log this session out early; the BMC
  // still expires it. It is counted for the owner to report; the step is not failed for it.
  if (!WriteAll(fd_, line)) ++failed_writes_;
}

void FileSessionJournal::Opened(const JournaledSession& s) { Append(OpenLine(s)); }

void FileSessionJournal::Closed(const std::string& address, const std::string& token) {
  Append(CloseLine(address, token));
}

}  // namespace dcops::redfish
