#include "commands.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cctype>
#include <istream>
#include <iterator>
#include <map>
#include <ostream>
#include <regex>

#include "render.hpp"

namespace dcops::cli {

const char* const kUsage =
    "usage: dcops jobs [--status S] [--limit N] [--json]\n"
    "       dcops job create TYPE --target T [--target T ...] [--param k=v ...] [--params-json JSON]\n"
    "                        [--priority N] [--idempotency-key K] [--first-contact] [--watch] [--json]\n"
    "       dcops job show ID [--json]\n"
    "       dcops job watch ID [--interval MS]\n"
    "       dcops job cancel ID [--json]\n"
    "       dcops job resume ID --retry | --evacuate | --skip-host [--json]\n"
    "       dcops agents [--json]\n"
    "       dcops credentials list [--json]\n"
    "       dcops credentials set NAME --kind KIND --user USER --password-stdin | --key-stdin\n"
    "       dcops credentials scope NAME (--networks CIDR[,CIDR...] [--hosts NAME[,NAME...]] | --hosts ... |\n"
    "                                     --unrestricted)\n"
    "       dcops conflicts [--status open|resolved|dismissed|cleared|all] [--limit N] [--json]\n"
    "       dcops conflict resolve ID --action dismiss|merge|link|unlink|assign|accept [--server SERVER_UUID]\n"
    "                                 [--note TEXT] [--json]\n"
    "targets: all | server UUID | BMC address[:port] | CIDR or a.b.c.d-a.b.c.e (discovery)\n"
    "first contact: credentials go only to known servers whose certificate is pinned or verified;\n"
    "  --first-contact (an admin's job) lets them reach others. A credential set's scope bounds where\n"
    "  it may go at all (discovery tries a set only inside its scope)\n"
    "conflicts: server identity the inventory would not decide. ID is the conflict's UUID or its first\n"
    "  8 or more digits (as `dcops conflicts` shows). dismiss keeps the servers apart; merge folds them\n"
    "  into --server; assign gives the address to --server; link (to --server) / unlink pin a vCenter host;\n"
    "  accept gives --server the evidence that disagreed with it (a replaced board)\n"
    "paused jobs (a rolling update a blocker stopped): --retry runs the paused step again, --evacuate\n"
    "  also moves that host's powered-off VMs, --skip-host leaves that host and goes on; `job watch`\n"
    "  ends with exit status 3 while a job is paused\n"
    "environment: DCOPS_API_URL (default http://127.0.0.1:8080), DCOPS_API_TOKEN_FILE or DCOPS_API_TOKEN\n";

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

int Usage(Terminal& t, const std::string& why) {
  t.err << "dcops: " << why << "\n" << kUsage;
  return 2;
}

int Failed(Terminal& t, const Error& e) {
  t.err << "dcops: " << e.message << "\n";
  return 1;
}

Result<rapidjson::Document> Get(ApiTransport& api, const std::string& path) {
  auto body = api.Call("GET", path, "");
  if (!body) return body.error();
  rapidjson::Document d;
  d.Parse(body->c_str());
  if (d.HasParseError() || !d.IsObject()) return MakeError("api.malformed", "the dispatcher answered with something that is not JSON");
  return d;
}

// A listing: the raw array with --json, else a table.
int List(const Invocation& inv, ApiTransport& api, Terminal& t, const std::string& path, const char* key,
         std::string (*table)(const rapidjson::Value&)) {
  auto d = Get(api, path);
  if (!d) return Failed(t, d.error());
  if (!d->HasMember(key) || !(*d)[key].IsArray()) return Failed(t, MakeError("api.malformed", std::string("no ") + key + " in the answer"));
  if (inv.Has("--json")) {
    rapidjson::StringBuffer buf;
    Writer w(buf);
    (*d)[key].Accept(w);
    t.out << buf.GetString() << "\n";
  } else {
    t.out << table((*d)[key]);
  }
  return 0;
}

int CountLines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

int Watch(const std::string& id, ApiTransport& api, Clock& clock, Terminal& t, std::chrono::milliseconds interval) {
  long last_event = 0;
  int frame_lines = 0;
  bool warned = false;
  std::string last_progress;
  std::map<std::string, std::string> step_status;
  bool seen_finished = false, seen_paused = false;
  for (;;) {
    // Events first, then the job: the job read after them knows every step they name.
    auto events = Get(api, fmt::format("/api/v1/jobs/{}/events?after={}", id, last_event));
    auto job = Get(api, "/api/v1/jobs/" + id);
    if (!job) {
      if (!job.error().retryable && job.error().code != "http.connect") return Failed(t, job.error());
      if (!warned) t.err << "dcops: " << job.error().message << "; still watching\n";
      warned = true;
      clock.SleepFor(interval);
      continue;
    }
    warned = false;
    std::string lines;
    if (events && events->HasMember("events") && (*events)["events"].IsArray()) {
      for (const auto& e : (*events)["events"].GetArray()) {
        lines += EventLine(e, *job) + "\n";
        if (e.HasMember("id") && e["id"].IsInt64()) last_event = std::max(last_event, static_cast<long>(e["id"].GetInt64()));
      }
    }
    const std::string status = (*job)["status"].IsString() ? (*job)["status"].GetString() : "";
    if (t.interactive) {
      if (frame_lines > 0) t.out << fmt::format("\x1b[{}A\x1b[J", frame_lines);
      const std::string frame = JobFrame(*job, 25);
      t.out << lines << frame << std::flush;
      frame_lines = CountLines(frame);
    } else {
      t.out << lines;
      if (job->HasMember("steps") && (*job)["steps"].IsArray()) {
        for (const auto& s : (*job)["steps"].GetArray()) {
          const std::string task = s["id"].GetString(), now = s["status"].GetString();
          auto& before = step_status[task];
          if (before != now && (now == "running" || now == "paused" || IsFinished(now) || now == "skipped")) {
            t.out << fmt::format("step {} {}{}\n", s["target"].GetString(), now,
                                 (now == "failed" || now == "paused") && s["error_message"].IsString()
                                     ? std::string(": ") + s["error_message"].GetString() : "");
          }
          before = now;
        }
      }
      const std::string progress = ProgressLine(*job);
      if (progress != last_progress) t.out << progress << "\n";
      last_progress = progress;
      t.out << std::flush;
    }
    // The events of a job's last moments commit with its end: they are certainly read only by
    // an events read made after the job was seen finished, so that takes one more round.
    if (status == "paused") {
      // An operator decides how it goes on; a script watching it learns so by the status. One
      // more round first, as for a finished job: the pause's own events commit with it.
      if (seen_paused) {
        t.out << JobSummary(*job) << "\n";
        return 3;
      }
      seen_paused = true;
      continue;
    }
    seen_paused = false;
    if (IsFinished(status) && seen_finished && (!events || (*events)["events"].Empty())) {
      t.out << JobSummary(*job) << "\n";
      return status == "succeeded" ? 0 : 1;
    }
    seen_finished = IsFinished(status);
    if (!seen_finished) clock.SleepFor(interval);
  }
}

// POST /api/v1/jobs/<id>/<action>; prints "job <id>: <result>" (or the answer, with --json).
int JobAction(const Invocation& inv, ApiTransport& api, Terminal& t, const std::string& id, const std::string& action,
              const std::string& body_json) {
  auto body = api.Call("POST", "/api/v1/jobs/" + id + "/" + action, body_json);
  if (!body) return Failed(t, body.error());
  if (inv.Has("--json")) {
    t.out << *body << "\n";
    return 0;
  }
  rapidjson::Document d;
  d.Parse(body->c_str());
  t.out << "job " << id << ": " << (d.IsObject() && d.HasMember("result") && d["result"].IsString() ? d["result"].GetString() : "?")
        << "\n";
  return 0;
}

// Continues a paused job the way the operator chose.
int JobResume(const Invocation& inv, ApiTransport& api, Terminal& t) {
  const auto& w = inv.words;
  if (w.size() != 3 || !IsUuid(w[2])) return Usage(t, "job resume needs a job id (a UUID)");
  std::vector<std::string> chosen;
  for (const auto& [flag, resolution] : {std::pair{"--retry", "retry"}, std::pair{"--evacuate", "evacuate"},
                                         std::pair{"--skip-host", "skip_host"}}) {
    if (inv.Has(flag)) chosen.emplace_back(resolution);
  }
  if (chosen.size() != 1) return Usage(t, "job resume takes one of --retry, --evacuate, --skip-host");
  return JobAction(inv, api, t, w[2], "resume", fmt::format(R"({{"resolution":"{}"}})", chosen[0]));
}

int JobCreate(const Invocation& inv, ApiTransport& api, Clock& clock, Terminal& t) {
  if (inv.words.size() != 3) return Usage(t, "job create needs exactly one job type");
  auto scope = ScopeJson(inv.flags.count("--target") ? inv.flags.at("--target") : std::vector<std::string>{},
                         inv.Has("--first-contact"));
  if (!scope) return Usage(t, scope.error().message);
  std::string params = "{}";
  if (inv.Has("--params-json")) {
    if (inv.Has("--param")) return Usage(t, "use --param or --params-json, not both");
    params = inv.Get("--params-json");
    rapidjson::Document check;
    check.Parse(params.c_str());
    if (check.HasParseError() || !check.IsObject()) return Usage(t, "--params-json: must be a JSON object");
  } else {
    auto p = ParamsJson(inv.flags.count("--param") ? inv.flags.at("--param") : std::vector<std::string>{});
    if (!p) return Usage(t, p.error().message);
    params = *p;
  }
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("job_type");
  w.String(inv.words[2].c_str());
  w.Key("target_scope");
  w.RawValue(scope->c_str(), scope->size(), rapidjson::kObjectType);
  w.Key("params");
  w.RawValue(params.c_str(), params.size(), rapidjson::kObjectType);
  if (inv.Has("--priority")) {
    const std::string p = inv.Get("--priority");
    if (!std::regex_match(p, std::regex("^-?[0-9]{1,3}$"))) return Usage(t, "--priority: an integer from -100 to 100");
    w.Key("priority");
    w.Int(std::stoi(p));
  }
  if (inv.Has("--idempotency-key")) {
    w.Key("idempotency_key");
    w.String(inv.Get("--idempotency-key").c_str());
  }
  w.EndObject();
  auto body = api.Call("POST", "/api/v1/jobs", buf.GetString());
  if (!body) return Failed(t, body.error());
  rapidjson::Document d;
  d.Parse(body->c_str());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("id") || !d["id"].IsString()) {
    return Failed(t, MakeError("api.malformed", "no job id in the answer"));
  }
  const std::string id = d["id"].GetString();
  if (inv.Has("--json")) {
    t.out << *body << "\n";
  } else {
    t.out << id << "\n";
  }
  return inv.Has("--watch") ? Watch(id, api, clock, t, std::chrono::milliseconds(500)) : 0;
}

