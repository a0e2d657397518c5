#pragma once
// What every device simulator needs to speak HTTPS like a device: a server with a fresh
// self-signed certificate for its loopback address (tests pin its fingerprint).
#include <httplib.h>

#include <memory>
#include <string>

#include "dcops/common/result.hpp"

namespace dcops::sim {

// `*fingerprint` receives the certificate's SHA-256 (lower-case hex).
Result<std::unique_ptr<httplib::SSLServer>> SelfSignedServer(const std::string& address, const std::string& name,
                                                             std::string* fingerprint);

}  // namespace dcops::sim
