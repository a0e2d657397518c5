#include "dcops/db/tls_policy.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <libpq-fe.h>

#include <algorithm>
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

namespace {

using Given = std::map<std::string, std::string>;

Result<Given> Parse(const std::string& dsn, const std::string& setting) {
  char* err = nullptr;
  std::unique_ptr<PQconninfoOption, void (*)(PQconninfoOption*)> options(PQconninfoParse(dsn.c_str(), &err),
                                                                        PQconninfoFree);
  PQfreemem(err);
  if (!options) return MakeError("db.bad_dsn", fmt::format("{}: not a PostgreSQL connection string or URL", setting));
  Given given;
  for (auto* o = options.get(); o->keyword != nullptr; ++o) {
    if (o->val != nullptr) given[o->keyword] = o->val;
  }
  return given;
}

}  // namespace

std::optional<std::string> DsnPassword(const std::string& dsn) {
  auto given = Parse(dsn, "");
  if (!given) return std::nullopt;
  auto it = given->find("password");
  if (it == given->end() || it->second.empty()) return std::nullopt;
  return it->second;
}

Status RequireVerifiedTls(const std::string& dsn, const std::string& setting,
                          const std::string& unverified_hosts, const EnvironmentLookup& environment) {
  auto given = Parse(dsn, setting);
  if (!given) return given.error();
  auto value = [&](const std::string& key, const std::string& env) {
    if (auto it = given->find(key); it != given->end()) return it->second;
    return environment(env).value_or("");
  };
  std::string sslmode = value("sslmode", "PGSSLMODE");
  if (sslmode == "verify-full") return {};
  if (sslmode.empty()) sslmode = "prefer";
  // Host by host: the i-th hostaddr, when given, is where libpq connects for the i-th host.
  const auto hosts = SplitCommas(value("host", "PGHOST"));
  const auto addrs = SplitCommas(value("hostaddr", "PGHOSTADDR"));
  std::vector<std::string> allowed;
  for (auto& h : SplitCommas(unverified_hosts)) {
    h.erase(0, h.find_first_not_of(' '));
    h.erase(h.find_last_not_of(' ') + 1);
    if (!h.empty()) allowed.push_back(h);
  }
  std::vector<std::string> remote;
  if (!value("service", "PGSERVICE").empty()) remote.push_back("service " + value("service", "PGSERVICE"));
  for (std::size_t i = 0; i < std::max(hosts.size(), addrs.size()); ++i) {
    const std::string addr = i < addrs.size() ? addrs[i] : "";
    const std::string host = i < hosts.size() ? hosts[i] : "";
    const std::string target = addr.empty() ? host : addr;
    if (Local(target)) continue;
    if (std::find(allowed.begin(), allowed.end(), target) != allowed.end()) continue;
    remote.push_back(target);
  }
  if (remote.empty()) return {};
  return MakeError("db.tls_unverified",
                   fmt::format("{}: the connection to {} does not verify the server (sslmode={}): add "
                               "sslmode=verify-full and sslrootcert=<the CA that signed its certificate>, or, for a "
                               "database on a private network only this site uses, name it in {}_ALLOW_UNVERIFIED "
                               "(e.g. {}_ALLOW_UNVERIFIED={})",
                               setting, fmt::join(remote, ", "), sslmode, setting, setting, remote.front()));
}

}  // namespace dcops::db