int CredentialsSet(const Invocation& inv, ApiTransport& api, Terminal& t) {
  if (inv.words.size() != 3) return Usage(t, "credentials set needs a NAME");
  if (!inv.Has("--kind") || !inv.Has("--user")) return Usage(t, "credentials set needs --kind and --user");
  // The secret is read from standard input only, so it is in no shell history or process list:
  // a password (its first line), or an SSH private key (all of it; ESXi and ZFS hosts).
  if (!inv.Has("--password-stdin") && !inv.Has("--key-stdin")) {
    return Usage(t, "credentials set reads the password with --password-stdin (or an SSH private key with --key-stdin)");
  }
  std::string password;
  if (inv.Has("--key-stdin")) {
    password.assign(std::istreambuf_iterator<char>(t.in), std::istreambuf_iterator<char>());
    if (password.find("PRIVATE KEY-----") == std::string::npos) return Usage(t, "no private key on standard input");
  } else {
    std::getline(t.in, password);
    if (!password.empty() && password.back() == '\r') password.pop_back();
  }
  if (password.empty()) return Usage(t, "no password on standard input");
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("kind");
  w.String(inv.Get("--kind").c_str());
  w.Key("username");
  w.String(inv.Get("--user").c_str());
  w.Key("password");
  w.String(password.c_str(), static_cast<rapidjson::SizeType>(password.size()));
  w.EndObject();
  auto body = api.Call("PUT", "/api/v1/credential-sets/" + inv.words[2], buf.GetString());
  if (!body) return Failed(t, body.error());
  t.out << "credential set " << inv.words[2] << " stored\n";
  return 0;
}

