// InventoryDetails as real OME versions write them (tests/fixtures/ome/inventory-details,
// written from published captures and Dell's guides by a reader who did not see this parser),
// against that reader's own expectation of what a correct client stores.
#include "dcops/ome/inventory.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace dcops::ome {
namespace {

rapidjson::Document Load(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  rapidjson::Document d;
  d.Parse(text.str().c_str());
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

// The expectation's value as text ("" for null), numbers as digits, flags as true/false.
std::string Want(const rapidjson::Value& o, const char* key) {
  if (!o.HasMember(key) || o[key].IsNull()) return "";
  const auto& v = o[key];
  if (v.IsString()) return v.GetString();
  if (v.IsBool()) return v.GetBool() ? "true" : "false";
  if (v.IsInt64()) return std::to_string(v.GetInt64());
  return "?";
}
std::string Got(std::int64_t n) { return n < 0 ? "" : std::to_string(n); }
std::string Got(const std::optional<bool>& b) { return !b ? "" : *b ? "true" : "false"; }

// Each expected entry against the parsed one at the same position, field by field.
template <typename T, typename F>
void Compare(const rapidjson::Value& expected, const char* list, const std::vector<T>& got, F fields) {
  INFO(list);
  REQUIRE(expected[list].IsArray());
  REQUIRE(got.size() == expected[list].Size());
  for (rapidjson::SizeType i = 0; i < expected[list].Size(); ++i) {
    INFO("entry " << i);
    for (const auto& [key, value] : fields(got[i])) {
      INFO(key);
      CHECK(value == Want(expected[list][i], key));
    }
  }
}

using Fields = std::vector<std::pair<const char*, std::string>>;

TEST_CASE("OME InventoryDetails of five servers and OME versions read as an independent reading expects", "[ome]") {
  const std::filesystem::path dir = DCOPS_OME_FIXTURES "/inventory-details";
  int fixtures = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.size() < 5 || name.ends_with(".expected.json") || !name.ends_with(".json")) continue;
    ++fixtures;
    INFO(name);
    const auto doc = Load(entry.path());
    const auto expected = Load(dir / (name.substr(0, name.size() - 5) + ".expected.json"));
    auto details = ReadDeviceDetails(doc);
    REQUIRE(details.ok());
    Compare(expected, "processors", details->processors, [](const auto& p) {
      return Fields{{"socket", p.socket}, {"model", p.model}, {"cores", Got(p.cores)}, {"max_speed_mhz", Got(p.max_speed_mhz)}};
    });
    Compare(expected, "memory", details->memory, [](const auto& m) {
      return Fields{{"slot", m.slot}, {"capacity_mib", Got(m.capacity_mib)}, {"speed_mhz", Got(m.speed_mhz)},
                    {"serial_number", m.serial_number}};
    });
    Compare(expected, "drives", details->drives, [](const auto& k) {
      return Fields{{"slot", k.slot}, {"capacity_bytes", Got(k.capacity_bytes)}, {"predicted_failure", Got(k.predicted_failure)},
                    {"media_type", k.media_type}, {"serial_number", k.serial_number}};
    });
    Compare(expected, "controllers", details->controllers, [](const auto& c) { return Fields{{"fqdd", c.fqdd}, {"name", c.name}}; });
    Compare(expected, "nics", details->nics, [](const auto& n) {
      return Fields{{"port_id", n.port_id}, {"mac_address", n.mac_address}, {"speed_mbps", Got(n.speed_mbps)}};
    });
    Compare(expected, "power_supplies", details->power_supplies, [](const auto& p) {
      return Fields{{"slot", p.slot}, {"capacity_watts", Got(p.capacity_watts)}, {"firmware_version", p.firmware_version}};
    });
    Compare(expected, "firmware", details->firmware, [](const auto& f) {
      return Fields{{"instance_fqdd", f.fqdd}, {"component_id", f.software_id}, {"version", f.version}, {"type", f.type}};
    });
    CHECK(details->hostname == Want(expected, "hostname"));
  }
  CHECK(fixtures >= 4);
}

}  // namespace
}  // namespace dcops::ome
