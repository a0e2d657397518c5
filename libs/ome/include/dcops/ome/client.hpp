#pragma once
// An OpenManage Enterprise REST client, as one sync sees it.
//
// Session: POST /api/SessionService/Sessions ({"UserName","Password","SessionType":"API"});
// the X-Auth-Token rides on every later call and Logout() deletes the session (callers call
// it on every path, errors included; OME allows 100 API sessions). Collections are read page
// by page with $top, following @odata.nextLink (relative) until there is none.
//
// Errors, mapped once here (OmeError): ome.auth (credentials refused), ome.session_cap (a
// session limit; retryable), ome.rate_limited (429; retryable), ome.session_expired (401
// mid-sync; retryable), ome.http (OME's error body: its MessageId and message), ome.schema (not JSON, or not what OME documents: names the
// resource and field), and the HTTP client's own (unreachable, timeouts).
//
// Ownership: borrows the http::Client. Thread-safety: one user at a time, except
// InventoryDetails (below). Blocking: yes.
#include <rapidjson/document.h>

#include <functional>
#include <string>
#include <vector>

#include "dcops/http/client.hpp"
#include "dcops/ome/inventory.hpp"

namespace dcops::ome {

struct Endpoint {
  std::string base_url;  // "https://ome.lab"
  std::string username;
  std::string password;  // secret: only ever in the login body
  http::TlsOptions tls;
};

// One device of /api/DeviceService/Devices, as the inventory needs it.
struct Device {
  int id = 0;
  int type = 0;  // 1000 server, 2000 chassis, …
  std::string service_tag;    // "" when OME has none
  std::string name;
  std::string model;
  std::string idrac_address;  // the first DeviceManagement NetworkAddress, or ""
  int power_state = 0;        // 17 on, 18 off
  int status = 0;             // 1000 normal, 2000 unknown, 3000 warning, 4000 critical
};

// Reads one member of the device collection strictly (errors name the device and field).
Result<Device> ReadDevice(const rapidjson::Value& member);

// A device OME listed that could not be read; the rest of its page is kept.
struct DeviceFailure {
  int id = 0;  // 0 when even the Id was unreadable
  std::string message;
};

struct DevicePage {
  std::vector<Device> devices;
  std::vector<DeviceFailure> failed;
  int total = -1;  // the collection's @odata.count, -1 when OME leaves it out
};

// OME's error answer as one of ours. Session limits are recognised by OME's message ids and,
// for ids we do not know, by an HTTP status and a message about sessions and a limit:
// ome.session_cap (retryable). 429 is ome.rate_limited (retryable); 401 at login ome.auth;
// anything else ome.http with OME's MessageId and message (retryable when 5xx).
Error OmeError(int status, const std::string& body, const std::string& what);

class Client {
 public:
  Client(http::Client& http, Endpoint endpoint);
  Status Login();
  // Deletes the session. Fails (ome.logout) when OME could not be told; the session then
  // lives until OME times it out, so callers record it.
  Status Logout();
  bool logged_in() const { return !token_.empty(); }

  // Every device (of type `type`, 0 for all) in pages of `page_size`, each handed to `page`
  // as it arrives. A member that is not a device as OME documents it is reported in the
  // page's `failed`; a page that is not a collection ends the read with ome.schema.
  Status ForEachDevicePage(int type, int page_size, const std::function<Status(const DevicePage&)>& page);
  // One server's inventory details (one request). Safe to call from several threads at once,
  // and beside ForEachDevicePage, once logged in (they only read the session token);
  // Login/Logout must not run meanwhile.
  Result<DeviceDetails> InventoryDetails(int device_id);

 private:
  Result<rapidjson::Document> GetJson(const std::string& path);

  http::Client& http_;
  Endpoint endpoint_;
  std::string token_;
  std::string session_path_;  // "/api/SessionService/Sessions('…')"
};

}  // namespace dcops::ome
