#include "database_url.hpp"

#include "dcops/db/tls_policy.hpp"

namespace dcops::dispatcher {

bool AcceptDatabaseUrl(const std::string& url, const std::string& unverified_hosts, SecretRegistry& redact,
                       const Logger& log) {
  redact.Add(url);
  if (auto password = db::DsnPassword(url)) redact.Add(*password);
  if (auto st = db::RequireVerifiedTls(url, "DCOPS_DATABASE_URL", unverified_hosts, db::ProcessLibpqEnvironment); !st) {
    log.Error(st.error().message, {}, {{"code", st.error().code}});
    return false;
  }
  return true;
}

}  // namespace dcops::dispatcher
