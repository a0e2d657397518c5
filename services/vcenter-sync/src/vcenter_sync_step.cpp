#include "vcenter_sync_step.hpp"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <set>

#include "dcops/agent/params.hpp"
#include "dcops/http/credential_tag.hpp"

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

namespace {

// Pages of WaitForUpdatesEx from `*version` until the set is complete, applied to the cache;
// `*version` ends where the read did. Cancellation ends it with step.cancelled.
Result<Changes> ReadUpdates(agent::StepContext& ctx, VcenterState& state, int page_size, std::string* version,
                            int* round_trips) {
  Changes changes;
  std::set<std::string> seen;
  for (;;) {
    if (ctx.CancelRequested()) return MakeError("step.cancelled", "cancelled while reading vCenter");
    ++*round_trips;
    auto set = state.client->WaitForUpdates(*version, 0, page_size);
    if (!set) return set.error();
    if (!*set) return changes;  // nothing changed
    ApplyUpdates(**set, state.cache, changes, seen);
    *version = (*set)->version;
    ctx.Progress(40, fmt::format("{} objects read", state.cache.size()));
    if (!(*set)->truncated) return changes;
  }
}

// A new session with filters over every synced type, read whole.
Result<Changes> ReadEverything(agent::StepContext& ctx, VcenterState& state, int page_size, std::string* version,
                               int* round_trips) {
  if (auto st = state.client->Login(); !st) return st.error();
  *round_trips += 2;
  for (const auto& t : SyncedTypes()) {
    auto filter = state.client->CreateFilter(t.type, t.paths);
    *round_trips += 2;
    if (!filter) return filter.error();
  }
  version->clear();
  auto changes = ReadUpdates(ctx, state, page_size, version, round_trips);
  if (changes && version->empty()) return MakeError("vsphere.schema", "WaitForUpdatesEx: the first read returned no version");
  return changes;
}

agent::StepOutcome Outcome(const Error& e) {
  return e.code == "step.cancelled" ? agent::StepOutcome::Cancelled(e.message) : agent::StepOutcome::Failed(e);
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
  const std::string key = fmt::format("{}|{}|{}|{}|{}", req->address, ep.username, a.tls.pinned_sha256, a.tls.verify,
                                      http::CredentialTag(ep.username, ep.password));
  // Batches stay well under a message's limit whatever the page size (a VM is ~0.5 KB).
  Sender sender(ctx, static_cast<std::size_t>(std::min(req->page_size, 1000)));
  int round_trips = 0;
  std::string version, mode;
  Changes changes;

  auto state = deps.pool.Take(req->vcenter_id);
  // Incremental, when this agent's session is where the database is. Otherwise (another
  // endpoint setting, the last apply failed, another agent synced since) the cache cannot be
  // trusted to make whole objects.
  if (state && state->endpoint_key == key && !req->db_version.empty() && state->version == req->db_version) {
    state->client->SetPassword(ep.password);
    version = state->version;
    auto read = ReadUpdates(ctx, *state, req->page_size, &version, &round_trips);
    if (read) {
      changes = std::move(*read);
      mode = "incremental";
    } else if (read.error().code == "step.cancelled") {
      state->client->Logout();
      return Outcome(read.error());
    } else {
      ctx.Event(LogLevel::kWarn, fmt::format("incremental read failed ({}); reading everything", read.error().message));
    }
  }
  if (mode.empty()) {
    if (state) state->client->Logout();
    state = std::make_unique<VcenterState>();
    state->endpoint_key = key;
    state->client = std::make_unique<vsphere::Client>(deps.http, ep);
    auto read = ReadEverything(ctx, *state, req->page_size, &version, &round_trips);
    if (!read) {
      state->client->Logout();
      return Outcome(read.error());
    }
    changes = std::move(*read);
    mode = "full";
  }
  // The batches follow the whole read: an object's datacenter is found through parents
  // (folders, compute resources) that vCenter may list after it.
  Status sent = sender.SendObjects(state->cache, changes.by_class);
  if (sent) sent = sender.SendRemoved(changes.removed);
  if (!sent) {
    state->client->Logout();
    return agent::StepOutcome::Failed(sent.error());
  }
  state->version = version;
  state->last_used = std::chrono::steady_clock::now();
  ctx.Progress(99, fmt::format("{} object(s) sent, {} removed", sender.objects(), changes.removed.size()));
  const std::string result = sender.Result(mode, version, round_trips);
  deps.pool.Give(req->vcenter_id, std::move(state));
  return agent::StepOutcome::Succeeded(result);
}

agent::StepRegistry MakeSteps(SyncDeps deps) {
  agent::StepRegistry r;
  r.Add("inventory.vcenter_sync", [deps](agent::StepContext& ctx) { return RunVcenterSync(ctx, deps); });
  return r;
}

}  // namespace dcops::vcsync
