#include "vcenter_sync_step.hpp"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <set>

#include "dcops/agent/params.hpp"

namespace dcops::vcsync {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// What a sync sends and counts.
class Sender {
 public:
  Sender(agent::StepContext& ctx, std::size_t batch) : ctx_(ctx), batch_(batch) {}
  // Sends the cached objects `morefs` (grouped by class), `batch` objects per message.
  Status SendObjects(const InventoryCache& cache, const std::map<std::string, std::vector<std::string>>& by_class) {
    for (const char* cls : kClasses) {
      auto it = by_class.find(cls);
      if (it == by_class.end()) continue;
      for (std::size_t at = 0; at < it->second.size(); at += batch_) {
        const std::vector<std::string> part(it->second.begin() + static_cast<long>(at),
                                            it->second.begin() + static_cast<long>(std::min(at + batch_, it->second.size())));
        if (auto st = ctx_.SendInventory(std::string("vcenter.") + cls, cache.Json(cls, part)); !st) return st;
        ++batches_;
        objects_[cls] += static_cast<int>(part.size());
      }
    }
    return Status();
  }
  Status SendRemoved(const std::vector<std::pair<std::string, std::string>>& removed) {
    if (removed.empty()) return Status();
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartArray();
    for (const auto& [cls, moref] : removed) {
      w.StartObject();
      w.Key("class");
      w.String(cls.c_str());
      w.Key("moref");
      w.String(moref.c_str());
      w.EndObject();
    }
    w.EndArray();
    if (auto st = ctx_.SendInventory("vcenter.removed", std::string(buf.GetString(), buf.GetSize())); !st) return st;
    ++batches_;
    removed_ += static_cast<int>(removed.size());
    return Status();
  }
  std::string Result(const std::string& mode, const std::string& version, int round_trips) const {
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    w.Key("mode");
    w.String(mode.c_str());
    w.Key("version");
    w.String(version.c_str());
    w.Key("batches");
    w.Int(batches_);
    w.Key("objects");
    w.StartObject();
    for (const char* cls : kClasses) {
      w.Key(cls);
      auto it = objects_.find(cls);
      w.Int(it == objects_.end() ? 0 : it->second);
    }
    w.EndObject();
    w.Key("removed");
    w.Int(removed_);
    w.Key("round_trips");
    w.Int(round_trips);
    w.EndObject();
    return std::string(buf.GetString(), buf.GetSize());
  }
  int objects() const {
    int n = 0;
    for (const auto& [_, c] : objects_) n += c;
    return n;
  }

 private:
  agent::StepContext& ctx_;
  std::size_t batch_;
  int batches_ = 0;
  int removed_ = 0;
  std::map<std::string, int> objects_;
};

// An update set applied to the cache: what it changed, by class, and what left.
struct Changes {
  std::map<std::string, std::vector<std::string>> by_class;
  std::vector<std::pair<std::string, std::string>> removed;  // (class, moref)
};

void ApplyUpdates(const vsphere::UpdateSet& set, InventoryCache& cache, Changes& changes, std::set<std::string>& seen) {
  for (const auto& u : set.objects) {
    const std::string cls = ClassOf(u.obj.type);
    if (u.kind == "leave") {
      if (cache.Has(u.obj.value) && !cls.empty() && cls != "?" && seen.insert("-" + u.obj.value).second) {
        changes.removed.emplace_back(cls, u.obj.value);
      }
      cache.Remove(u.obj.value);
      continue;
    }
    for (const auto& c : u.changes) cache.Set(u.obj.type, u.obj.value, c.name, c.val);
    // A port group arrives through two filters: sent once.
    if (!cls.empty() && cls != "?" && seen.insert(u.obj.value).second) changes.by_class[cls].push_back(u.obj.value);
  }
}

std::string BaseUrl(const std::string& address) {
  return address.rfind("https://", 0) == 0 ? address : "https://" + address;
}

struct Request {
  std::string vcenter_id, address, db_version;
  int page_size = 1000;
};

Result<Request> ReadRequest(const agent::Assignment& a) {
  auto params = agent::Params::Parse(a.params_json);
  if (!params) return params.error();
  auto page = params->Int("page_size", 1, 10000);
  if (!page) return page.error();
  const rapidjson::Value* e = params->Raw("_endpoint");
  if (e == nullptr || !e->IsObject() || !e->HasMember("id") || !(*e)["id"].IsString() || !e->HasMember("address") ||
      !(*e)["address"].IsString()) {
    return agent::BadParam("_endpoint", "the dispatcher did not say which vCenter");
  }
  Request r;
  r.vcenter_id = (*e)["id"].GetString();
  r.address = (*e)["address"].GetString();
  if (e->HasMember("version") && (*e)["version"].IsString()) r.db_version = (*e)["version"].GetString();
  r.page_size = static_cast<int>(page->value_or(1000));
  return r;
}

}  // namespace

