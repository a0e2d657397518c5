#pragma once
// An OpenManage Enterprise REST client, as one sync sees it.
//
// Session: POST /api/SessionService/Sessions ({"UserName","Password","SessionType":"API"});
// the X-Auth-Token rides on every later call and Logout() deletes the session (callers call
// it on every path, errors included; OME allows 100 API sessions). Collections are read page
// by page with $top, following @odata.nextLink (relative) until there is none.
//
// Errors, mapped once here: ome.auth (credentials refused), ome.session_cap (100 sessions;
// retryable), ome.session_expired (401 mid-sync; retryable), ome.http (OME's error body:
// its MessageId and message), ome.schema (not JSON, or not what OME documents: names the
// resource and field), and the HTTP client's own (unreachable, timeouts).
//
// Ownership: borrows the http::Client. Thread-safety: one user at a time. Blocking: yes.
#include <rapidjson/document.h>

#include <functional>
#include <string>
#include <vector>

#include "dcops/http/client.hpp"

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

// A server's hardware and firmware from …/Devices(id)/InventoryDetails, as the inventory
// tables take them. Unknown or unreadable fields stay empty (-1 for numbers); firmware lists
// installed components only (OME also lists the previous iDRAC image, "Available").
struct DeviceDetails {
  struct Processor {
    std::string socket, model, manufacturer;
    int cores = -1, max_speed_mhz = -1;
    std::string health;
  };
  struct Dimm {
    std::string slot, memory_type, manufacturer, part_number, serial_number, health;
    std::int64_t capacity_mib = -1;
    int speed_mhz = -1;
  };
  struct Disk {
    std::string slot, model, serial_number, media_type, protocol, firmware_version, health, controller;
    std::int64_t capacity_bytes = -1;  // OME writes sizes as text: "893.75 GB"
    bool predicted_failure = false;
  };
  struct Firmware {
    std::string component_id, name, version, install_date;  // install_date "" when OME says "NA"
  };
  std::vector<Processor> processors;
  std::vector<Dimm> memory;
  std::vector<Disk> drives;
  std::vector<Firmware> firmware;
};

// Reads an InventoryDetails collection (the document OME answers).
Result<DeviceDetails> ReadDeviceDetails(const rapidjson::Value& collection);
// "893.75 GB" → bytes (units up to TB, powers of 1024); -1 when it is not a size.
std::int64_t ParseSize(const std::string& text);

class Client {
 public:
  Client(http::Client& http, Endpoint endpoint);
  Status Login();
  void Logout();
  bool logged_in() const { return !token_.empty(); }

  // Every device (of type `type`, 0 for all) in pages of `page_size`, each handed to `page`
  // as it arrives. A member that is not a device as OME documents it is reported in the
  // page's `failed`; a page that is not a collection ends the read with ome.schema.
  Status ForEachDevicePage(int type, int page_size, const std::function<Status(const DevicePage&)>& page);
  // One server's inventory details (one request).
  Result<DeviceDetails> InventoryDetails(int device_id);

 private:
  Result<rapidjson::Document> GetJson(const std::string& path);

  http::Client& http_;
  Endpoint endpoint_;
  std::string token_;
  std::string session_path_;  // "/api/SessionService/Sessions('…')"
};

}  // namespace dcops::ome
