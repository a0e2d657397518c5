#include "host_access.hpp"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace dcops::zfs_worker {
namespace {

std::string Text(const rapidjson::Value& o, const char* key) {
  const auto it = o.FindMember(key);
  return it != o.MemberEnd() && it->value.IsString() ? std::string(it->value.GetString(), it->value.GetStringLength()) : "";
}

void SetSecret(ssh::Endpoint& e, const agent::Credentials& c) {
  if (!c.username.empty()) e.user = c.username;
  (c.password.find("PRIVATE KEY-----") != std::string::npos ? e.private_key_pem : e.password) = c.password;
}

}  // namespace

std::string HostAccess::Label() const {
  return fmt::format("{} ({}:{})", name.empty() ? endpoint.host : name, endpoint.host, endpoint.port);
}

Result<HostAccess> ReadHostAccess(const agent::Params& params, const agent::Assignment& a, const char* which) {
  const rapidjson::Value* o = params.Raw(which);
  const char* role = std::string_view(which) == "_peer" ? "target host" : "host";
  if (o == nullptr || !o->IsObject()) return MakeError("step.params", fmt::format("the step does not say how to reach its {} ({})", role, which));
  HostAccess h;
  h.id = Text(*o, "id");
  h.name = Text(*o, "name");
  h.endpoint.host = Text(*o, "address");
  if (h.endpoint.host.empty()) return MakeError("step.params", fmt::format("{}.address: is required", which));
  const auto port = o->FindMember("ssh_port");
  if (port != o->MemberEnd() && port->value.IsInt()) h.endpoint.port = port->value.GetInt();
  if (h.endpoint.port < 1 || h.endpoint.port > 65535) return MakeError("step.params", fmt::format("{}.ssh_port: 1..65535", which));
  h.endpoint.user = Text(*o, "ssh_user");
  h.endpoint.pinned_host_key = Text(*o, "host_key");
  const rapidjson::Value* first = params.Raw("_first_contact");
  h.endpoint.accept_new_host_key = first != nullptr && first->IsBool() && first->GetBool();
  if (std::string_view(which) == "_peer") {
    const std::string set = Text(*o, "credential_set_id");
    bool found = false;
    for (const auto& named : a.credential_sets) {
      if (named.id == set) {
        SetSecret(h.endpoint, named.credentials);
        found = true;
      }
    }
    if (!found) return MakeError("step.credentials", fmt::format("no credentials were released for the {} {}", role, h.Label()));
  } else {
    SetSecret(h.endpoint, a.credentials);
  }
  if (h.endpoint.user.empty()) h.endpoint.user = "root";
  return h;
}

Result<std::unique_ptr<ssh::Session>> ConnectHost(agent::StepContext& ctx, const ShellConnector& connect, const HostAccess& h,
                                                  NewHostKeys& keys) {
  auto s = connect(h.endpoint);
  if (!s) return s;
  if ((*s)->host_key_was_new()) {
    ctx.Event(LogLevel::kWarn, fmt::format("first contact with {} over SSH: its host key {} is recorded and pinned from now on", h.Label(),
                                           (*s)->host_key()));
    keys.push_back({h.id, (*s)->host_key()});
  }
  return s;
}

std::string NewHostKeysJson(const NewHostKeys& keys) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartArray();
  for (const auto& [id, key] : keys) {
    w.StartObject();
    w.Key("host_id");
    w.String(id.c_str());
    w.Key("host_key");
    w.String(key.c_str());
    w.EndObject();
  }
  w.EndArray();
  return buf.GetString();
}

}  // namespace dcops::zfs_worker
