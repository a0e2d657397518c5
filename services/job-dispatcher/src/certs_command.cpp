#include "certs_command.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "agent_identity.hpp"
#include "dcops/common/config.hpp"
#include "dcops/tls/certificates.hpp"
#include "dcops/tls/secret_box.hpp"

namespace dcops::dispatcher {
namespace {

Status WriteNew(const std::string& path, const std::string& content, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, mode);
  if (fd < 0) return MakeError("certs.write", path + ": " + std::strerror(errno));
  const bool ok = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
  ::close(fd);
  if (!ok) return MakeError("certs.write", path + ": short write");
  return {};
}

}  // namespace

int RunCertsInit(const std::string& dir, const std::vector<std::string>& hosts, const Logger& log) {
  ::mkdir(dir.c_str(), 0700);
  tls::CertificateRequest server{"job-dispatcher", {}, {}, 825, false};
  for (const auto& h : hosts) {
    in_addr a{};
    in6_addr a6{};
    if (inet_pton(AF_INET, h.c_str(), &a) == 1 || inet_pton(AF_INET6, h.c_str(), &a6) == 1) {
      server.ip_addresses.push_back(h);
    } else {
      server.dns_names.push_back(h);
    }
  }
  auto ca = tls::SelfSigned({"dcops site CA", {}, {}, 3650, true});
  if (!ca) {
    log.Error(ca.error().message);
    return 1;
  }
  auto cert = tls::SignedBy(server, *ca);
  if (!cert) {
    log.Error(cert.error().message);
    return 1;
  }
  const std::string token = tls::SecretBox::NewHexKey();
  for (const auto& [name, content, mode] :
       std::vector<std::tuple<std::string, std::string, mode_t>>{
           {"ca.pem", ca->certificate_pem, 0644},
           {"ca-key.pem", ca->private_key_pem, 0600},
           {"dispatcher.pem", cert->certificate_pem, 0644},
           {"dispatcher-key.pem", cert->private_key_pem, 0600},
           {"site.key", tls::SecretBox::NewHexKey() + "\n", 0600},
           {"agent.token", token + "\n", 0600},
           {"api.token", tls::SecretBox::NewHexKey() + "\n", 0600},
           {"viewer.token", tls::SecretBox::NewHexKey() + "\n", 0600}}) {
    if (auto st = WriteNew(dir + "/" + name, content, mode); !st) {
      log.Error(st.error().message + " (certs init never overwrites)");
      return 1;
    }
  }
  ::mkdir((dir + "/agents").c_str(), 0700);
  for (const char* kind : kAgentKinds) {
    auto issued = IssueAgentToken(token, std::string(kind) + "-*");
    if (!issued) {
      log.Error(issued.error().message);
      return 1;
    }
    if (auto st = WriteNew(dir + "/agents/" + kind + ".token", *issued + "\n", 0600); !st) {
      log.Error(st.error().message + " (certs init never overwrites)");
      return 1;
    }
  }
  log.Info("site certificates, key, agent secret, agent tokens and API token written", {}, {{"dir", dir}});
  return 0;
}

int RunCertsAgentToken(const std::string& dir, const std::string& scope, const Logger& log) {
  auto secret = ReadSecretFile(dir + "/agent.token");
  if (!secret) {
    log.Error(secret.error().message);
    return 1;
  }
  auto issued = IssueAgentToken(*secret, scope);
  if (!issued) {
    log.Error(issued.error().message);
    return 2;
  }
  std::printf("%s\n", issued->c_str());
  return 0;
}

}  // namespace dcops::dispatcher
