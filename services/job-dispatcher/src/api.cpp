#include "api.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <regex>

#include "change_feed.hpp"
#include "control_plane.hpp"
#include "dcops/common/json_depth.hpp"
#include "dcops/common/names.hpp"

namespace dcops::dispatcher {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

std::string ErrorBody(const std::string& code, const std::string& message) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("error");
  w.StartObject();
  w.Key("code");
  w.String(code.c_str(), static_cast<rapidjson::SizeType>(code.size()));
  w.Key("message");
  w.String(message.c_str(), static_cast<rapidjson::SizeType>(message.size()));
  w.EndObject();
  w.EndObject();
  return buf.GetString();
}

ApiResponse Fail(int status, const std::string& code, const std::string& message) {
  return {status, ErrorBody(code, message)};
}

// One mapping from control-plane errors to HTTP answers. SQL errors raised by the API
// functions (22023 and friends) are the caller's fault and keep their message, which names
// the parameter; 55000 (object not in prerequisite state) is a 409; lost connections are
// worth a retry; anything else is ours.
ApiResponse FromError(const Error& e) {
  std::string message = e.message;
  if (message.rfind("SQLSTATE ", 0) == 0 && message.size() > 16) message = message.substr(16);
  if (e.code == "db.sql" && (e.sqlstate.rfind("22", 0) == 0 || e.sqlstate.rfind("23", 0) == 0)) {
    return Fail(400, "invalid", message);
  }
  if (e.code == "db.sql" && e.sqlstate == "P0002") return Fail(404, "not_found", message);
  if (e.code == "db.sql" && e.sqlstate == "55000") return Fail(409, "conflict", message);
  if (e.code == "db.permission") return Fail(403, "forbidden", message);
  if (e.retryable) return Fail(503, "unavailable", "the control plane is unreachable; retry shortly");
  return Fail(500, "internal", message);
}

ApiResponse Wrap(const char* key, const std::string& array_json) {
  return {200, fmt::format("{{\"{}\":{}}}", key, array_json)};
}

bool IsUuid(const std::string& s) {
  static const std::regex re("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$");
  return std::regex_match(s, re);
}

std::string Raw(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  v.Accept(w);
  return buf.GetString();
}

Result<long> QueryInt(const ApiRequest& r, const std::string& key, long fallback, long lo, long hi) {
  auto it = r.query.find(key);
  if (it == r.query.end() || it->second.empty()) return fallback;
  try {
    std::size_t used = 0;
    const long v = std::stol(it->second, &used);
    if (used == it->second.size() && v >= lo && v <= hi) return v;
  } catch (const std::exception&) {
  }
  return MakeError("invalid", fmt::format("{}: must be an integer between {} and {}", key, lo, hi));
}

std::string Str(const rapidjson::Value& doc, const char* key) {
  return doc.HasMember(key) && doc[key].IsString() ? doc[key].GetString() : "";
}

// Far deeper than any request of this API needs (job params are a few levels deep).
constexpr std::size_t kMaxBodyNesting = 64;

// The body of POST /identity-conflicts/ID/resolve, checked field by field.
struct Resolution {
  std::string action, server_id, note;
};

Result<Resolution> ParseResolution(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str());
  if (d.HasParseError() || !d.IsObject()) return MakeError("invalid", "body: must be a JSON object");
  for (const char* key : {"action", "server_id", "note"}) {
    if (d.HasMember(key) && !d[key].IsString() && !d[key].IsNull()) {
      return MakeError("invalid", fmt::format("{}: must be a string", key));
    }
  }
  Resolution r{Str(d, "action"), Str(d, "server_id"), Str(d, "note")};
  if (r.action.empty()) return MakeError("invalid", "action: is required (dismiss, merge, link, unlink, assign or accept)");
  if (!r.server_id.empty() && !IsUuid(r.server_id)) return MakeError("invalid", "server_id: must be a server UUID");
  if (r.note.size() > 1000) return MakeError("invalid", "note: at most 1000 characters");
  return r;
}

}  // namespace

Api::Api(std::string site, std::string token, db::DbOptions db, const tls::SecretBox& secrets,
         SecretRegistry& redact, const Logger& log, std::string viewer_token)
    : site_(std::move(site)),
      access_(std::move(token), std::move(viewer_token), SystemClock::Instance()),
      secrets_(secrets),
      redact_(redact),
      log_(log) {
  db.application_name = "job-dispatcher-api";
  db_ = std::make_unique<db::Reconnector>(std::move(db), SystemClock::Instance());
}

Api::~Api() = default;

