// A BMC's answer as the Redfish library reads it: any body, then every accessor a step uses
// (service root navigation, collections, tasks, error bodies).
#include "dcops/redfish/collection.hpp"
#include "dcops/redfish/errors.hpp"
#include "dcops/redfish/json.hpp"
#include "dcops/redfish/service.hpp"
#include "dcops/redfish/task.hpp"
#include "fuzz_target.hpp"

FUZZ_TARGET {
  using namespace dcops::redfish;
  const std::string body = dcops::fuzz::Text(data, size);
  ParseExtendedInfo(body);
  auto doc = Document::Parse("/redfish/v1/Fuzz", body);
  if (!doc) return 0;
  for (const char* path : {"Id", "Status/Health", "Oem/Dell/ServiceTag", "PowerState", "Members@odata.count"}) {
    (void)doc->String(path);
    (void)doc->OptionalString(path);
    (void)doc->Int(path);
    (void)doc->OptionalNumber(path);
    (void)doc->MaybeString(path);
    (void)doc->MaybeInt(path);
    (void)doc->MaybeNumber(path);
    (void)doc->MaybeBool(path);
  }
  (void)doc->Strings("Actions/#ComputerSystem.Reset/ResetType@Redfish.AllowableValues");
  (void)doc->MemberIds();
  if (auto members = doc->ExpandedMembers()) {
    for (const auto& m : *members) (void)m.String("Id");
  }
  (void)doc->LinkIds("Links/Drives");
  (void)ParseTask(*doc);
  (void)SupportsExpand(*doc);
  auto root = ReadServiceRoot(*doc);
  dcops::fuzz::Expect(root.sessions.empty() || root.sessions.front() == '/',
                      "a service root's session link is a path on the BMC, never another host");
  return 0;
}
