#pragma once
// The simulated OpenManage Enterprise over HTTPS (its own self-signed certificate), on one
// loopback address: sessions (X-Auth-Token), the device collection with OData paging, and
// OME's error body ({"error": {"code", "message", "@Message.ExtendedInfo": [...]}}).
//
// Thread-safety: Start/Stop from one thread; requests are served on the server's threads.
#include <httplib.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <memory>
#include <string>
#include <thread>

#include "ome_model.hpp"
#include "request_gate.hpp"

namespace dcops::sim::ome {

enum class Fault { kNone, kHtml, kTruncated };

class Server {
 public:
  Server(Model& model, std::string address, int port);
  ~Server();
  // "" on success, else why it could not listen.
  std::string Start();
  void Stop();
  const std::string& fingerprint() const { return fingerprint_; }
  // Device list answers broken from now on (an HTML error page, a cut-off body).
  void SetFault(Fault f) { fault_ = f; }
  // Holds the next device-list request ("devices": the first page, "devices page": a later
  // one) until the test releases it.
  RequestGate& gate() { return gate_; }
  // Every request it has answered (what a benchmark reports as round trips to the device).
  long requests() const { return requests_; }
  // The most InventoryDetails requests this server has had in flight at once.
  int max_details_in_flight() const { return max_details_in_flight_; }
  // The next `n` InventoryDetails requests are answered only once all `n` have arrived (or
  // after 10 s): a client that reads n at a time passes, one that reads fewer waits it out.
  void GatherDetails(int n);

 private:
  Model& model_;
  std::string address_;
  int port_;
  std::string fingerprint_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::atomic<Fault> fault_{Fault::kNone};
  RequestGate gate_;
  std::atomic<long> requests_{0};
  std::atomic<int> details_in_flight_{0};
  std::atomic<int> max_details_in_flight_{0};
  std::mutex gather_mu_;
  std::condition_variable gathered_;
  int gather_left_ = 0;  // requests still to arrive before the gathered ones are answered
};

}  // namespace dcops::sim::ome
