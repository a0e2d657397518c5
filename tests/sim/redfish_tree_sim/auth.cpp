#include "auth.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <random>

#include "json_util.hpp"
#include "redfish_error.hpp"

namespace dcops::sim::tree {
namespace {

std::string Header(const SimRequest& req, const std::string& name) {
  const auto it = req.headers.find(name);
  return it == req.headers.end() ? "" : it->second;
}

std::string RandomHex(size_t bytes) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string out;
  for (size_t i = 0; i < bytes; ++i)
    out += fmt::format("{:02x}", static_cast<unsigned>(rng() & 0xff));
  return out;
}

void SetMembers(SimState& s) {
  rapidjson::Document& coll = *s.Doc(s.sessions_uri);
  auto& a = coll.GetAllocator();
  rapidjson::Value members(rapidjson::kArrayType);
  for (const Session& session : s.sessions) {
    rapidjson::Value m(rapidjson::kObjectType);
    SetString(m, "@odata.id", session.uri, a);
    members.PushBack(m, a);
  }
  Set(coll, "Members", members, a);
  SetInt(coll, "Members@odata.count", static_cast<int64_t>(s.sessions.size()), a);
}

}  // namespace

std::string Base64Decode(const std::string& in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  int bits = 0;
  int buffer = 0;
  for (char c : in) {
    const int v = value(c);
    if (v < 0) continue;  // '=' padding, whitespace
    buffer = (buffer << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  return out;
}

bool IsPublic(const SimState& s, const std::string& method, const std::string& path) {
  if (path == "/redfish" || path == "/redfish/v1" || path == "/redfish/v1/odata" ||
      path == "/redfish/v1/$metadata") {
    return method == "GET" || method == "HEAD";
  }
  return method == "POST" && !s.sessions_uri.empty() && path == s.sessions_uri;
}

bool Authenticated(const SimState& s, const SimRequest& req) {
  if (!s.sessions_uri.empty()) {
    const std::string token = Header(req, "x-auth-token");
    if (!token.empty() && std::any_of(s.sessions.begin(), s.sessions.end(),
                                      [&](const Session& x) { return x.token == token; })) {
      return true;
    }
  }
  if (!s.basic_enabled) return false;
  const std::string auth = Header(req, "authorization");
  if (auth.size() < 6 || !std::equal(auth.begin(), auth.begin() + 6, "Basic ", [](char a, char b) {
        return std::tolower(static_cast<unsigned char>(a)) ==
               std::tolower(static_cast<unsigned char>(b));
      })) {
    return false;
  }
  return Base64Decode(auth.substr(6)) == s.options.user + ":" + s.options.password;
}

SimResponse Unauthorized(SimState& s) {
  ++s.unauthorized;
  SimResponse r = RedfishError(401, "NoValidSession",
                               "There is no valid session established with the implementation.");
  if (s.basic_enabled) r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"Redfish\"");
  return r;
}

SimResponse Login(SimState& s, const std::string& body) {
  auto req = ParseObject(body);
  if (!req) return MalformedJson(req.error().message);
  const auto user = FindString(*req, "UserName");
  const auto password = FindString(*req, "Password");
  if (!user || !password) {
    return RedfishError(400, "PropertyMissing",
                        "The property UserName and Password are required to create a session.",
                        {user ? "Password" : "UserName"});
  }
  if (*user != s.options.user || *password != s.options.password) {
    ++s.unauthorized;
    return RedfishError(401, "NoValidSession", "Invalid username or password.");
  }
  const std::string id = RandomHex(8);
  Session session{s.sessions_uri + "/" + id, RandomHex(16), *user};
  auto doc = std::make_unique<rapidjson::Document>();
  doc->SetObject();
  auto& a = doc->GetAllocator();
  SetString(*doc, "@odata.type", "#Session.v1_3_0.Session", a);
  SetString(*doc, "@odata.id", session.uri, a);
  SetString(*doc, "Id", id, a);
  SetString(*doc, "Name", "User Session", a);
  SetString(*doc, "UserName", *user, a);
  SimResponse r;
  r.status = 201;
  r.body = ToJson(*doc);
  r.headers.emplace_back("X-Auth-Token", session.token);
  r.headers.emplace_back("Location", session.uri);
  s.tree.json[session.uri] = std::move(doc);
  s.sessions.push_back(std::move(session));
  ++s.logins;
  SetMembers(s);
  return r;
}

bool IsSession(const SimState& s, const std::string& path) {
  return std::any_of(s.sessions.begin(), s.sessions.end(),
                     [&](const Session& x) { return x.uri == path; });
}

SimResponse Logout(SimState& s, const std::string& path) {
  std::erase_if(s.sessions, [&](const Session& x) { return x.uri == path; });
  s.tree.json.erase(path);
  SetMembers(s);
  SimResponse r;
  r.status = 204;
  return r;
}

}  // namespace dcops::sim::tree
