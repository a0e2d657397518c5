#pragma once
// The plain values the tree simulator passes around: its options (from the command line), one
// HTTP request as it arrived, and the answer to send. Transport-free so tests drive the
// simulator without a socket.
//
// Thread-safety: plain values.
#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace dcops::sim::tree {

// How clients may authenticate. kAuto: sessions iff the tree has a SessionService with a
// Sessions collection, Basic always. kSession: sessions only. kBasic: Basic only, no sessions.
enum class AuthMode { kAuto, kSession, kBasic };

struct SimOptions {
  std::string tree;                   // directory: the content of /redfish/v1
  std::string address = "127.0.0.1";  // loopback only (127.0.0.0/8)
  int port = 8443;                    // 0: any free port
  std::string user = "root";
  std::string password;
  AuthMode auth = AuthMode::kAuto;
  int page_size = 0;                         // 0: collections are not paged
  std::vector<std::string> self_next_links;  // collections whose first page links to itself
  bool invisible_restart = false;            // restart resets answer 204 and change nothing
  std::chrono::milliseconds restart{1500};   // system restart / manager outage duration
  std::chrono::milliseconds task{3000};      // New -> Completed duration of a task
  int control_port = 0;                      // 0: any free port
};

struct SimRequest {
  std::string method;                          // "GET", "POST", ...
  std::string target;                          // path and query as sent (percent-encoded)
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
};

struct SimResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string content_type = "application/json; charset=utf-8";
};

}  // namespace dcops::sim::tree
