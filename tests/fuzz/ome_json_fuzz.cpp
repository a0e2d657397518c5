// OpenManage Enterprise's OData answers as libs/ome reads them: a device page, a device's
// inventory details, error bodies and the size strings OME prints.
#include <rapidjson/document.h>

#include "dcops/ome/client.hpp"
#include "dcops/ome/inventory.hpp"
#include "fuzz_target.hpp"

FUZZ_TARGET {
  using namespace dcops::ome;
  const std::string body = dcops::fuzz::Text(data, size);
  (void)OmeError(400, body, "fuzz");
  ParseSize(body);
  ParseSize(body, "GB");
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseStopWhenDoneFlag>(body.c_str(), body.size());
  if (doc.HasParseError()) return 0;
  (void)ReadDeviceDetails(doc);
  ReadFlag(doc);
  if (doc.IsObject() && doc.HasMember("value") && doc["value"].IsArray()) {
    for (const auto& member : doc["value"].GetArray()) (void)ReadDevice(member);
  }
  return 0;
}
