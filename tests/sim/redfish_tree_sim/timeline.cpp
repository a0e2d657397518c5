#include "timeline.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "json_util.hpp"

namespace dcops::sim::tree {
namespace {

void UpdateTask(SimState& s, const TaskRun& run) {
  rapidjson::Document* doc = s.Doc(run.uri);
  if (doc == nullptr) return;
  auto& a = doc->GetAllocator();
  const auto elapsed = s.now() - run.start;
  const auto total = std::max<Clock::duration>(s.options.task, Clock::duration(1));
  if (elapsed >= total) {
    if (FindString(*doc, "TaskState").value_or("") != "Completed") {
      SetString(*doc, "EndTime", WallTimestamp(s), a);
    }
    SetString(*doc, "TaskState", "Completed", a);
    SetInt(*doc, "PercentComplete", 100, a);
    return;
  }
  if (elapsed <= Clock::duration::zero()) {
    SetString(*doc, "TaskState", "New", a);
    SetInt(*doc, "PercentComplete", 0, a);
    return;
  }
  SetString(*doc, "TaskState", "Running", a);
  SetInt(*doc, "PercentComplete", std::clamp<int64_t>(elapsed * 100 / total, 1, 99), a);
}

}  // namespace

void SetPower(SimState& s, const std::string& system, const char* state, bool reset) {
  rapidjson::Document* doc = s.Doc(system);
  if (doc == nullptr) return;
  auto& a = doc->GetAllocator();
  SetString(*doc, "PowerState", state, a);
  if (reset && Find(*doc, "LastResetTime") != nullptr) {
    SetString(*doc, "LastResetTime", WallTimestamp(s), a);
  }
}

void CancelRestart(SimState& s, const std::string& system) {
  std::erase_if(s.restarts, [&](const Restart& r) { return r.system == system; });
}

void StartRestart(SimState& s, const std::string& system) {
  CancelRestart(s, system);
  SetPower(s, system, "Off", true);
  s.restarts.push_back(Restart{system, s.now() + s.options.restart});
}

void ApplyPendingSettings(SimState& s, const std::string& uri) {
  for (auto it = s.pending_settings.begin(); it != s.pending_settings.end();) {
    const std::string& owner = s.settings_owner[it->first];
    rapidjson::Document* doc = s.Doc(owner);
    if (doc == nullptr || (owner != uri && owner.rfind(uri + "/", 0) != 0)) {
      ++it;
      continue;
    }
    MergeInto(*doc, it->second, doc->GetAllocator());
    it = s.pending_settings.erase(it);
  }
}

std::string StartTask(SimState& s, const std::string& name) {
  std::string uri;
  std::string id;
  do {
    id = std::to_string(s.next_id++);
    uri = s.tasks_uri + "/" + id;
  } while (s.Doc(uri) != nullptr);
  auto doc = std::make_unique<rapidjson::Document>();
  doc->SetObject();
  auto& a = doc->GetAllocator();
  SetString(*doc, "@odata.type", "#Task.v1_4_3.Task", a);
  SetString(*doc, "@odata.id", uri, a);
  SetString(*doc, "Id", id, a);
  SetString(*doc, "Name", name, a);
  SetString(*doc, "TaskState", "New", a);
  SetString(*doc, "TaskStatus", "OK", a);
  SetInt(*doc, "PercentComplete", 0, a);
  const std::string start = WallTimestamp(s);
  SetString(*doc, "StartTime", start, a);
  Set(*doc, "Messages", rapidjson::Value(rapidjson::kArrayType), a);
  s.tree.json[uri] = std::move(doc);
  rapidjson::Document& coll = *s.Doc(s.tasks_uri);
  auto& ca = coll.GetAllocator();
  rapidjson::Value* members = FindMut(coll, "Members");
  if (members == nullptr || !members->IsArray()) {
    Set(coll, "Members", rapidjson::Value(rapidjson::kArrayType), ca);
    members = FindMut(coll, "Members");
  }
  rapidjson::Value link(rapidjson::kObjectType);
  SetString(link, "@odata.id", uri, ca);
  members->PushBack(link, ca);
  SetInt(coll, "Members@odata.count", members->Size(), ca);
  s.tasks.push_back(TaskRun{uri, s.now(), start});
  return uri;
}

void Settle(SimState& s) {
  const auto now = s.now();
  std::vector<Restart> due;
  for (const Restart& r : s.restarts) {
    if (now >= r.until) due.push_back(r);
  }
  std::erase_if(s.restarts, [&](const Restart& r) { return now >= r.until; });
  for (const Restart& r : due) {
    SetPower(s, r.system, "On", false);
    ApplyPendingSettings(s, r.system);
  }
  for (const TaskRun& run : s.tasks) UpdateTask(s, run);
}

}  // namespace dcops::sim::tree
