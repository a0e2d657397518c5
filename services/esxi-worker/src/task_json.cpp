#include "task_json.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace dcops::esxi {

HostCheckpoint ParseHostCheckpoint(const std::string& json) {
  HostCheckpoint cp;
  rapidjson::Document doc;
  doc.Parse(json.c_str());
  if (json.empty() || doc.HasParseError() || !doc.IsObject()) return cp;
  auto text = [&](const char* key, std::string& out) {
    if (doc.HasMember(key) && doc[key].IsString()) out = doc[key].GetString();
  };
  text("phase", cp.phase);
  text("operation", cp.operation);
  text("task", cp.task);
  text("before", cp.before);
  text("known_tasks", cp.known_tasks);
  text("target", cp.target);
  text("build_before", cp.build_before);
  text("host_key", cp.host_key);
  cp.ssh_started = doc.HasMember("ssh_started") && doc["ssh_started"].IsBool() && doc["ssh_started"].GetBool();
  return cp;
}

std::string HostCheckpointJson(const HostCheckpoint& cp) {
  return JsonObject({{"phase", cp.phase}, {"operation", cp.operation}, {"task", cp.task}, {"before", cp.before},
                     {"known_tasks", cp.known_tasks}, {"target", cp.target}, {"build_before", cp.build_before},
                     {"host_key", cp.host_key}},
                    {{"ssh_started", cp.ssh_started}});
}

std::string JsonObject(std::initializer_list<std::pair<const char*, std::string>> strings,
                       std::initializer_list<std::pair<const char*, bool>> flags,
                       std::initializer_list<std::pair<const char*, std::string>> raw) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  for (const auto& [k, v] : strings) {
    w.Key(k);
    w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
  }
  for (const auto& [k, v] : flags) {
    w.Key(k);
    w.Bool(v);
  }
  for (const auto& [k, v] : raw) {
    w.Key(k);
    w.RawValue(v.c_str(), v.size(), rapidjson::kObjectType);
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace dcops::esxi
