#pragma once
// What a simulated iDRAC does with SimpleUpdate's ImageURI: it fetches the package (HTTP or
// HTTPS, certificates not checked, as an iDRAC's default) on a pool of threads and reports how
// it went. The Bmc turns the outcome into the job's fate (Bmc::DownloadFinished).
//
// Only numeric loopback addresses are fetched from (tests and the demo never leave
// 127.0.0.0/8); any other host, a name included, and nfs:// or cifs:// shares end as
// unreachable.
//
// Ownership: owns its threads; Stop() (or the destructor) joins them and drops what is still
// queued, so a callback never runs after Stop() returns. Thread-safety: Fetch from any thread.
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace dcops::sim {

struct FetchOutcome {
  enum class Kind { kOk, kUnreachable, kNotFound, kDenied, kHttpError };
  Kind kind = Kind::kUnreachable;
  int http_status = 0;
  long bytes = 0;
  std::string head;    // the first bytes of the file (what says whether it is a package)
  std::string detail;  // why it failed, for the simulator's log
};

// Fetches one URI now (blocking): the seam the pool runs, and what unit tests call.
FetchOutcome FetchImage(const std::string& uri);

class ImageFetcher {
 public:
  explicit ImageFetcher(int threads = 4);
  ~ImageFetcher();
  ImageFetcher(const ImageFetcher&) = delete;
  ImageFetcher& operator=(const ImageFetcher&) = delete;

  // Queues a fetch; `done` runs on a pool thread with the outcome (never after Stop()).
  void Fetch(std::string uri, std::function<void(const FetchOutcome&)> done);
  void Stop();

 private:
  void Run();
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::string, std::function<void(const FetchOutcome&)>>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace dcops::sim
