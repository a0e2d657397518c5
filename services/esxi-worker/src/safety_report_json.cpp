#include "safety_report_json.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

namespace dcops::esxi {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void Str(Writer& w, const char* key, const std::string& v) {
  w.Key(key);
  w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
}
void Int(Writer& w, const char* key, int v) {
  w.Key(key);
  w.Int(v);
}
void Bool(Writer& w, const char* key, bool v) {
  w.Key(key);
  w.Bool(v);
}
void Strings(Writer& w, const char* key, const std::vector<std::string>& items) {
  w.Key(key);
  w.StartArray();
  for (const auto& s : items) w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
  w.EndArray();
}

}  // namespace

std::string SafetyReportJson(const ClusterFacts& c, const SafetyReport& r) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("cluster");
  w.StartObject();
  Str(w, "moref", c.moref);
  Str(w, "name", c.name);
  w.Key("ha");
  w.StartObject();
  Bool(w, "enabled", c.ha_enabled);
  Bool(w, "admission_control", c.admission_control);
  Str(w, "policy", c.admission_policy);
  Int(w, "failover_level", c.failover_level);
  Int(w, "cpu_reserve_percent", c.cpu_reserve_percent);
  Int(w, "memory_reserve_percent", c.memory_reserve_percent);
  w.EndObject();
  w.Key("drs");
  w.StartObject();
  Bool(w, "enabled", c.drs_enabled);
  Str(w, "automation", c.drs_behavior);
  w.EndObject();
  Bool(w, "vsan", c.vsan_enabled);
  w.EndObject();
  w.Key("hosts");
  w.StartObject();
  Int(w, "total", r.hosts);
  Int(w, "usable", r.usable);
  Int(w, "in_maintenance", r.in_maintenance);
  Int(w, "disconnected", r.disconnected);
  w.EndObject();
  Int(w, "required", r.required);
  Strings(w, "required_by", r.required_by);
  w.Key("verdicts");
  w.StartArray();
  for (const auto& v : r.verdicts) {
    w.StartObject();
    Str(w, "host", v.moref);
    Str(w, "name", v.name);
    Bool(w, "usable", v.usable);
    Bool(w, "can_enter_maintenance", v.can_enter_maintenance());
    Int(w, "healthy_after", v.healthy_after);
    w.Key("blockers");
    w.StartArray();
    for (const auto& b : v.blockers) {
      w.StartObject();
      Str(w, "kind", b.kind);
      Str(w, "vm", b.vm);
      Str(w, "vm_name", b.vm_name);
      Str(w, "detail", b.detail);
      w.EndObject();
    }
    w.EndArray();
    Strings(w, "capacity_problems", v.capacity_problems);
    w.EndObject();
  }
  w.EndArray();
  Bool(w, "safe", std::all_of(r.verdicts.begin(), r.verdicts.end(), [](const HostVerdict& v) { return v.can_enter_maintenance(); }));
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace dcops::esxi
