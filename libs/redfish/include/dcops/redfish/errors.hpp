#pragma once
// Redfish answers that are not success, mapped once into Error:
//   redfish.auth           401/403: credentials refused (not retryable: lockouts are real)
//   redfish.session_cap    503 with RAC0218: the BMC's session limit (retryable: wait, reuse)
//   redfish.not_ready      SYS518 / SWC0700 and other "not ready" answers (retryable)
//   redfish.conflict       409: the action contradicts the current state
//   redfish.bad_request    400: the BMC refused the request as malformed or not allowed
//   redfish.not_found      404
//   redfish.server_error   5xx (retryable for reads)
//   redfish.schema         a response that is not what Redfish says (HTML, truncated JSON,
//                          missing or mistyped fields); the message names resource and field
// and, from navigation (service.hpp, actions.hpp), never from an HTTP status:
//   redfish.unsupported    the service does not advertise what an operation needs (no such
//                          action, link or resource): a clear refusal, not retried
//   redfish.not_idrac      a Dell-only operation on another BMC ("not an iDRAC: Acme (no model)")
//   redfish.ambiguous      more than one system (or manager) where one was expected
// The message carries the resource, the HTTP status and the BMC's MessageId and Message.

#include <string>
#include <string_view>

#include "dcops/common/result.hpp"
#include "dcops/http/message.hpp"

namespace dcops::redfish {

// The first @Message.ExtendedInfo entry (or error.code/message) of an error body.
struct ExtendedInfo {
  std::string message_id;  // "IDRAC.2.8.RAC0218"
  std::string message;
};
ExtendedInfo ParseExtendedInfo(std::string_view body);
// True when the MessageId ends with `short_id` ("RAC0218" matches "IDRAC.2.8.RAC0218").
bool MessageIs(const ExtendedInfo& info, std::string_view short_id);

Error ErrorFromResponse(const http::Response& response, std::string_view resource,
                        bool read_only);

}  // namespace dcops::redfish