bool Api::Admits(const std::string& authorization, const std::string& cookie) {
  return !access_.Enabled() || access_.Authenticate(authorization, cookie).has_value();
}

ApiResponse Api::Handle(const ApiRequest& r) {
  if (!access_.Enabled()) {
    return Fail(503, "disabled", "the API is disabled: give the dispatcher DCOPS_API_TOKEN_FILE");
  }
  auto who = access_.Authenticate(r.authorization, r.cookie);
  if (!who) return Fail(401, "unauthorized", "missing or wrong API token (Authorization: Bearer …)");
  if (r.method != "GET") {
    if (who->role != Role::kOperator) {
      return Fail(403, "forbidden", "this needs the operator token; a viewer reads only");
    }
    if (who->session && !r.console) {
      return Fail(403, "forbidden", "a console request that changes something must send X-Dcops-Console: 1");
    }
  }
  // Every body is JSON for a parser that recurses per level: a hostile depth would overflow
  // its stack (and the database's), so it is refused before anything parses it.
  if (!JsonNestingWithin(r.body, kMaxBodyNesting)) {
    return Fail(400, "invalid", fmt::format("body: nested deeper than {} levels", kMaxBodyNesting));
  }
  // A NUL inside a JSON string would be cut off silently on its way to the database (a job
  // type or an idempotency key that is not what was sent): no field of this API takes one.
  if (r.body.find("\\u0000") != std::string::npos || r.body.find('\0') != std::string::npos) {
    return Fail(400, "invalid", "body: contains a NUL character (\\u0000)");
  }
  std::lock_guard lock(mu_);
  auto conn = db_->Get(std::chrono::milliseconds(2000));
  if (!conn) return Fail(503, "unavailable", "the control plane is unreachable; retry shortly");
  ApiResponse out = Route(r, *who, **conn);
  if (!(*conn)->Healthy()) db_->Reset();
  return out;
}

Result<std::map<std::string, long>> Api::QueueDepth() {
  std::lock_guard lock(mu_);
  auto conn = db_->Get(std::chrono::milliseconds(500));
  if (!conn) return conn.error();
  auto depth = ControlPlane(**conn).QueueDepth(site_);
  if (!(*conn)->Healthy()) db_->Reset();
  return depth;
}