// Where a credential set may be sent: networks and/or host names, or anywhere (--unrestricted).
int CredentialsScope(const Invocation& inv, ApiTransport& api, Terminal& t) {
  if (inv.words.size() != 3) return Usage(t, "credentials scope needs a NAME");
  const bool unrestricted = inv.Has("--unrestricted");
  if (unrestricted == (inv.Has("--networks") || inv.Has("--hosts"))) {
    return Usage(t, "credentials scope takes --networks and/or --hosts, or --unrestricted");
  }
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  for (const char* flag : {"--networks", "--hosts"}) {
    if (!inv.Has(flag)) continue;
    w.Key(flag + 2);
    w.StartArray();
    for (const auto& v : SplitCommas(inv.flags.at(flag))) w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
    w.EndArray();
  }
  w.EndObject();
  auto body = api.Call("PUT", "/api/v1/credential-sets/" + inv.words[2] + "/scope", buf.GetString());
  if (!body) return Failed(t, body.error());
  t.out << "credential set " << inv.words[2] << (unrestricted ? " may go to any known target\n" : " scoped\n");
  return 0;
}

int Conflicts(const Invocation& inv, ApiTransport& api, Terminal& t) {
  const std::string status = inv.Get("--status", "open");
  if (!std::regex_match(status, std::regex("^(open|resolved|dismissed|cleared|all)$"))) {
    return Usage(t, "--status: open, resolved, dismissed, cleared or all");
  }
  const std::string limit = inv.Get("--limit", "200");
  if (!std::regex_match(limit, std::regex("^[0-9]{1,4}$"))) return Usage(t, "--limit: a number");
  return List(inv, api, t, "/api/v1/identity-conflicts?status=" + status + "&limit=" + limit, "identity_conflicts",
              ConflictsTable);
}

