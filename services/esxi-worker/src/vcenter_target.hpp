#pragma once
// Where an ESXi step works, from what the dispatcher adds to its params when it assigns it
// ("_endpoint": dispatcher_v1_sync_endpoint('cluster' | 'esxi', id)): the vCenter's address,
// the cluster's moref and, for host steps, the host's moref and name. Credentials and TLS trust
// come from the assignment.
//
// VcenterSession logs in and logs out when it goes out of scope, on every path.
// Thread-safety: values; a session is one step's.
#include <string>

#include "dcops/agent/params.hpp"
#include "dcops/agent/step.hpp"
#include "dcops/vsphere/client.hpp"

namespace dcops::esxi {

struct VcenterTarget {
  vsphere::Endpoint endpoint;
  std::string vcenter_host;  // "vcsa-01.lab.local": how vCenter's own VM is recognised
  std::string cluster_moref, cluster_name;
  vsphere::MoRef host;       // host steps only
  std::string host_name;
};

// `host_step`: the endpoint must also name a host (host_moref).
Result<VcenterTarget> ReadVcenterTarget(const agent::Params& params, const agent::Assignment& a, bool host_step);

// The host part of "vcsa-01.lab.local:443" or "https://vcsa-01.lab.local".
std::string HostOf(std::string address);

class VcenterSession {
 public:
  VcenterSession(http::Client& http, const vsphere::Endpoint& endpoint) : client_(http, endpoint) {}
  ~VcenterSession() { client_.Logout(); }
  VcenterSession(const VcenterSession&) = delete;
  VcenterSession& operator=(const VcenterSession&) = delete;
  Status Login() { return client_.Login(); }
  vsphere::Client& client() { return client_; }

 private:
  vsphere::Client client_;
};

}  // namespace dcops::esxi
