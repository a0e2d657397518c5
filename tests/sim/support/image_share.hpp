#pragma once
// A simulated site's file share: plain HTTP on a loopback address, serving one directory (the
// update packages and ISO images a BMC is told to fetch). It answers GET and HEAD for files
// that exist, 404 for the rest, and counts what it served.
//
// Ownership: owns its server and thread; Stop() (or the destructor) stops both.
// Thread-safety: Start/Stop from one thread; the counters from any.
#include <atomic>
#include <memory>
#include <string>
#include <thread>

namespace httplib {
class Server;
}

namespace dcops::sim {

// What a share holds for a Dell update package in tests: the simulated iDRAC takes a fetched
// or pushed file that starts as a Windows executable (MZ) for a package (Bmc's
// IsUpdatePackage), and reads what it updates from the file's name.
inline constexpr const char* kUpdatePackage = "MZ\x90 simulated Dell update package";

class ImageShare {
 public:
  ImageShare();
  ~ImageShare();
  ImageShare(const ImageShare&) = delete;
  ImageShare& operator=(const ImageShare&) = delete;

  // Serves `directory` at http://address:port/ (port 0: any free port); "" once it listens,
  // else what failed. `address` must be in 127.0.0.0/8.
  std::string Start(const std::string& address, int port, const std::string& directory);
  void Stop();

  int port() const { return port_; }
  // "http://127.0.0.1:PORT" (no trailing slash).
  std::string base_url() const;
  long files_served() const { return files_served_.load(); }
  long not_found() const { return not_found_.load(); }

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::string address_;
  int port_ = 0;
  std::atomic<long> files_served_{0};
  std::atomic<long> not_found_{0};
};

}  // namespace dcops::sim
