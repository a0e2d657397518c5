#pragma once
// Redfish component documents → rows shaped for dispatcher_v1_upsert_server_inventory.
// Parsing only: no network, tested against fixtures the project owns. Every field is
// strictly typed: absent or null is left out (iDRAC answers null for what it does not know),
// a value of the wrong type fails with the resource and field named.
//
// Thread-safety: values and pure functions.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "dcops/redfish/json.hpp"

namespace dcops::idrac {

using Field = std::variant<std::monostate, std::string, std::int64_t, double, bool,
                           std::vector<std::string>>;

struct Row {
  std::vector<std::pair<std::string, Field>> fields;
  void Set(const std::string& key, Field value);
  const Field* Get(const std::string& key) const;
  std::optional<std::string> Text(const std::string& key) const;
};

// Reads fields of one document into a Row, keeping the first schema error.
class RowReader {
 public:
  explicit RowReader(const redfish::Document& doc) : doc_(doc) {}
  RowReader& Text(const char* key, std::string_view path);
  RowReader& RequiredText(const char* key, std::string_view path);
  RowReader& Int(const char* key, std::string_view path);
  RowReader& Number(const char* key, std::string_view path);
  RowReader& Bool(const char* key, std::string_view path);
  RowReader& Links(const char* key, std::string_view path);
  RowReader& Value(const char* key, Field value);
  Result<Row> Done();

 private:
  template <typename T>
  RowReader& Keep(const char* key, Result<std::optional<T>> value);
  const redfish::Document& doc_;
  Row row_;
  std::optional<Error> error_;
};

// The service root is Dell's: Vendor "Dell", or an Oem/Dell block.
bool IsDellService(const redfish::Document& root);
// The ComputerSystem's identity and summary for the servers row. A service tag is Dell's
// only: the root's Oem/Dell/ServiceTag, else the system's SKU when the root (IsDellService)
// or the system's Manufacturer ("Dell Inc.", "Dell") says Dell; null for a Dell giving
// neither. Other vendors' rows have no service_tag key at all: their SKU is a part number a
// whole model shares and a serial number is no tag; they are known by manufacturer +
// serial_number, else system_uuid (placeholders such as "Default string" pass through, the
// database discards them). Model is optional, as in the schema; PowerState is required.
Result<Row> SystemRow(const redfish::Document& root, const redfish::Document& system);

// A row per component; nullopt for documents that describe an empty slot (State "Absent").
Result<std::optional<Row>> ProcessorRow(const redfish::Document& doc);
Result<std::optional<Row>> MemoryRow(const redfish::Document& doc);
Result<std::optional<Row>> DriveRow(const redfish::Document& doc, const std::string& controller);
Result<Row> VolumeRow(const redfish::Document& doc, const std::string& controller);
Result<Row> NicRow(const redfish::Document& doc);
// Installed firmware only: Dell also lists "Previous-" (rollback) and "Available-" images.
Result<std::optional<Row>> FirmwareRow(const redfish::Document& doc);
// "Installed-25227-7.00.00.171" → "Installed-25227"; "...-22.31.6__NIC.Integrated.1-1-1" →
// "Installed-0__NIC.Integrated.1-1-1": stable across versions, one per device.
std::string FirmwareComponentId(const std::string& id, const std::string& version);

// A part of the inventory that could not be read (it stays as stored: its list is left out).
struct PartWarning {
  std::string part;  // "storage", "firmware", …
  std::string code;
  std::string message;
};

struct ServerInventory {
  Row server;                                      // top-level columns
  std::map<std::string, std::vector<Row>> lists;   // "processors", "memory", "drives", ...
  std::vector<PartWarning> warnings{};             // written as "warnings": [{part, code, message}]
};
std::string InventoryJson(const ServerInventory& inventory);

}  // namespace dcops::idrac
