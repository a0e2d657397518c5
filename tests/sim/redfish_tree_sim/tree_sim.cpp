#include "tree_sim.hpp"

#include <fmt/format.h>

#include "actions.hpp"
#include "auth.hpp"
#include "collection_view.hpp"
#include "control_state.hpp"
#include "json_util.hpp"
#include "patch.hpp"
#include "redfish_error.hpp"
#include "target.hpp"
#include "timeline.hpp"
#include "tree_index.hpp"

namespace dcops::sim::tree {
namespace {

std::string Header(const SimRequest& req, const std::string& name) {
  const auto it = req.headers.find(name);
  return it == req.headers.end() ? "" : it->second;
}

SimResponse Get(SimState& s, const Target& t) {
  if (t.path == "/redfish") {
    SimResponse r;
    r.body = R"({"v1":"/redfish/v1/"})";
    return r;
  }
  if (const auto xml = s.tree.xml.find(t.path); xml != s.tree.xml.end()) {
    SimResponse r;
    r.body = xml->second;
    r.content_type = "application/xml";
    return r;
  }
  const rapidjson::Document* doc = s.Doc(t.path);
  if (doc == nullptr) {
    if (s.actions.count(t.path) != 0) return MethodNotAllowed(t.path, "POST");
    return ResourceMissing(t.path);
  }
  SimResponse r;
  if (IsCollection(*doc)) {
    r = CollectionGet(s, t, *doc);
  } else {
    r.body = ToJson(*doc);
  }
  if (const auto etag = FindString(*doc, "@odata.etag")) r.headers.emplace_back("ETag", *etag);
  return r;
}

bool Known(SimState& s, const std::string& path) {
  return path == "/redfish" || s.Doc(path) != nullptr || s.tree.xml.count(path) != 0;
}

}  // namespace

Result<std::unique_ptr<TreeSim>> TreeSim::Create(SimOptions options) {
  auto tree = LoadTree(options.tree);
  if (!tree) return tree.error();
  std::unique_ptr<TreeSim> sim(new TreeSim());
  sim->state_.options = std::move(options);
  sim->state_.tree = std::move(*tree);
  if (auto indexed = IndexTree(sim->state_); !indexed) return indexed.error();
  return sim;
}

void TreeSim::SetClock(std::function<Clock::time_point()> now,
                       std::function<WallClock::time_point()> wall_now) {
  std::lock_guard lock(mu_);
  state_.now = std::move(now);
  state_.wall_now = std::move(wall_now);
}

std::string TreeSim::State() {
  std::lock_guard lock(mu_);
  Settle(state_);
  return StateJson(state_);
}

std::optional<std::string> TreeSim::Resource(const std::string& uri) {
  std::lock_guard lock(mu_);
  Settle(state_);
  const rapidjson::Document* doc = state_.Doc(ParseTarget(uri).path);
  if (doc == nullptr) return std::nullopt;
  return ToJson(*doc);
}

SimResponse TreeSim::Handle(const SimRequest& req) {
  std::lock_guard lock(mu_);
  Settle(state_);
  ++state_.requests;
  SimResponse r = Dispatch(req);
  r.headers.emplace_back("OData-Version", "4.0");
  if (req.method == "HEAD") r.body.clear();
  return r;
}

SimResponse TreeSim::Dispatch(const SimRequest& req) {
  SimState& s = state_;
  if (s.now() < s.unavailable_until) {
    const auto left =
        std::chrono::duration_cast<std::chrono::seconds>(s.unavailable_until - s.now());
    const std::string retry = std::to_string(left.count() + 1);
    SimResponse r = RedfishError(
        503, "ServiceTemporarilyUnavailable",
        fmt::format("The service is temporarily unavailable. Retry in {} seconds.", retry),
        {retry});
    r.headers.emplace_back("Retry-After", retry);
    return r;
  }
  const Target t = ParseTarget(req.target);
  if (!IsPublic(s, req.method, t.path) && !Authenticated(s, req)) return Unauthorized(s);
  const std::string& m = req.method;
  if (m == "GET" || m == "HEAD") return Get(s, t);
  if (m == "POST") {
    if (!s.sessions_uri.empty() && t.path == s.sessions_uri) return Login(s, req.body);
    if (const auto a = s.actions.find(t.path); a != s.actions.end()) {
      return RunAction(s, t.path, a->second, req.body);
    }
  }
  if (m == "PATCH" && s.Doc(t.path) != nullptr) {
    return Patch(s, t.path, req.body, Header(req, "if-match"));
  }
  if (m == "DELETE" && IsSession(s, t.path)) return Logout(s, t.path);
  if (s.actions.count(t.path) != 0) return MethodNotAllowed(t.path, "POST");
  if (!Known(s, t.path)) return ResourceMissing(t.path);
  const bool sessions = !s.sessions_uri.empty() && t.path == s.sessions_uri;
  return MethodNotAllowed(t.path, sessions ? "GET, HEAD, POST" : "GET, HEAD, PATCH");
}

}  // namespace dcops::sim::tree