agent::StepOutcome RunVcenterSync(agent::StepContext& ctx, SyncDeps deps) {
  const auto& a = ctx.assignment();
  auto req = ReadRequest(a);
  if (!req) return agent::StepOutcome::Failed(req.error());
  vsphere::Endpoint ep;
  ep.base_url = BaseUrl(req->address);
  ep.username = a.credentials.username;
  ep.password = a.credentials.password;
  ep.tls.verify = a.tls.verify;
  ep.tls.pinned_sha256 = a.tls.pinned_sha256;
  const std::string key = fmt::format("{}|{}|{}|{}", req->address, ep.username, a.tls.pinned_sha256, a.tls.verify);
  // Batches stay well under a message's limit whatever the page size (a VM is ~0.5 KB).
  Sender sender(ctx, static_cast<std::size_t>(std::min(req->page_size, 1000)));
  int round_trips = 0;

  auto state = deps.pool.Take(req->vcenter_id);
  if (state && state->endpoint_key != key) {
    state->client->Logout();
    state.reset();
  }
  // Incremental, when this agent's session is where the database is.
  if (state && !req->db_version.empty() && state->version == req->db_version) {
    state->client->SetPassword(ep.password);
    Changes changes;
    std::set<std::string> seen;
    std::string version = state->version;
    Status read;
    for (;;) {
      ++round_trips;
      auto set = state->client->WaitForUpdates(version, 0, req->page_size);
      if (!set) {
        read = set.error();
        break;
      }
      if (!*set) break;  // nothing changed
      ApplyUpdates(**set, state->cache, changes, seen);
      version = (*set)->version;
      if (!(*set)->truncated) break;
    }
    if (read) {
      if (auto st = sender.SendObjects(state->cache, changes.by_class); !st) return agent::StepOutcome::Failed(st.error());
      if (auto st = sender.SendRemoved(changes.removed); !st) return agent::StepOutcome::Failed(st.error());
      state->version = version;
      state->last_used = std::chrono::steady_clock::now();
      ctx.Progress(99, fmt::format("{} changed object(s), {} removed", sender.objects(), changes.removed.size()));
      const std::string result = sender.Result("incremental", version, round_trips);
      deps.pool.Give(req->vcenter_id, std::move(state));
      return agent::StepOutcome::Succeeded(result);
    }
    ctx.Event(LogLevel::kWarn, fmt::format("incremental read failed ({}); reading everything", read.error().message));
    state->client->Logout();
    state.reset();
  } else if (state) {
    // The database is not at this session's version (the last apply failed, or another agent
    // synced since): the cache cannot be trusted to make whole objects.
    state->client->Logout();
    state.reset();
  }

  state = std::make_unique<VcenterState>();
  state->endpoint_key = key;
  state->client = std::make_unique<vsphere::Client>(deps.http, ep);
  auto fail = [&](const Error& e) {
    state->client->Logout();
    return agent::StepOutcome::Failed(e);
  };
  if (auto st = state->client->Login(); !st) return agent::StepOutcome::Failed(st.error());
  round_trips += 2;
  for (const auto& t : SyncedTypes()) {
    auto filter = state->client->CreateFilter(t.type, t.paths);
    round_trips += 2;
    if (!filter) return fail(filter.error());
  }
  // The whole read first, then the batches: an object's datacenter is found through parents
  // (folders, compute resources) that vCenter may list after it.
  std::string version;
  Changes read;
  std::set<std::string> seen;
  for (;;) {
    if (ctx.CancelRequested()) {
      state->client->Logout();
      return agent::StepOutcome::Cancelled("cancelled while reading vCenter");
    }
    ++round_trips;
    auto set = state->client->WaitForUpdates(version, 0, req->page_size);
    if (!set) return fail(set.error());
    if (!*set) break;
    ApplyUpdates(**set, state->cache, read, seen);
    version = (*set)->version;
    ctx.Progress(40, fmt::format("{} objects read", state->cache.size()));
    if (!(*set)->truncated) break;
  }
  if (auto st = sender.SendObjects(state->cache, read.by_class); !st) return fail(st.error());
  if (version.empty()) return fail(MakeError("vsphere.schema", "WaitForUpdatesEx: the first read returned no version"));
  state->version = version;
  state->last_used = std::chrono::steady_clock::now();
  ctx.Progress(99, fmt::format("{} objects read", sender.objects()));
  const std::string result = sender.Result("full", version, round_trips);
  deps.pool.Give(req->vcenter_id, std::move(state));
  return agent::StepOutcome::Succeeded(result);
}

agent::StepRegistry MakeSteps(SyncDeps deps) {
  agent::StepRegistry r;
  r.Add("inventory.vcenter_sync", [deps](agent::StepContext& ctx) { return RunVcenterSync(ctx, deps); });
  return r;
}

}  // namespace dcops::vcsync
