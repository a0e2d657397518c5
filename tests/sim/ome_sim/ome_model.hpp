#pragma once
// A simulated OpenManage Enterprise's state: devices (servers, chassis), API sessions with
// OME's cap of 100, and the OData reading of its collections ($top, $skip, $filter on Type,
// relative next links). Protocol-independent; ome_server.cpp puts HTTP on it.
//
// Thread-safety: every public method locks.
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <optional>
#include <string>
#include <vector>

namespace dcops::sim::ome {

struct Device {
  int id = 0;
  int type = 1000;  // 1000 server, 2000 chassis, 4000 IO module
  std::string name;
  std::string service_tag;  // "" for devices without one (IO modules)
  std::string model;
  std::string idrac_address;  // DeviceManagement[0].NetworkAddress, "" when none
  // With idrac_address "": a DeviceManagement record whose NetworkAddress is "" rather than
  // no record (OME's answer for an iDRAC it knows without an IPv4 address).
  bool empty_address_record = false;
  int power_state = 17;       // 17 on, 18 off
  int status = 1000;          // 1000 normal, 3000 warning, 4000 critical
  bool garbled = false;       // answered with a numeric DeviceServiceTag (a broken record)
};

struct Options {
  int servers = 10;
  int chassis = 1;
  int session_cap = 100;
  std::string username = "admin";
  std::string password = "ome-pass";
  int default_page = 50;  // what OME answers without $top
  // Extra servers, after the others, whose iDRAC OME knows no IPv4 address of: their
  // NetworkAddress is "[::]", "::" and "" in turn (service tags "NOIP000", "NOIP001", ...).
  int servers_without_ipv4 = 0;
  // Extra pairs of servers, after those, whose two iDRACs OME lists at one address
  // (127.0.119.N for pair N from 1; service tags "DUPA00N" and "DUPB00N"): a board replaced
  // or an address reused while OME still holds the old record.
  int shared_address_pairs = 0;
  // How long each InventoryDetails answer takes (a real OME takes a fraction of a second per
  // server; benchmarks set it, tests leave it 0).
  std::chrono::milliseconds details_latency{0};
  // OME's answer when the session cap is reached: CURS1209 as a real appliance wrote it; the
  // status is not documented (400 is our inference), so tests vary it and the wording.
  struct Refusal {
    int status = 400;
    std::string message_id = "CURS1209";
    std::string message = "Unable to create a new session because the maximum number of sessions for this user has been reached.";
  } session_cap_answer;
};

// One page of a collection as OME answers it.
struct Page {
  std::vector<Device> devices;
  int count = 0;          // @odata.count: matches of the filter, all pages
  std::string next_link;  // "" on the last page
};

class Model {
 public:
  explicit Model(Options options);
  // A session id and token, or nullopt: bad credentials (`*capped` false) or the cap reached.
  std::optional<std::pair<std::string, std::string>> Login(const std::string& user, const std::string& password,
                                                           bool* capped);
  bool ValidToken(const std::string& token) const;
  bool Logout(const std::string& session_id);
  int SessionCount() const;
  // `filter` is "" or "Type eq N"; an unsupported filter is nullopt (OME answers 400).
  std::optional<Page> Devices(const std::string& filter, int top, int skip) const;
  // Test hooks: the estate changes between syncs.
  void RemoveDevice(int id);
  void AddServer(const std::string& service_tag, const std::string& idrac_address);
  // The device's record is broken from now on (a wrong type in one field).
  void GarbleDevice(int id);
  // The device's InventoryDetails answers HTTP 500 from now on (OME's inventory of it broken).
  void FailDetails(int id);
  bool DetailsFail(int id) const;
  const Options& options() const { return options_; }
  // Every device, as the model holds it (tests compare the database with it).
  std::vector<Device> AllDevices() const;
  std::optional<Device> Find(int id) const;
  // Logs every session out (OME restarted, or sessions timed out).
  void ExpireSessions();

 private:
  mutable std::mutex mu_;
  Options options_;
  std::vector<Device> devices_;
  std::map<std::string, std::string> sessions_;  // id → token
  std::set<int> failing_details_;
  int next_session_ = 1;
  int next_device_ = 10001;
};

}  // namespace dcops::sim::ome
