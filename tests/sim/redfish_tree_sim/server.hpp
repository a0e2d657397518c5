#pragma once
// Puts a TreeSim on the network: HTTPS (a fresh self-signed certificate) on the loopback
// address of the options, and the plain-HTTP control endpoint on 127.0.0.1:
//   GET /state                      -> TreeSim::State()
//   GET /resource?uri=/redfish/...  -> the resource's current body (404 if unknown)
//
// Owns its listener threads. Start/Stop from one thread; requests run on httplib's pool and
// go through TreeSim's mutex. Start does not block; Stop blocks until both listeners end.
#include <httplib.h>

#include <memory>
#include <string>
#include <thread>

#include "dcops/common/result.hpp"
#include "tree_sim.hpp"

namespace dcops::sim::tree {

class Server {
 public:
  Server(TreeSim& sim, SimOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  Status Start();
  void Stop();
  int port() const { return port_; }
  int control_port() const { return control_port_; }
  const std::string& fingerprint() const { return fingerprint_; }

 private:
  TreeSim& sim_;
  SimOptions options_;
  std::unique_ptr<httplib::SSLServer> https_;
  httplib::Server control_;
  std::thread https_thread_;
  std::thread control_thread_;
  std::string fingerprint_;
  int port_ = 0;
  int control_port_ = 0;
};

}  // namespace dcops::sim::tree
