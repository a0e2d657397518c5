#pragma once
// Whether an address is a numeric IPv4 address in 127.0.0.0/8: what every simulator binds to
// and fetches from (a host name is not, whatever it starts with). Thread-safe, no I/O.
#include <string>

namespace dcops::sim {

bool IsLoopback(const std::string& address);

}  // namespace dcops::sim
