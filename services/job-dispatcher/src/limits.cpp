#include "limits.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace dcops::dispatcher {
namespace {

Result<LimitRule> ParseRule(const rapidjson::Value& v, LimitRule rule, const std::string& path) {
  if (!v.IsObject()) return MakeError("config.invalid", path + ": must be an object");
  for (const auto& m : v.GetObject()) {
    const std::string key = m.name.GetString();
    int* field = key == "mutating" ? &rule.mutating : key == "total" ? &rule.total
               : key == "min_interval_ms" ? &rule.min_interval_ms : nullptr;
    if (field == nullptr) {
      return MakeError("config.invalid", fmt::format("{}.{}: unknown (use mutating, total, min_interval_ms)", path, key));
    }
    const int lo = key == "min_interval_ms" ? 0 : 1;
    const int hi = key == "min_interval_ms" ? 60000 : 1000;
    if (!m.value.IsInt() || m.value.GetInt() < lo || m.value.GetInt() > hi) {
      return MakeError("config.invalid", fmt::format("{}.{}: must be an integer from {} to {}", path, key, lo, hi));
    }
    *field = m.value.GetInt();
  }
  if (rule.mutating > rule.total) {
    return MakeError("config.invalid", fmt::format("{}: mutating ({}) cannot exceed total ({})", path, rule.mutating, rule.total));
  }
  return rule;
}

}  // namespace

Result<LimitsConfig> ParseLimitsJson(const std::string& json, LimitsConfig base) {
  rapidjson::Document d;
  d.Parse(json.c_str());
  if (d.HasParseError() || !d.IsObject()) return MakeError("config.invalid", "limits: must be a JSON object");
  for (const auto& section : d.GetObject()) {
    const std::string name = section.name.GetString();
    if (name != "kinds" && name != "targets") {
      return MakeError("config.invalid", "limits." + name + ": unknown (use kinds, targets)");
    }
    if (!section.value.IsObject()) return MakeError("config.invalid", "limits." + name + ": must be an object");
  }
  if (d.HasMember("kinds")) {
    for (const auto& k : d["kinds"].GetObject()) {
      const std::string kind = k.name.GetString();
      auto it = base.by_kind.find(kind);
      auto rule = ParseRule(k.value, it == base.by_kind.end() ? base.fallback : it->second, "limits.kinds." + kind);
      if (!rule) return rule.error();
      base.by_kind[kind] = *rule;
    }
  }
  if (d.HasMember("targets")) {
    const TargetLimits kinds(base);
    for (const auto& t : d["targets"].GetObject()) {
      const std::string target = t.name.GetString();
      if (target.find(':') == std::string::npos) {
        return MakeError("config.invalid", "limits.targets." + target + ": a target is kind:address (idrac:10.1.2.3:443)");
      }
      auto rule = ParseRule(t.value, kinds.RuleFor(target), "limits.targets." + target);
      if (!rule) return rule.error();
      base.by_target[target] = *rule;
    }
  }
  return base;
}

std::string TargetKind(const std::string& target) {
  const auto colon = target.find(':');
  return colon == std::string::npos ? target : target.substr(0, colon);
}

const LimitRule& TargetLimits::RuleFor(const std::string& target) const {
  if (auto it = config_.by_target.find(target); it != config_.by_target.end()) return it->second;
  if (auto it = config_.by_kind.find(TargetKind(target)); it != config_.by_kind.end()) return it->second;
  return config_.fallback;
}

bool TargetLimits::CanStart(const std::string& target, bool mutating) const {
  const LimitRule& rule = RuleFor(target);
  auto it = running_.find(target);
  const Count c = it == running_.end() ? Count{} : it->second;
  if (c.total >= rule.total) return false;
  return !mutating || c.mutating < rule.mutating;
}

void TargetLimits::Started(const std::string& target, bool mutating) {
  Count& c = running_[target];
  ++c.total;
  if (mutating) ++c.mutating;
}

void TargetLimits::Finished(const std::string& target, bool mutating) {
  auto it = running_.find(target);
  if (it == running_.end()) return;
  if (it->second.total > 0) --it->second.total;
  if (mutating && it->second.mutating > 0) --it->second.mutating;
  if (it->second.total == 0) running_.erase(it);
}

int TargetLimits::Running(const std::string& target) const {
  auto it = running_.find(target);
  return it == running_.end() ? 0 : it->second.total;
}

std::vector<std::string> TargetLimits::Full() const {
  std::vector<std::string> out;
  for (const auto& [target, c] : running_) {
    if (c.total >= RuleFor(target).total) out.push_back(target);
  }
  return out;
}

std::vector<std::string> TargetLimits::FullForMutating() const {
  std::vector<std::string> out;
  for (const auto& [target, c] : running_) {
    const LimitRule& rule = RuleFor(target);
    if (c.total < rule.total && c.mutating >= rule.mutating) out.push_back(target);
  }
  return out;
}

std::string TargetLimits::InUseJson() const {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartArray();
  for (const auto& [target, count] : running_) {
    if (count.total == 0) continue;
    const LimitRule& rule = RuleFor(target);
    const std::string kind = TargetKind(target);
    w.StartObject();
    w.Key("target");
    w.String(target.c_str(), static_cast<rapidjson::SizeType>(target.size()));
    w.Key("kind");
    w.String(kind.c_str(), static_cast<rapidjson::SizeType>(kind.size()));
    w.Key("running");
    w.Int(count.total);
    w.Key("running_mutating");
    w.Int(count.mutating);
    w.Key("limit_total");
    w.Int(rule.total);
    w.Key("limit_mutating");
    w.Int(rule.mutating);
    w.Key("min_interval_ms");
    w.Int(rule.min_interval_ms);
    w.EndObject();
  }
  w.EndArray();
  return buf.GetString();
}

}  // namespace dcops::dispatcher