ApiResponse Api::Route(const ApiRequest& r, const Principal& who, db::Connection& conn) {
  ControlPlane cp(conn);
  const std::string prefix = "/api/v1/";
  if (r.path.rfind(prefix, 0) != 0) return Fail(404, "not_found", "no such endpoint: " + r.path);
  std::vector<std::string> parts;
  for (std::size_t at = prefix.size(); at <= r.path.size();) {
    const auto slash = r.path.find('/', at);
    const auto end = slash == std::string::npos ? r.path.size() : slash;
    if (end > at) parts.push_back(r.path.substr(at, end - at));
    at = end + 1;
  }
  // The actor goes into the audit log and the logs as given: plain characters only. A console
  // session's actor is its login name, whatever the request says.
  if (!who.session && !r.actor.empty() && !IsPrintableName(r.actor, 100)) {
    return Fail(400, "invalid", "actor: 1-100 letters, digits, '.', '_', '-', ':', '@'");
  }
  const std::string actor = who.session ? who.actor : r.actor.empty() ? "api" : r.actor;
  auto is = [&](const char* method, std::size_t n) { return r.method == method && parts.size() == n; };

  if (!parts.empty() && parts[0] == "jobs") {
    if (is("GET", 1)) {
      auto limit = QueryInt(r, "limit", 50, 1, 1000);
      if (!limit) return Fail(400, "invalid", limit.error().message);
      auto it = r.query.find("status");
      auto jobs = cp.ListJobsJson(site_, static_cast<int>(*limit), it == r.query.end() ? "" : it->second);
      return jobs ? Wrap("jobs", *jobs) : FromError(jobs.error());
    }
    if (is("POST", 1)) {
      rapidjson::Document d;
      d.Parse(r.body.c_str());
      if (d.HasParseError() || !d.IsObject()) return Fail(400, "invalid", "body: must be a JSON object");
      NewJob job;
      job.site = site_;
      job.actor = actor;
      job.job_type = Str(d, "job_type");
      if (!d.HasMember("target_scope")) return Fail(400, "invalid", "target_scope: is required");
      if (d["target_scope"].IsObject() && d["target_scope"].HasMember("site") &&
          !(d["target_scope"]["site"].IsString() && d["target_scope"]["site"].GetString() == site_)) {
        return Fail(400, "invalid", "target_scope.site: this dispatcher serves site " + site_ + " only");
      }
      job.target_scope_json = Raw(d["target_scope"]);
      if (d.HasMember("params")) job.params_json = Raw(d["params"]);
      job.idempotency_key = Str(d, "idempotency_key");
      if (d.HasMember("priority")) {
        if (!d["priority"].IsInt()) return Fail(400, "invalid", "priority: must be an integer");
        job.priority = d["priority"].GetInt();
      }
      auto id = cp.CreateJob(job);
      if (!id) return FromError(id.error());
      log_.Info("job created through the API", {*id, "", "", ""}, {{"job_type", job.job_type}, {"actor", actor}});
      return {201, fmt::format(R"({{"id":"{}"}})", *id)};
    }
    if (parts.size() >= 2 && !IsUuid(parts[1])) return Fail(404, "not_found", "no job with id " + parts[1]);
    // A job of another site is not this dispatcher's to show, cancel or resume: as if absent.
    std::optional<std::string> job_json;
    if (parts.size() >= 2) {
      auto job = cp.GetJobJson(parts[1]);
      if (!job) return FromError(job.error());
      rapidjson::Document d;
      if (job->has_value()) d.Parse((*job)->c_str());
      if (!job->has_value() || d.HasParseError() || Str(d, "site") != site_) {
        return Fail(404, "not_found", "no job with id " + parts[1] + " on site " + site_);
      }
      job_json = std::move(**job);
    }
    if (is("GET", 2)) return {200, *job_json};
    if (is("GET", 3) && parts[2] == "events") {
      auto after = QueryInt(r, "after", 0, 0, std::numeric_limits<long>::max());
      if (!after) return Fail(400, "invalid", after.error().message);
      auto limit = QueryInt(r, "limit", 500, 1, 10000);
      if (!limit) return Fail(400, "invalid", limit.error().message);
      auto events = cp.JobEventsJson(parts[1], *after, static_cast<int>(*limit));
      return events ? Wrap("events", *events) : FromError(events.error());
    }
    if (is("GET", 4) && parts[2] == "steps") {
      if (!IsUuid(parts[3])) return Fail(404, "not_found", "no step with id " + parts[3]);
      auto step = cp.StepJson(site_, parts[1], parts[3]);
      if (!step) return FromError(step.error());
      if (!step->has_value()) return Fail(404, "not_found", "no step " + parts[3] + " in job " + parts[1]);
      return {200, **step};
    }
    if (is("POST", 3) && parts[2] == "cancel") {
      auto result = cp.CancelJob(parts[1], actor);
      if (!result) return FromError(result.error());
      return {200, fmt::format(R"({{"result":"{}"}})", *result)};
    }
    if (is("POST", 3) && parts[2] == "resume") {
      rapidjson::Document d;
      d.Parse(r.body.c_str());
      if (d.HasParseError() || !d.IsObject() || !d.HasMember("resolution") || !d["resolution"].IsString()) {
        return Fail(400, "invalid", "body: {\"resolution\": \"retry\" | \"evacuate\" | \"skip_host\"}");
      }
      auto result = cp.ResumeJob(parts[1], d["resolution"].GetString(), actor);
      if (!result) return FromError(result.error());
      log_.Info("job resumed through the API", {parts[1], "", "", ""},
                {{"resolution", d["resolution"].GetString()}, {"actor", actor}});
      return {200, fmt::format(R"({{"result":"{}"}})", *result)};
    }
  }
  if (is("GET", 1) && parts[0] == "whoami") {
    return {200, fmt::format(R"({{"role":"{}","actor":"{}","site":"{}"}})", RoleName(who.role),
                             who.session ? who.actor : actor, site_)};
  }
  if (is("GET", 1) && parts[0] == "job-types") {
    auto types = cp.JobTypesJson();
    return types ? Wrap("job_types", *types) : FromError(types.error());
  }
  if (is("GET", 1) && parts[0] == "schedules") {
    auto schedules = cp.SchedulesJson(site_);
    return schedules ? Wrap("schedules", *schedules) : FromError(schedules.error());
  }
  if (is("GET", 1) && parts[0] == "limits") {
    return Wrap("limits", limits_ != nullptr ? limits_->Limits() : "[]");
  }
  if (is("GET", 1) && parts[0] == "inventory") {
    auto limit = QueryInt(r, "limit", 50, 1, 500);
    if (!limit) return Fail(400, "invalid", limit.error().message);
    auto it = r.query.find("q");
    auto found = cp.SearchInventoryJson(site_, it == r.query.end() ? "" : it->second, static_cast<int>(*limit));
    return found ? ApiResponse{200, *found} : FromError(found.error());
  }
  if (is("GET", 1) && parts[0] == "agents") {
    auto agents = cp.ListAgentsJson(site_);
    return agents ? Wrap("agents", *agents) : FromError(agents.error());
  }
  if (!parts.empty() && parts[0] == "credential-sets") {
    if (is("GET", 1)) {
      auto sets = cp.ListCredentialSetsJson();
      return sets ? Wrap("credential_sets", *sets) : FromError(sets.error());
    }
    if (is("PUT", 2)) {
      rapidjson::Document d;
      d.Parse(r.body.c_str());
      if (d.HasParseError() || !d.IsObject()) return Fail(400, "invalid", "body: must be a JSON object");
      const std::string password = Str(d, "password");
      redact_.Add(password);
      if (password.empty()) return Fail(400, "invalid", "password: is required");
      const std::string name = parts[1];
      static const std::regex name_re("^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$");
      if (!std::regex_match(name, name_re)) {
        return Fail(400, "invalid", "name: letters, digits, '.', '_' and '-', at most 100, starting with a letter or digit");
      }
      const std::string kind = Str(d, "kind");
      static const std::regex kind_re("^(idrac|redfish|vcenter|esxi|ome|zfs)$");
      if (!std::regex_match(kind, kind_re)) {
        return Fail(400, "invalid", "kind: must be one of idrac, redfish, vcenter, esxi, ome, zfs");
      }
      auto sealed = secrets_.Seal(password, name);
      if (!sealed) return Fail(500, "internal", sealed.error().message);
      auto id = cp.PutCredentialSet({"", name, kind, Str(d, "username"), *sealed, secrets_.KeyId()},
                                    actor);
      if (!id) return FromError(id.error());
      log_.Info("credential set stored through the API", {}, {{"name", name}, {"actor", actor}});
      return {200, fmt::format(R"({{"id":"{}"}})", *id)};
    }
    // The set's scope: where it may be sent. Strings only; the database checks their form.
    if (is("PUT", 3) && parts[2] == "scope") {
      rapidjson::Document d;
      d.Parse(r.body.c_str());
      if (d.HasParseError() || !d.IsObject()) return Fail(400, "invalid", "body: must be a JSON object");
      std::vector<std::string> lists[2];
      const char* keys[2] = {"networks", "hosts"};
      for (int i = 0; i < 2; ++i) {
        if (!d.HasMember(keys[i])) continue;
        if (!d[keys[i]].IsArray()) return Fail(400, "invalid", std::string(keys[i]) + ": must be an array of strings");
        for (const auto& v : d[keys[i]].GetArray()) {
          if (!v.IsString()) return Fail(400, "invalid", std::string(keys[i]) + ": must be an array of strings");
          lists[i].emplace_back(v.GetString(), v.GetStringLength());
        }
      }
      auto scope = cp.SetCredentialScope(parts[1], lists[0], lists[1], actor);
      if (!scope) return FromError(scope.error());
      log_.Info("credential set scope changed through the API", {}, {{"name", parts[1]}, {"actor", actor}});
      return {200, *scope};
    }
  }
  if (!parts.empty() && parts[0] == "identity-conflicts") {
    if (is("GET", 1)) {
      auto limit = QueryInt(r, "limit", 200, 1, 1000);
      if (!limit) return Fail(400, "invalid", limit.error().message);
      auto it = r.query.find("status");
      const std::string status = it == r.query.end() || it->second.empty() ? "open" : it->second;
      auto conflicts = cp.IdentityConflictsJson(site_, status, static_cast<int>(*limit));
      return conflicts ? Wrap("identity_conflicts", *conflicts) : FromError(conflicts.error());
    }
    if (is("POST", 3) && parts[2] == "resolve") {
      if (!IsUuid(parts[1])) return Fail(404, "not_found", "no identity conflict with id " + parts[1]);
      auto res = ParseResolution(r.body);
      if (!res) return Fail(400, "invalid", res.error().message);
      auto conflict = cp.ResolveIdentityConflict(site_, parts[1], res->action, res->server_id, actor, res->note);
      if (!conflict) return FromError(conflict.error());
      log_.Info("identity conflict resolved through the API", {},
                {{"conflict_id", parts[1]}, {"action", res->action}, {"actor", actor}});
      return {200, *conflict};
    }
  }
  return Fail(404, "not_found", fmt::format("no such endpoint: {} {}", r.method, r.path));
}

}  // namespace dcops::dispatcher
