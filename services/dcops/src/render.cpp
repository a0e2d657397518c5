#include "render.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <vector>

namespace dcops::cli {
namespace {

std::string S(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject() || !v.HasMember(key)) return "";
  const auto& f = v[key];
  if (f.IsString()) return f.GetString();
  if (f.IsInt64()) return std::to_string(f.GetInt64());
  if (f.IsBool()) return f.GetBool() ? "yes" : "no";
  return "";
}

int I(const rapidjson::Value& v, const char* key) {
  return v.IsObject() && v.HasMember(key) && v[key].IsInt() ? v[key].GetInt() : 0;
}

// "2026-11-27T06:40:01.123+00:00" -> "2026-11-27 06:40:01"
std::string When(const std::string& ts) {
  if (ts.size() < 19) return ts;
  return ts.substr(0, 10) + " " + ts.substr(11, 8);
}

// Columns padded to their widest cell.
std::string Table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& r : rows) {
    if (width.size() < r.size()) width.resize(r.size(), 0);
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::string out;
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      line += i + 1 == r.size() ? r[i] : fmt::format("{:<{}}  ", r[i], width[i]);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

// Why a paused job waits and how it goes on ("" unless paused), each line after a newline.
std::string PauseLines(const rapidjson::Value& job) {
  if (S(job, "status") != "paused" || !job.HasMember("pause") || !job["pause"].IsObject()) return "";
  return fmt::format("\n  paused at step {}: {}\n  go on with: dcops job resume {} --retry | --evacuate | --skip-host "
                     "(or dcops job cancel {})",
                     S(job["pause"], "step"), S(job["pause"], "error_message"), S(job, "id"), S(job, "id"));
}

int StatusRank(const std::string& status) {
  static const std::map<std::string, int> rank{{"paused", 0}, {"running", 0}, {"leased", 1}, {"failed", 2},
                                               {"ready", 3},   {"blocked", 4}, {"cancelled", 5},
                                               {"skipped", 6}, {"succeeded", 7}};
  auto it = rank.find(status);
  return it == rank.end() ? 8 : it->second;
}

}  // namespace

std::string ProgressBar(int percent, int width) {
  percent = std::clamp(percent, 0, 100);
  const int filled = percent * width / 100;
  return "[" + std::string(static_cast<std::size_t>(filled), '#') +
         std::string(static_cast<std::size_t>(width - filled), '-') + "]";
}

bool IsFinished(const std::string& s) { return s == "succeeded" || s == "failed" || s == "cancelled"; }

std::string JobsTable(const rapidjson::Value& jobs) {
  std::vector<std::vector<std::string>> rows{{"ID", "TYPE", "STATUS", "PROGRESS", "STEPS", "FAILED", "CREATED"}};
  for (const auto& j : jobs.GetArray()) {
    rows.push_back({S(j, "id"), S(j, "job_type"), S(j, "status") + (j.HasMember("cancel_requested") &&
                                                                    j["cancel_requested"].IsBool() &&
                                                                    j["cancel_requested"].GetBool() &&
                                                                    !IsFinished(S(j, "status")) ? " (cancelling)" : ""),
                    fmt::format("{}%", I(j, "progress")),
                    fmt::format("{}/{}", I(j, "steps_finished"), I(j, "steps_total")),
                    std::to_string(I(j, "steps_failed")), When(S(j, "created_at"))});
  }
  if (rows.size() == 1) return "no jobs\n";
  return Table(rows);
}

std::string AgentsTable(const rapidjson::Value& agents) {
  std::vector<std::vector<std::string>> rows{{"ID", "KIND", "STATUS", "RUNNING", "CAPACITY", "VERSION", "HOST", "LAST SEEN"}};
  for (const auto& a : agents.GetArray()) {
    rows.push_back({S(a, "id"), S(a, "kind"), S(a, "status"), std::to_string(I(a, "running")),
                    std::to_string(I(a, "capacity")), S(a, "version"), S(a, "hostname"), When(S(a, "last_seen_at"))});
  }
  if (rows.size() == 1) return "no agents\n";
  return Table(rows);
}

std::string CredentialSetsTable(const rapidjson::Value& sets) {
  std::vector<std::vector<std::string>> rows{{"NAME", "KIND", "USER", "SECRET", "ORDER", "SCOPE", "UPDATED"}};
  for (const auto& c : sets.GetArray()) {
    std::string scope;
    for (const char* key : {"scope_networks", "scope_hosts"}) {
      if (!c.HasMember(key) || !c[key].IsArray()) continue;
      for (const auto& v : c[key].GetArray()) {
        if (v.IsString()) scope += (scope.empty() ? "" : ",") + std::string(v.GetString());
      }
    }
    rows.push_back({S(c, "name"), S(c, "kind"), S(c, "username"), S(c, "has_secret") == "yes" ? "stored" : "none",
                    std::to_string(I(c, "try_order")), scope.empty() ? "any" : scope, When(S(c, "updated_at"))});
  }
  if (rows.size() == 1) return "no credential sets\n";
  return Table(rows);
}

