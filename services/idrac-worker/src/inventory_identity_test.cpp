// The servers row's identity from the service root and the ComputerSystem: a service tag for
// Dell only, manufacturer + serial number and the system UUID for everyone.
#include <catch2/catch.hpp>

#include "inventory.hpp"

namespace dcops::idrac {
namespace {

redfish::Document Doc(const std::string& resource, const std::string& body) {
  auto d = redfish::Document::Parse(resource, body);
  REQUIRE(d);
  return *d;
}

redfish::Document Root(const std::string& make) {
  return Doc("/redfish/v1",
             R"({"@odata.id": "/redfish/v1", "RedfishVersion": "1.11.0", )" + make + "}");
}

redfish::Document System(const std::string& identity) {
  return Doc("/redfish/v1/Systems/1",
             R"({"@odata.id": "/redfish/v1/Systems/1", "Id": "1", )" + identity +
                 R"(, "UUID": "30373237-3132-4d32-3232-333530503157", "PowerState": "On"})");
}

std::optional<std::string> Text(const Row& row, const char* key) { return row.Text(key); }

TEST_CASE("A Dell's service tag comes from the root's OEM block first, else from SKU",
          "[inventory]") {
  const auto sys = System(
      R"("Manufacturer": "Dell Inc.", "Model": "PowerEdge R650", "SKU": "SKUTAG1", "SerialNumber": "CN7016")");
  auto from_oem =
      SystemRow(Root(R"("Vendor": "Dell", "Oem": {"Dell": {"ServiceTag": "OEMTAG1"}})"), sys);
  REQUIRE(from_oem);
  CHECK(Text(*from_oem, "service_tag") == "OEMTAG1");
  CHECK(Text(*from_oem, "serial_number") == "CN7016");
  // Old firmware: no Oem/Dell in the root, and no Vendor either; the system says Dell.
  auto from_sku = SystemRow(Root(R"("Oem": {})"), sys);
  REQUIRE(from_sku);
  CHECK(Text(*from_sku, "service_tag") == "SKUTAG1");
}

TEST_CASE("A Dell without OEM tag or SKU gets a null tag, never its serial number", "[inventory]") {
  auto row = SystemRow(Root(R"("Vendor": "Dell")"),
                       System(R"("Manufacturer": "Dell Inc.", "SerialNumber": "CN7016")"));
  REQUIRE(row);
  const Field* tag = row->Get("service_tag");
  REQUIRE(tag != nullptr);
  CHECK(std::holds_alternative<std::monostate>(*tag));
  CHECK(Text(*row, "serial_number") == "CN7016");
}

TEST_CASE(
    "An HPE's SKU is a part number, not a tag: no service_tag key, manufacturer and serial sent",
    "[inventory]") {
  auto row = SystemRow(
      Root(R"("Vendor": "HPE", "Oem": {"Hpe": {}})"),
      System(
          R"("Manufacturer": "HPE", "Model": "ProLiant BL460c Gen10", "SKU": "P19766-B21", "SerialNumber": "CZJ0350ABC")"));
  REQUIRE(row);
  CHECK(row->Get("service_tag") == nullptr);
  CHECK(Text(*row, "manufacturer") == "HPE");
  CHECK(Text(*row, "serial_number") == "CZJ0350ABC");
  CHECK(Text(*row, "system_uuid") == "30373237-3132-4d32-3232-333530503157");
}

TEST_CASE("A placeholder serial passes through and a missing Model is no error", "[inventory]") {
  auto row = SystemRow(
      Root(R"("Oem": {})"),
      System(
          R"("Manufacturer": "Supermicro", "SKU": "Default string", "SerialNumber": "Default string")"));
  REQUIRE(row);
  CHECK(row->Get("service_tag") == nullptr);
  CHECK(Text(*row, "serial_number") == "Default string");  // the database discards placeholders
  const Field* model = row->Get("model");
  REQUIRE(model != nullptr);
  CHECK(std::holds_alternative<std::monostate>(*model));
}

TEST_CASE("A system without PowerState still fails, naming the field", "[inventory]") {
  auto row = SystemRow(Root("\"Oem\": {}"),
                       Doc("/redfish/v1/Systems/1", R"({"Manufacturer": "Contoso"})"));
  REQUIRE_FALSE(row);
  CHECK(row.error().message.find("PowerState") != std::string::npos);
}

}  // namespace
}  // namespace dcops::idrac
