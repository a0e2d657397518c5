#include "dcops/redfish/client.hpp"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <optional>
#include <system_error>
#include <thread>

#include "dcops/http/credential_tag.hpp"
#include "dcops/redfish/errors.hpp"

namespace dcops::redfish {
namespace {

constexpr const char* kServiceRoot = "/redfish/v1";

std::string LoginBody(const std::string& user, const std::string& password) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("UserName");
  w.String(user.c_str(), static_cast<rapidjson::SizeType>(user.size()));
  w.Key("Password");
  w.String(password.c_str(), static_cast<rapidjson::SizeType>(password.size()));
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

http::Headers JsonHeaders() {
  return {{"Accept", "application/json"}, {"Content-Type", "application/json"},
          {"OData-Version", "4.0"}};
}

}  // namespace

Client::Client(http::Client& http, SessionCache& sessions, Target target, Clock& clock, BreakerBoard* breakers,
               ServiceCache* services)
    : http_(http),
      sessions_(sessions),
      target_(std::move(target)),
      clock_(clock),
      breakers_(breakers),
      own_services_(services == nullptr ? std::make_unique<ServiceCache>() : nullptr),
      services_(services == nullptr ? own_services_.get() : services) {}

Result<std::shared_ptr<const ServiceRoot>> Client::Root() {
  if (auto cached = services_->Root(target_.address, clock_.Steady())) return cached;
  http::Request req = Unauthenticated(http::Method::kGet, kServiceRoot);
  auto r = Execute(req);
  if (r && r->status == 401) {
    req.basic_auth = http::BasicAuth{target_.username, target_.password};
    r = Execute(req);
  }
  if (!r) return r.error();
  if (!r->ok()) return ErrorFromResponse(*r, kServiceRoot, true);
  auto doc = Document::Parse(kServiceRoot, r->body, r->Header("Content-Type"));
  if (!doc) return doc.error();
  auto root = std::make_shared<const ServiceRoot>(ReadServiceRoot(*doc));
  services_->PutRoot(target_.address, root, clock_.Steady());
  return root;
}

Result<ServiceMap> Client::Map() {
  if (auto cached = services_->Map(target_.address, clock_.Steady())) return *cached;
  auto root = Root();
  if (!root) return root.error();
  std::vector<std::string> systems, managers;
  std::optional<Document> system;
  if (!(*root)->systems.empty()) {
    auto coll = Get((*root)->systems);
    if (!coll) return coll.error();
    auto ids = coll->MemberIds();
    if (!ids) return ids.error();
    systems = std::move(*ids);
    if (systems.size() == 1) {
      auto sys = Get(systems.front());
      if (!sys) return sys.error();
      system = std::move(*sys);
    }
  }
  // The managers collection only when the system does not say which manager is its own.
  const bool managed_by = system && !system->LinkIds("Links/ManagedBy").value_or(std::vector<std::string>{}).empty();
  if (!managed_by && !(*root)->managers.empty()) {
    auto coll = Get((*root)->managers);
    if (!coll) return coll.error();
    auto ids = coll->MemberIds();
    if (!ids) return ids.error();
    managers = std::move(*ids);
  }
  auto map = Identify(*root, systems, managers, system ? &*system : nullptr);
  if (!map) return map.error();
  services_->PutMap(target_.address, *map, clock_.Steady());
  return map;
}

void Client::ForgetService() { services_->Forget(target_.address); }

Result<http::Response> Client::Execute(const http::Request& request) {
  if (breakers_ == nullptr) return http_.Execute(request);
  if (auto st = breakers_->Allow(target_.address, clock_.Steady()); !st) return st.error();
  auto r = http_.Execute(request);
  if (!r) {
    breakers_->Record(target_.address, BreakerBoard::CountsAsFailure(r.error()), r.error().message, clock_.Steady());
  } else {
    breakers_->Record(target_.address, BreakerBoard::CountsAsFailure(r->status),
                      fmt::format("HTTP {}", r->status), clock_.Steady());
  }
  return r;
}

http::Request Client::Unauthenticated(http::Method method, const std::string& path) const {
  http::Request req;
  req.method = method;
  req.url = Url(path);
  req.headers = JsonHeaders();
  req.tls = target_.tls;
  req.min_interval = target_.min_interval;
  return req;
}

std::string Client::Url(const std::string& path) const {
  return "https://" + target_.address + path;
}

Result<std::string> Client::Token() {
  if (sessions_.BasicOnly(target_.address)) return std::string();
  const std::string tag = http::CredentialTag(target_.username, target_.password);
  if (auto s = sessions_.Find(target_.address, target_.username, tag, clock_.Steady())) return s->token;
  // One login per BMC at a time; whoever waited finds the session the first one opened.
  auto gate = sessions_.LoginGate(target_.address);
  if (auto s = sessions_.Find(target_.address, target_.username, tag, clock_.Steady())) return s->token;
  auto root = Root();
  if (!root) return root.error();
  const std::string& path = (*root)->sessions;
  if (path.empty()) {  // the service offers no sessions
    sessions_.MarkBasicOnly(target_.address);
    return std::string();
  }
  bool reclaimed = false;
  for (;;) {
    auto r = PostLogin(path);
    if (!r) return r.error();
    if (r->status == 404 || r->status == 405) {  // advertised, but it takes no logins
      sessions_.MarkBasicOnly(target_.address);
      return std::string();
    }
    if (r->status != 201 && r->status != 200) {
      auto e = ErrorFromResponse(*r, path, false);
      // The BMC's cap is full: log out sessions of ours left there (a killed predecessor's,
      // or a DELETE that failed), then try this login once more.
      if (e.code == "redfish.session_cap" && !reclaimed) {
        reclaimed = true;
        if (DeleteSessions(http_, sessions_, sessions_.TakeOrphans(target_.address)).deleted > 0) continue;
      }
      return e;
    }
    const std::string token = r->Header("X-Auth-Token");
    if (token.empty()) {
      return MakeError("redfish.schema", path + ": session created without an X-Auth-Token header");
    }
    sessions_.Put(CachedSession{target_.address, target_.username, token, r->Header("Location"), target_.tls,
                                clock_.Steady(), 0, tag});
    return token;
  }
}

Result<http::Response> Client::PostLogin(const std::string& path) {
  http::Request req = Unauthenticated(http::Method::kPost, path);
  req.body = LoginBody(target_.username, target_.password);
  return Execute(req);
}

Status Client::VerifyLogin() {
  auto root = Root();
  if (!root) return root.error();
  if (const std::string& path = (*root)->sessions; !path.empty()) {
    auto r = PostLogin(path);
    if (!r) return r.error();
    if (r->status != 404 && r->status != 405) {
      if (r->status != 201 && r->status != 200) return ErrorFromResponse(*r, path, false);
      CachedSession proof{target_.address, target_.username, r->Header("X-Auth-Token"), r->Header("Location"),
                          target_.tls, {}, 0, {}};
      sessions_.Track(proof);
      DeleteSessions(http_, sessions_, {proof});
      return Status();
    }
  }
  // No session service: a basic-auth read of a resource that needs credentials proves the same.
  const std::string probe = !(*root)->systems.empty() ? (*root)->systems : (*root)->managers;
  if (probe.empty()) return MakeError("redfish.schema", "/redfish/v1: links neither Systems nor Managers");
  http::Request req = Unauthenticated(http::Method::kGet, probe);
  req.basic_auth = http::BasicAuth{target_.username, target_.password};
  auto r = Execute(req);
  if (!r) return r.error();
  if (!r->ok()) return ErrorFromResponse(*r, probe, true);
  return Status();
}

Result<http::Response> Client::SendOnce(http::Request request, const std::string& token) {
  if (token.empty()) {
    request.basic_auth = http::BasicAuth{target_.username, target_.password};
  } else {
    request.headers.emplace_back("X-Auth-Token", token);
  }
  return Execute(request);
}

Result<http::Response> Client::Send(http::Method method, const std::string& path,
                                    const std::string& body) {
  http::Request req;
  req.method = method;
  req.headers = JsonHeaders();
  req.body = body;
  return Send(std::move(req), path);
}

Result<http::Response> Client::Send(http::Request req, const std::string& path) {
  // Every resource is a path on this BMC: a link, action target or task location that is not
  // one could name another host ("@host/x" after the address) and is refused unsent.
  if (path.empty() || path.front() != '/') {
    return MakeError("redfish.schema", fmt::format("{}: the BMC named a resource that is not a path on itself: {}",
                                                   target_.address, path.substr(0, 200)));
  }
  req.url = Url(path);
  req.tls = target_.tls;
  req.min_interval = target_.min_interval;
  auto token = Token();
  if (!token) return token.error();
  auto r = SendOnce(req, *token);
  if (r && r->status == 401 && !token->empty()) {
    // The BMC forgot the session (restart, timeout): authenticate again, once.
    sessions_.Drop(target_.address, *token);
    auto fresh = Token();
    if (!fresh) return fresh.error();
    r = SendOnce(req, *fresh);
  }
  if (!r) return r.error();
  if (!r->ok()) return ErrorFromResponse(*r, path, req.method == http::Method::kGet);
  return r;
}

Result<http::Response> Client::GetRaw(const std::string& path) {
  http::Request req;
  req.headers = {{"OData-Version", "4.0"}};
  return Send(std::move(req), path);
}

Result<http::Response> Client::PostForm(const std::string& path, std::vector<http::FormPart> parts,
                                        std::chrono::milliseconds timeout) {
  http::Request req;
  req.method = http::Method::kPost;
  req.headers = {{"Accept", "application/json"}, {"OData-Version", "4.0"}};  // curl sets the multipart type
  req.form = std::move(parts);
  req.timeout = timeout;
  return Send(std::move(req), path);
}

Result<Document> Client::Get(const std::string& path) {
  auto r = Send(http::Method::kGet, path, "");
  if (!r) return r.error();
  return Document::Parse(path, r->body, r->Header("Content-Type"));
}

Result<http::Response> Client::Post(const std::string& path, const std::string& json_body) {
  return Send(http::Method::kPost, path, json_body);
}

Result<http::Response> Client::Patch(const std::string& path, const std::string& json_body) {
  return Send(http::Method::kPatch, path, json_body);
}

namespace {

// The path of a session's Location on its own BMC: an absolute URL keeps only its path, so the
// token in the DELETE goes to the BMC that issued it, whatever host the header named; "" when
// there is no path.
std::string SessionPath(const std::string& location) {
  std::string path = location;
  if (location.rfind("https://", 0) == 0 || location.rfind("http://", 0) == 0) {
    const auto slash = location.find('/', location.find("//") + 2);
    path = slash == std::string::npos ? "" : location.substr(slash);
  }
  return path.empty() || path.front() != '/' ? "" : path;
}

}  // namespace

SessionSweep DeleteSessions(http::Client& http, SessionCache& cache, const std::vector<CachedSession>& sessions,
                            int parallel) {
  // One DELETE with the session's own token; true when the session is gone. A logout that
  // cannot be answered within kLogoutTimeout is left to the journal (an orphan, tried again
  // later): a hung BMC must not hold a worker's shutdown past what its supervisor allows.
  auto logout = [&http, &cache](const CachedSession& s) {
    const std::string path = SessionPath(s.location);
    if (path.empty() || s.token.empty()) {
      cache.Settled(s, true);  // nothing to address a DELETE to
      return true;
    }
    bool gone = false;
    try {
      http::Request req;
      req.method = http::Method::kDelete;
      req.url = "https://" + s.address + path;
      req.headers = {{"X-Auth-Token", s.token}};
      req.tls = s.tls;
      req.timeout = kLogoutTimeout;
      auto r = http.Execute(req);
      gone = r && (r->ok() || r->status == 401 || r->status == 404 || r->status == 410);
    } catch (const std::exception&) {
      gone = false;  // kept as an orphan: tried again later
    }
    cache.Settled(s, gone);
    return gone;
  };
  // Each BMC's sessions together, in the order given.
  std::vector<std::vector<const CachedSession*>> by_bmc;
  std::map<std::string, std::size_t> index;
  for (const auto& s : sessions) {
    auto [it, added] = index.emplace(s.address, by_bmc.size());
    if (added) by_bmc.emplace_back();
    by_bmc[it->second].push_back(&s);
  }
  std::atomic<int> deleted{0}, kept{0};
  std::atomic<std::size_t> next{0};
  auto sweep_bmcs = [&] {
    for (std::size_t i = next++; i < by_bmc.size(); i = next++) {
      for (const CachedSession* s : by_bmc[i]) ++(logout(*s) ? deleted : kept);
    }
  };
  const std::size_t threads = std::min(by_bmc.size(), static_cast<std::size_t>(std::max(parallel, 1)));
  {
    // jthreads join when the block ends, an exception's way out too: the helpers use this
    // frame's locals, and the counts are read only after the last one's last logout.
    std::vector<std::jthread> pool;
    for (std::size_t t = 1; t < threads; ++t) {
      try {
        pool.emplace_back(sweep_bmcs);
      } catch (const std::system_error&) {
        break;  // no more threads to be had: the ones running, and this one, do the rest
      }
    }
    sweep_bmcs();
  }
  return {deleted.load(), kept.load()};
}

}  // namespace dcops::redfish
