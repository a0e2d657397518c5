#include "dcops/db/tls_policy.hpp"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <sstream>
#include <vector>

namespace dcops::db {
namespace {

std::vector<std::string> SplitCommas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string part;
  while (std::getline(in, part, ',')) out.push_back(part);
  if (out.empty()) out.push_back("");
  return out;
}

// This machine: the default socket, a socket directory, or a loopback name or address.
bool Local(const std::string& host) {
  if (host.empty() || host[0] == '/' || host[0] == '@') return true;
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  return host.rfind("127.", 0) == 0 && host.find_first_not_of("0123456789.") == std::string::npos;
}

}  // namespace

std::optional<std::string> ProcessLibpqEnvironment(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

Status RequireVerifiedTls(const std::string& dsn, const std::string& setting, bool allow_unverified,
                          const EnvironmentLookup& environment) {
  char* err = nullptr;
  std::unique_ptr<PQconninfoOption, void (*)(PQconninfoOption*)> options(PQconninfoParse(dsn.c_str(), &err),
                                                                        PQconninfoFree);
  if (!options) {
    std::string why = err != nullptr ? err : "unparsable";
    PQfreemem(err);
    while (!why.empty() && why.back() == '\n') why.pop_back();
    // libpq's message quotes no value of the string, so no password reaches it.
    return MakeError("db.bad_dsn", fmt::format("{}: {}", setting, why));
  }
  std::map<std::string, std::string> given;
  for (auto* o = options.get(); o->keyword != nullptr; ++o) {
    if (o->val != nullptr) given[o->keyword] = o->val;
  }
  auto value = [&](const std::string& key, const std::string& env) {
    if (auto it = given.find(key); it != given.end()) return it->second;
    return environment(env).value_or("");
  };
  // hostaddr, when given, is where libpq connects; host then only names the certificate.
  const std::string hostaddr = value("hostaddr", "PGHOSTADDR");
  const std::string host = value("host", "PGHOST");
  bool local = true;
  for (const auto& h : SplitCommas(hostaddr.empty() ? host : hostaddr)) local = local && Local(h);
  if (local || allow_unverified) return {};
  std::string sslmode = value("sslmode", "PGSSLMODE");
  if (sslmode == "verify-full") return {};
  if (sslmode.empty()) sslmode = "prefer";
  return MakeError("db.tls_unverified",
                   fmt::format("{}: the connection to {} does not verify the server (sslmode={}): add "
                               "sslmode=verify-full and sslrootcert=<the CA that signed its certificate>, or, for a "
                               "database on a private network only this site uses, set {}_ALLOW_UNVERIFIED=true",
                               setting, hostaddr.empty() ? host : hostaddr, sslmode, setting));
}

}  // namespace dcops::db
