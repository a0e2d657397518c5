// The stand-in's persistent model: pools, datasets, snapshots, bookmarks, holds and partial
// receives, kept in one text file (`state`) beside a directory of content blobs (`blobs/`), and
// guarded by flock(2) on `lock`.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace zsim {

// A file of a dataset: its bytes live in blobs/<blob> (immutable once written).
struct FileRef {
  std::string blob;
  uint64_t size = 0;
};
using Content = std::map<std::string, FileRef>;

struct Snapshot {
  std::string name;  // short name (after '@')
  uint64_t guid = 0, createtxg = 0, creation = 0;
  Content content;
  std::map<std::string, uint64_t> holds;  // tag -> unix time
};

struct Bookmark {
  std::string name;  // short name (after '#')
  uint64_t guid = 0, createtxg = 0, creation = 0;
};

// A receive -s that stopped early. The completed files of the stream are committed blobs; the
// file being received when it stopped is blobs/partial-<id>-<index>.
struct ResumeState {
  std::string toname;  // the sender's snapshot
  std::string tosnap;  // the destination snapshot's short name
  uint64_t toguid = 0, fromguid = 0, creation = 0;
  uint64_t offset = 0;  // data bytes received and verified
  uint64_t bytes = 0;   // stream bytes received
  uint64_t object = 0;  // index of the file being received
  std::string id;       // names the partial blob
  std::string flags;    // sender flags to carry in the token (e.g. "embedok,compressok")
  bool raw = false;
  std::string encryption = "off";
  std::vector<FileRef> done;  // blobs of the files already complete, in stream order
};

struct Dataset {
  std::string name;
  std::string type = "filesystem";  // or "volume"
  uint64_t guid = 0, createtxg = 0, creation = 0;
  bool modified = false;  // written since the most recent snapshot
  bool inconsistent = false;  // a new dataset created by a receive -s that has not completed
  std::string encryption = "off";
  std::map<std::string, std::string> props;     // local (and user) properties
  std::map<std::string, std::string> received;  // properties set by receive -o
  Content content;
  std::vector<Snapshot> snaps;  // by createtxg
  std::vector<Bookmark> bookmarks;
  std::optional<ResumeState> resume;
  uint64_t volsize = 0;
};

struct Pool {
  std::string name;
  uint64_t guid = 0, txg = 1, size = 10ull << 30, creation = 0;
  std::string health = "ONLINE";
  std::string bad_vdev;  // the vdev set-health applies to (empty: the first)
  std::vector<std::string> vdevs{"sda"};
  uint64_t errors = 0;
  std::string scrub = "none";  // none | finished:<t>:<errors> | running:<pct>[:<start>] | canceled:<t>
  std::map<std::string, bool> features;  // name (without feature@) -> enabled
  uint64_t next_txg() { return ++txg; }
};

struct State {
  std::string dir;
  std::string version = "2.1.11-1";
  uint64_t fault_abort_after = 0;  // 0: none
  bool fault_abort_armed = false;
  uint64_t fault_slow = 0;
  std::map<std::string, Pool> pools;
  std::map<std::string, Dataset> datasets;

  void load();
  void save() const;

  Pool* pool_of(const std::string& name);
  Dataset* ds(const std::string& name);
  Snapshot* snap(const std::string& full);  // "ds@snap"
  Bookmark* bookmark(const std::string& full);  // "ds#bm"
  std::vector<std::string> children(const std::string& name) const;  // direct child datasets
  std::vector<std::string> descendants(const std::string& name) const;  // all, depth-first

  // Space accounting, derived from blob sizes.
  uint64_t referenced(const Content& c) const;
  uint64_t snap_used(const Dataset& d, size_t index) const;
  uint64_t used(const std::string& name) const;
  uint64_t pool_alloc(const std::string& pool) const;
  uint64_t available(const std::string& pool) const;

  std::string blob_path(const std::string& blob) const { return dir + "/blobs/" + blob; }
  void gc_blobs() const;  // removes committed blobs nothing refers to
};

// Exclusive flock on <dir>/lock for the lifetime of the object.
class Lock {
 public:
  explicit Lock(const std::string& dir);
  ~Lock();
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;
  void release();

 private:
  int fd_ = -1;
};

constexpr uint64_t kDatasetOverhead = 24576;  // what an empty filesystem refers to (24K)

const std::vector<std::string>& all_features();
std::string feature_state(const State& s, const Pool& p, const std::string& feature);
bool valid_name_chars(const std::string& name);

}  // namespace zsim
