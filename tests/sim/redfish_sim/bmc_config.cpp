// The simulated iDRAC's logs (SEL and Lifecycle log), Server Configuration Profile export and
// import through the job queue, and packages pushed over multipart upload.
#include <fmt/format.h>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <regex>

#include "bmc.hpp"
#include "dcops/common/clock.hpp"

namespace dcops::sim {
namespace {

constexpr std::size_t kSelCapacity = 1024;
constexpr std::size_t kLcCapacity = 20000;  // the real LC log keeps 500,000; enough for a simulator
constexpr const char* kBiosFqdd = "BIOS.Setup.1-1";
constexpr const char* kIdracFqdd = "iDRAC.Embedded.1";

// "2026-11-27T10:00:05+00:00": the iDRAC writes its UTC offset, not "Z".
std::string LogTime() {
  return FormatUtc(std::chrono::system_clock::now()).substr(0, 19) + "+00:00";
}

// Redfish attribute "NTPConfigGroup.1.NTP1" is "NTPConfigGroup.1#NTP1" in a profile.
std::string ProfileName(const std::string& redfish_name) {
  std::string out = redfish_name;
  const auto dot = out.rfind('.');
  if (dot != std::string::npos) out[dot] = '#';
  return out;
}

std::string RedfishName(const std::string& profile_name) {
  std::string out = profile_name;
  const auto hash = out.rfind('#');
  if (hash != std::string::npos) out[hash] = '.';
  return out;
}

// A raw JSON value ("\"Enabled\"", "60") as profile text, and back in the shape of `like`.
std::string PlainValue(const std::string& raw) {
  return raw.size() >= 2 && raw.front() == '"' ? raw.substr(1, raw.size() - 2) : raw;
}
std::string RawValue(const std::string& plain, const std::string& like) {
  return !like.empty() && like.front() == '"' ? "\"" + plain + "\"" : plain;
}

std::string XmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

std::string XmlUnescape(std::string s) {
  for (const auto& [from, to] : {std::pair<std::string, std::string>{"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""},
                                 {"&apos;", "'"}, {"&amp;", "&"}}) {
    for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
  }
  return s;
}

bool Wanted(const std::string& target, const char* component) {
  return target.empty() || target.find("ALL") != std::string::npos || target.find(component) != std::string::npos;
}

using Components = std::map<std::string, std::map<std::string, std::string>>;  // FQDD → name → plain value

// Reads a profile as the iDRAC does: XML (<SystemConfiguration> with <Component FQDD> and
// <Attribute Name>, comments ignored) or JSON ({"SystemConfiguration": {"Components": …}}).
// nullopt when it is neither (a truncated profile is neither).
std::optional<Components> ParseProfile(const std::string& buffer) {
  Components out;
  const auto first = buffer.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return std::nullopt;
  if (buffer[first] == '<') {
    if (buffer.find("</SystemConfiguration>") == std::string::npos) return std::nullopt;
    const std::string text = std::regex_replace(buffer, std::regex("<!--[\\s\\S]*?-->"), "");
    static const std::regex kComponent(R"re(<Component FQDD="([^"]+)">([\s\S]*?)</Component>)re");
    static const std::regex kAttribute(R"re(<Attribute Name="([^"]+)">([^<]*)</Attribute>)re");
    for (std::sregex_iterator c(text.begin(), text.end(), kComponent), end; c != end; ++c) {
      const std::string body = (*c)[2];
      auto& attrs = out[(*c)[1]];
      for (std::sregex_iterator a(body.begin(), body.end(), kAttribute); a != end; ++a) {
        attrs[(*a)[1]] = XmlUnescape((*a)[2]);
      }
    }
    return out;
  }
  rapidjson::Document doc;
  doc.Parse(buffer.c_str());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("SystemConfiguration") ||
      !doc["SystemConfiguration"].IsObject() || !doc["SystemConfiguration"].HasMember("Components") ||
      !doc["SystemConfiguration"]["Components"].IsArray()) {
    return std::nullopt;
  }
  for (const auto& c : doc["SystemConfiguration"]["Components"].GetArray()) {
    if (!c.IsObject() || !c.HasMember("FQDD") || !c["FQDD"].IsString()) return std::nullopt;
    auto& attrs = out[c["FQDD"].GetString()];
    if (!c.HasMember("Attributes") || !c["Attributes"].IsArray()) continue;
    for (const auto& a : c["Attributes"].GetArray()) {
      if (!a.IsObject() || !a.HasMember("Name") || !a["Name"].IsString() || !a.HasMember("Value")) return std::nullopt;
      attrs[a["Name"].GetString()] = a["Value"].IsString() ? a["Value"].GetString()
                                     : a["Value"].IsInt64() ? std::to_string(a["Value"].GetInt64()) : "";
    }
  }
  return out;
}

}  // namespace

std::vector<SimLogEntry> Bmc::Log(const std::string& log) const {
  std::lock_guard lock(mu_);
  const auto& entries = log == "sel" ? sel_ : lclog_;
  return std::vector<SimLogEntry>(entries.rbegin(), entries.rend());
}

void Bmc::AddLogEntry(const std::string& log, SimLogEntry entry) {
  std::lock_guard lock(mu_);
  AppendLog(log, std::move(entry));
}

void Bmc::AppendLog(const std::string& log, SimLogEntry entry) {
  const bool sel = log == "sel";
  auto& entries = sel ? sel_ : lclog_;
  entry.id = std::to_string(sel ? next_sel_++ : next_lc_++);
  if (entry.created.empty()) entry.created = LogTime();
  entries.push_back(std::move(entry));
  if (entries.size() > (sel ? kSelCapacity : kLcCapacity)) entries.erase(entries.begin());  // wraps when full
}

ActionAnswer Bmc::ExportProfile(const std::string& format, const std::string& target, SimTime now,
                                std::string* job_id) {
  std::lock_guard lock(mu_);
  Advance(now);
  if (format != "XML" && format != "JSON") {
    ++counters_.refused_actions;
    return {400, "Base.1.8.PropertyValueNotInList",
            fmt::format("The value {} for the property ExportFormat is not in the list of acceptable values.", format)};
  }
  Components components;
  if (Wanted(target, "IDRAC")) {
    for (const auto& [k, v] : idrac_attrs_) {
      if (k.rfind("Info.", 0) != 0) components[kIdracFqdd][ProfileName(k)] = PlainValue(v);
    }
  }
  if (Wanted(target, "BIOS")) {
    for (const auto& [k, v] : bios_) components[kBiosFqdd][k] = PlainValue(v);
  }
  const std::string stamp = FormatUtc(std::chrono::system_clock::now()).substr(0, 19);
  std::string out;
  if (format == "XML") {
    out = fmt::format("<SystemConfiguration Model=\"{}\" ServiceTag=\"{}\" TimeStamp=\"{}\">\n",
                      XmlEscape(identity_.model), identity_.service_tag, stamp);
    for (const auto& [fqdd, attrs] : components) {
      out += fmt::format("<Component FQDD=\"{}\">\n", fqdd);
      for (const auto& [name, value] : attrs) {
        out += fmt::format("<Attribute Name=\"{}\">{}</Attribute>\n", name, XmlEscape(value));
      }
      // Passwords are never exported; the iDRAC leaves a commented placeholder.
      if (fqdd == kIdracFqdd) out += "<!-- <Attribute Name=\"Users.2#Password\">******</Attribute> -->\n";
      out += "</Component>\n";
    }
    out += "</SystemConfiguration>\n";
  } else {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.StartObject();
    w.Key("SystemConfiguration");
    w.StartObject();
    w.Key("Model");
    w.String(identity_.model.c_str());
    w.Key("ServiceTag");
    w.String(identity_.service_tag.c_str());
    w.Key("TimeStamp");
    w.String(stamp.c_str());
    w.Key("Components");
    w.StartArray();
    for (const auto& [fqdd, attrs] : components) {
      w.StartObject();
      w.Key("FQDD");
      w.String(fqdd.c_str());
      w.Key("Attributes");
      w.StartArray();
      for (const auto& [name, value] : attrs) {
        w.StartObject();
        w.Key("Name");
        w.String(name.c_str());
        w.Key("Value");
        w.String(value.c_str());
        w.Key("Set On Import");
        w.String("True");
        w.EndObject();
      }
      w.EndArray();
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    w.EndObject();
    out.assign(buf.GetString(), buf.GetSize());
  }
  SimJob job;
  job.type = "ExportConfiguration";
  job.name = "Export: Server Configuration Profile";
  job.duration = timing_.job_run;
  job.output = std::move(out);
  job.done_message_id = "SYS043";
  job.done_message = "Successfully exported Server Configuration Profile";
  ++counters_.actions;
  *job_id = jobs_.Add(std::move(job), now);
  return {202, "", ""};
}

ActionAnswer Bmc::ImportProfile(const std::string& buffer, const std::string& shutdown_type,
                                const std::string& end_power_state, bool preview, SimTime now, std::string* job_id) {
  std::lock_guard lock(mu_);
  Advance(now);
  if (!preview && shutdown_type != "Graceful" && shutdown_type != "Forced" && shutdown_type != "NoReboot") {
    ++counters_.refused_actions;
    return {400, "Base.1.8.PropertyValueNotInList",
            fmt::format("The value {} for the property ShutdownType is not in the list of acceptable values.", shutdown_type)};
  }
  if (auto busy = RefuseWhileBusy()) return *busy;
  SimJob job;
  job.type = "ImportConfiguration";
  job.name = preview ? "Preview Import Configuration" : "Import Configuration";
  job.duration = timing_.job_run;
  const auto profile = ParseProfile(buffer);
  if (!profile) {
    job.fail_message_id = "SYS041";
    job.fail_message = "Unable to complete the import operation because the file content is invalid.";
  } else {
    for (const auto& [fqdd, attrs] : *profile) {
      for (const auto& [name, value] : attrs) {
        if (fqdd == kBiosFqdd) {
          auto it = bios_.find(name);
          if (it == bios_.end()) {
            job.fail_message_id = "SYS055";
            job.fail_message = fmt::format("Import of Server Configuration Profile failed: unknown attribute {} of {}.", name, fqdd);
            break;
          }
          if (PlainValue(it->second) != value) job.attributes[name] = RawValue(value, it->second);
        } else if (fqdd == kIdracFqdd) {
          const std::string key = RedfishName(name);
          auto it = idrac_attrs_.find(key);
          if (it == idrac_attrs_.end() || key.rfind("Info.", 0) == 0) continue;  // read-only: skipped
          if (PlainValue(it->second) != value) job.idrac_attributes[key] = RawValue(value, it->second);
        }
      }
    }
  }
  if (job.fail_message_id.empty()) {
    const bool changes = !job.attributes.empty() || !job.idrac_attributes.empty();
    if (preview) {
      job.done_message_id = "SYS081";
      job.done_message = "Successfully previewed Server Configuration Profile import operation.";
      job.attributes.clear();
      job.idrac_attributes.clear();
    } else if (!changes) {
      job.done_message_id = "SYS069";
      job.done_message = "No changes were applied since the current component configuration matched the requested configuration.";
    } else {
      job.done_message_id = "SYS053";
      job.done_message = "Successfully imported and applied Server Configuration Profile.";
      job.power_off_after = end_power_state == "Off";
      // BIOS settings apply while the host POSTs: now (Graceful/Forced), or at the next reboot.
      if (!job.attributes.empty()) {
        job.waits_for_reboot = true;
        for (const auto& [k, v] : job.attributes) bios_pending_[k] = v;
      }
    }
  }
  ++counters_.actions;
  const bool reboot_now = job.waits_for_reboot && shutdown_type != "NoReboot";
  *job_id = jobs_.Add(std::move(job), now);
  if (reboot_now && !target_) {
    const bool on = power_ == Power::kOn || power_ == Power::kPoweringOn;
    StartTransition(Power::kOn, on ? timing_.restart : timing_.power_on, now, on);
    ++counters_.effective_resets;
  }
  return {202, "", ""};
}

ActionAnswer Bmc::PushUpdate(const std::string& filename, const std::string& content, SimTime now,
                             std::string* job_id) {
  std::lock_guard lock(mu_);
  Advance(now);
  if (auto busy = RefuseWhileBusy()) return *busy;
  if (filename.empty()) {
    ++counters_.refused_actions;
    return {400, "Base.1.8.PropertyMissing", "The property UpdateFile is a required property and must be included in the request."};
  }
  return QueueUpdate(filename, IsUpdatePackage(content), now, job_id);
}

}  // namespace dcops::sim