// The open conflict whose id is `id`, or begins with it (the listing's short ids).
Result<std::string> OpenConflictId(const std::string& id, ApiTransport& api) {
  if (IsUuid(id)) return id;
  std::string prefix = id;
  for (char& c : prefix) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto d = Get(api, "/api/v1/identity-conflicts?status=open&limit=1000");
  if (!d) return d.error();
  if (!d->HasMember("identity_conflicts") || !(*d)["identity_conflicts"].IsArray()) {
    return MakeError("api.malformed", "no identity_conflicts in the answer");
  }
  std::vector<std::string> found;
  for (const auto& c : (*d)["identity_conflicts"].GetArray()) {
    if (c.IsObject() && c.HasMember("id") && c["id"].IsString() && std::string(c["id"].GetString()).rfind(prefix, 0) == 0) {
      found.emplace_back(c["id"].GetString());
    }
  }
  if (found.empty()) return MakeError("cli.not_found", "no open identity conflict has an id starting " + id);
  if (found.size() > 1) {
    return MakeError("cli.ambiguous",
                     fmt::format("{} open identity conflicts have ids starting {}; give more of the id", found.size(), id));
  }
  return found.front();
}

int ConflictResolve(const Invocation& inv, ApiTransport& api, Terminal& t) {
  if (inv.words.size() != 3 || !std::regex_match(inv.words[2], std::regex("^[0-9a-fA-F][0-9a-fA-F-]{7,35}$"))) {
    return Usage(t, "conflict resolve needs a conflict id (a UUID, or its first 8 or more digits)");
  }
  const std::string action = inv.Get("--action");
  if (!std::regex_match(action, std::regex("^(dismiss|merge|link|unlink|assign|accept)$"))) {
    return Usage(t, "--action: dismiss, merge, link, unlink, assign or accept");
  }
  const std::string server = inv.Get("--server");
  if (!server.empty() && !IsUuid(server)) return Usage(t, "--server: a server id (a UUID)");
  if (server.empty() && (action == "merge" || action == "link" || action == "assign" || action == "accept")) {
    return Usage(t, "--action " + action + " needs --server SERVER_UUID");
  }
  if (!server.empty() && (action == "dismiss" || action == "unlink")) {
    return Usage(t, "--action " + action + " takes no --server");
  }
  auto id = OpenConflictId(inv.words[2], api);
  if (!id) return Failed(t, id.error());
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("action");
  w.String(action.c_str(), static_cast<rapidjson::SizeType>(action.size()));
  if (!server.empty()) {
    w.Key("server_id");
    w.String(server.c_str(), static_cast<rapidjson::SizeType>(server.size()));
  }
  const std::string note = inv.Get("--note");
  if (!note.empty()) {
    w.Key("note");
    w.String(note.c_str(), static_cast<rapidjson::SizeType>(note.size()));
  }
  w.EndObject();
  auto body = api.Call("POST", "/api/v1/identity-conflicts/" + *id + "/resolve", buf.GetString());
  if (!body) return Failed(t, body.error());
  if (inv.Has("--json")) {
    t.out << *body << "\n";
    return 0;
  }
  rapidjson::Document d;
  d.Parse(body->c_str());
  if (d.HasParseError() || !d.IsObject()) return Failed(t, MakeError("api.malformed", "no conflict in the answer"));
  t.out << ConflictSummary(d);
  return 0;
}

}  // namespace

