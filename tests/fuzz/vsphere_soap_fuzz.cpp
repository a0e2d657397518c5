// vCenter's SOAP answers as libs/vsphere reads them: the envelope (a response or a fault), a
// property collector page, an update set and task info.
#include "dcops/vsphere/soap.hpp"
#include "fuzz_target.hpp"

FUZZ_TARGET {
  using namespace dcops::vsphere;
  if (size == 0) return 0;
  // The first byte picks the HTTP status the body came with: a response or a fault.
  const int status = data[0] % 2 == 0 ? 200 : 500;
  const std::string body = dcops::fuzz::Text(data + 1, size - 1);
  for (const char* operation : {"RetrievePropertiesEx", "WaitForUpdatesEx"}) {
    auto response = Response::Parse(operation, status, body);
    if (!response) continue;
    if (auto page = ReadRetrieveResult(*response)) {
      for (const auto& object : page->objects) {
        auto info = object.props.find("info");
        if (info != object.props.end()) (void)ReadTaskInfo(info->second);
      }
    }
    (void)ReadUpdateSet(*response);
    for (const auto& value : response->ReturnValues()) (void)ReadTaskInfo(value);
  }
  return 0;
}