std::string ConflictsTable(const rapidjson::Value& conflicts) {
  std::vector<std::vector<std::string>> rows{{"ID", "KIND", "SUBJECT", "STATUS", "SEEN", "LAST SEEN", "MESSAGE"}};
  for (const auto& c : conflicts.GetArray()) {
    rows.push_back({S(c, "id").substr(0, 8), S(c, "kind"), S(c, "subject"), S(c, "status"),
                    std::to_string(I(c, "seen_count")), When(S(c, "last_seen_at")), S(c, "message")});
  }
  if (rows.size() == 1) return "no identity conflicts\n";
  return Table(rows);
}

std::string ConflictSummary(const rapidjson::Value& conflict) {
  std::string decision;
  if (conflict.HasMember("resolution") && conflict["resolution"].IsObject()) {
    const auto& r = conflict["resolution"];
    decision = S(r, "action") + (S(r, "server_id").empty() ? "" : " " + S(r, "server_id"));
    if (!S(r, "note").empty()) decision += ": " + S(r, "note");
  }
  return fmt::format("conflict {} {}{}\n  {} {}: {}\n", S(conflict, "id"), S(conflict, "status"),
                     decision.empty() ? "" : " (" + decision + ")", S(conflict, "kind"), S(conflict, "subject"),
                     S(conflict, "message"));
}

std::string JobFrame(const rapidjson::Value& job, int max_steps) {
  std::string out = fmt::format("job {}  {}  {}  {}/{} steps  {} {}%\n", S(job, "id"), S(job, "job_type"),
                                S(job, "status"), I(job, "steps_finished"), I(job, "steps_total"),
                                ProgressBar(I(job, "progress"), 30), I(job, "progress"));
  if (!S(job, "error_message").empty()) out += "  error: " + S(job, "error_message") + "\n";
  if (const std::string pause = PauseLines(job); !pause.empty()) out += pause.substr(1) + "\n";
  if (!job.HasMember("steps") || !job["steps"].IsArray()) return out;
  std::vector<const rapidjson::Value*> steps;
  for (const auto& s : job["steps"].GetArray()) steps.push_back(&s);
  std::stable_sort(steps.begin(), steps.end(), [](const auto* a, const auto* b) {
    return StatusRank(S(*a, "status")) < StatusRank(S(*b, "status"));
  });
  std::size_t target_width = 0;
  for (const auto* s : steps) target_width = std::max(target_width, S(*s, "target").size());
  std::map<std::string, int> rest;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const auto& s = *steps[i];
    if (static_cast<int>(i) >= max_steps) {
      ++rest[S(s, "status")];
      continue;
    }
    const std::string status = S(s, "status");
    const int pct = status == "succeeded" ? 100 : I(s, "progress");
    std::string note = status == "failed" || status == "cancelled" || status == "paused" ? S(s, "error_message")
                                                                                        : S(s, "progress_message");
    if (I(s, "attempt") > 1) note = fmt::format("(attempt {}/{}) {}", I(s, "attempt"), I(s, "max_attempts"), note);
    std::string line = fmt::format("  {:<{}}  {} {:>3}%  {:<9}  {}", S(s, "target"), target_width,
                                   ProgressBar(pct, 20), pct, status, note);
    while (line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  if (!rest.empty()) {
    std::string parts;
    int n = 0;
    for (const auto& [status, count] : rest) {
      parts += fmt::format("{}{} {}", parts.empty() ? "" : ", ", count, status);
      n += count;
    }
    out += fmt::format("  … and {} more: {}\n", n, parts);
  }
  return out;
}

std::string EventLine(const rapidjson::Value& event, const rapidjson::Value& job) {
  std::string target;
  const std::string task = S(event, "task_id");
  if (!task.empty() && job.HasMember("steps") && job["steps"].IsArray()) {
    for (const auto& s : job["steps"].GetArray()) {
      if (S(s, "id") == task) target = "[" + S(s, "target") + "] ";
    }
  }
  const std::string ts = S(event, "ts");
  return fmt::format("{} {:<5} {}{}", ts.size() >= 19 ? ts.substr(11, 8) : ts, S(event, "level"), target,
                     S(event, "message"));
}

std::string ProgressLine(const rapidjson::Value& job) {
  std::string out = fmt::format("progress {} {:>3}%  {}/{} steps", ProgressBar(I(job, "progress"), 20),
                                I(job, "progress"), I(job, "steps_finished"), I(job, "steps_total"));
  if (I(job, "steps_failed") > 0) out += fmt::format(", {} failed", I(job, "steps_failed"));
  return out;
}

std::string JobSummary(const rapidjson::Value& job) {
  std::string out = fmt::format("job {} {}: {} step(s), {} failed", S(job, "id"), S(job, "status"),
                                I(job, "steps_total"), I(job, "steps_failed"));
  // Succeeded steps whose effect the device never showed (docs/REDFISH.md).
  int unverified = 0;
  if (job.HasMember("steps") && job["steps"].IsArray()) {
    for (const auto& s : job["steps"].GetArray()) unverified += S(s, "outcome") == "unverified" ? 1 : 0;
  }
  if (unverified > 0) out += fmt::format(", {} unverified", unverified);
  if (!S(job, "error_message").empty()) out += " (" + S(job, "error_message") + ")";
  out += PauseLines(job);
  return out;
}

}  // namespace dcops::cli