int RunCommand(const Invocation& inv, ApiTransport& api, Clock& clock, Terminal& t) {
  const auto& w = inv.words;
  auto word = [&w](std::size_t i) { return i < w.size() ? w[i] : std::string(); };
  if (w.empty() || inv.Has("--help")) {
    t.out << kUsage;
    return w.empty() && !inv.Has("--help") ? 2 : 0;
  }
  if (word(0) == "jobs" && w.size() == 1) {
    std::string path = "/api/v1/jobs?limit=" + inv.Get("--limit", "50");
    if (!std::regex_match(inv.Get("--limit", "50"), std::regex("^[0-9]{1,4}$"))) return Usage(t, "--limit: a number");
    if (inv.Has("--status")) {
      const std::string s = inv.Get("--status");
      if (!std::regex_match(s, std::regex("^[a-z]+$"))) return Usage(t, "--status: a job status such as running");
      path += "&status=" + s;
    }
    return List(inv, api, t, path, "jobs", JobsTable);
  }
  if (word(0) == "agents" && w.size() == 1) return List(inv, api, t, "/api/v1/agents", "agents", AgentsTable);
  if (word(0) == "credentials" && word(1) == "list" && w.size() == 2) {
    return List(inv, api, t, "/api/v1/credential-sets", "credential_sets", CredentialSetsTable);
  }
  if (word(0) == "credentials" && word(1) == "set") return CredentialsSet(inv, api, t);
  if (word(0) == "credentials" && word(1) == "scope") return CredentialsScope(inv, api, t);
  if (word(0) == "conflicts" && w.size() == 1) return Conflicts(inv, api, t);
  if (word(0) == "conflict" && word(1) == "resolve") return ConflictResolve(inv, api, t);
  if (word(0) == "job" && word(1) == "create") return JobCreate(inv, api, clock, t);
  if (word(0) == "job" && word(1) == "resume") return JobResume(inv, api, t);
  if (word(0) == "job" && (word(1) == "show" || word(1) == "watch" || word(1) == "cancel")) {
    if (w.size() != 3 || !IsUuid(w[2])) return Usage(t, "job " + word(1) + " needs a job id (a UUID)");
    const std::string id = w[2];
    if (word(1) == "watch") {
      const std::string ms = inv.Get("--interval", "500");
      if (!std::regex_match(ms, std::regex("^[0-9]{2,5}$"))) return Usage(t, "--interval: milliseconds, 10 to 99999");
      return Watch(id, api, clock, t, std::chrono::milliseconds(std::stoi(ms)));
    }
    if (word(1) == "cancel") return JobAction(inv, api, t, id, "cancel", "");
    auto job = Get(api, "/api/v1/jobs/" + id);
    if (!job) return Failed(t, job.error());
    if (inv.Has("--json")) {
      rapidjson::StringBuffer buf;
      Writer jw(buf);
      job->Accept(jw);
      t.out << buf.GetString() << "\n";
    } else {
      t.out << JobFrame(*job, 1000);
    }
    return 0;
  }
  return Usage(t, "unknown command: " + w[0]);
}

}  // namespace dcops::cli
