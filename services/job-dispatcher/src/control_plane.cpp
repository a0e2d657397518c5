#include "control_plane.hpp"
#include "control_plane_rows.hpp"

#include <algorithm>
#include <charconv>

#include "dcops/common/hex.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace dcops::dispatcher {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void Str(Writer& w, const std::string& s) {
  w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
}

// bytea travels in PostgreSQL's hex text form: \x0011aa...
std::string ByteaText(const std::string& bytes) { return "\\x" + HexEncode(bytes); }

std::string ByteaBytes(const std::string& text) {
  const std::string_view hex = std::string_view(text).substr(text.rfind("\\x", 0) == 0 ? 2 : 0);
  return HexDecode(hex).value_or(std::string());
}

// A whole number from the database, an error (not an exception) when the text is not one.
Result<int> ScalarInt(Result<db::Rows> rows) {
  auto text = ScalarText(std::move(rows));
  if (!text) return text.error();
  int v = 0;
  const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (ec != std::errc() || end != text->data() + text->size()) {
    return MakeError("db.result", fmt::format("expected a whole number from the database, got \"{}\"", text->substr(0, 40)));
  }
  return v;
}

}  // namespace

std::string TextArray(const std::vector<std::string>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ",";
    out += "\"";
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += "\\";
      out += c;
    }
    out += "\"";
  }
  return out + "}";
}

Result<int> ControlPlane::ApiVersion() {
  return ScalarInt(conn_.Exec("SELECT dispatcher_v1_api_version()"));
}

Result<std::string> ControlPlane::SchemaVersion() {
  return ScalarText(conn_.Exec("SELECT coalesce(dispatcher_v1_schema_version(), '')"));
}

Result<std::vector<CatalogEntry>> ControlPlane::JobCatalog() {
  auto rows = conn_.Exec("SELECT job_type, agent_kind, mutating, enabled FROM dispatcher_v1_job_catalog()");
  if (!rows) return rows.error();
  std::vector<CatalogEntry> out;
  for (int i = 0; i < rows->size(); ++i) {
    out.push_back(CatalogEntry{rows->Str(i, "job_type"), rows->Str(i, "agent_kind"),
                               rows->Bool(i, "mutating").value_or(true), rows->Bool(i, "enabled").value_or(false)});
  }
  return out;
}

Status ControlPlane::SiteLed(const std::string& site, const std::string& dispatcher_id) {
  auto r = conn_.Exec("SELECT dispatcher_v1_site_led($1, $2)", {site, dispatcher_id});
  if (!r) return r.error();
  return {};
}

Result<bool> ControlPlane::TryLeaderLock(const std::string& site) {
  auto v = ScalarText(conn_.Exec("SELECT pg_try_advisory_lock(hashtext('dcops-leader:' || $1))", {site}));
  if (!v) return v.error();
  return *v == "t";
}

Result<std::vector<JobToPlan>> ControlPlane::JobsToPlan(const std::string& site, int limit) {
  auto rows = conn_.Exec(
      "SELECT job_id, job_type, target_scope, params FROM dispatcher_v1_jobs_to_plan($1, $2::int)",
      {site, std::to_string(limit)});
  if (!rows) return rows.error();
  std::vector<JobToPlan> out;
  for (int i = 0; i < rows->size(); ++i) {
    out.push_back(JobToPlan{rows->Str(i, "job_id"), site, rows->Str(i, "job_type"),
                            rows->Str(i, "target_scope"), rows->Str(i, "params")});
  }
  return out;
}

Result<int> ControlPlane::PlanJob(const std::string& job_id, const std::vector<PlannedStep>& steps) {
  return ScalarInt(conn_.Exec("SELECT dispatcher_v1_plan_job($1::uuid, $2::jsonb)", {job_id, StepsJson(steps)}));
}

Result<std::vector<int>> ControlPlane::PlanJobs(
    const std::vector<std::pair<std::string, std::vector<PlannedStep>>>& plans) {
  std::string json = "[";
  for (std::size_t i = 0; i < plans.size(); ++i) {
    json += fmt::format(R"({}{{"job_id":"{}","steps":{}}})", i ? "," : "", plans[i].first, StepsJson(plans[i].second));
  }
  json += "]";
  auto rows = conn_.Exec("SELECT steps FROM dispatcher_v1_plan_jobs($1::jsonb)", {json});
  if (!rows) return rows.error();
  std::vector<int> out;
  for (int i = 0; i < rows->size(); ++i) out.push_back(static_cast<int>(rows->Int(i, "steps").value_or(0)));
  return out;
}

Result<bool> ControlPlane::FailJob(const std::string& job_id, const Error& why) {
  auto v = ScalarText(conn_.Exec("SELECT dispatcher_v1_fail_job($1::uuid, $2, $3)",
                                 {job_id, why.code, why.message}));
  if (!v) return v.error();
  return *v == "t";
}

Result<std::vector<ClaimedStep>> ControlPlane::ClaimSteps(const ClaimRequest& r) {
  auto rows = conn_.Exec(
      "SELECT task_id, job_id, lease_id, step_key, step_kind, target, mutating, params, "
      "checkpoint, attempt, max_attempts, job_type, traceparent, waited_ms, queue_drained "
      "FROM dispatcher_v1_claim_ready_steps($1, $2, $3::text[], $4::int, $5::int, $6::text[], "
      "$7::int, $8::text[])",
      {r.site, r.owner, TextArray(r.step_kinds), std::to_string(r.limit),
       std::to_string(r.lease.count()), TextArray(r.exclude_targets),
       r.per_target ? db::Param(std::to_string(*r.per_target)) : db::Param(),
       TextArray(r.prefer_targets)});
  if (!rows) return rows.error();
  std::vector<ClaimedStep> out;
  for (int i = 0; i < rows->size(); ++i) {
    ClaimedStep s;
    s.task_id = rows->Str(i, "task_id");
    s.job_id = rows->Str(i, "job_id");
    s.lease_id = rows->Str(i, "lease_id");
    s.step_key = rows->Str(i, "step_key");
    s.step_kind = rows->Str(i, "step_kind");
    s.target = rows->Str(i, "target");
    s.mutating = rows->Bool(i, "mutating").value_or(true);
    s.params_json = rows->Str(i, "params");
    s.checkpoint_json = rows->Str(i, "checkpoint");
    s.attempt = static_cast<int>(rows->Int(i, "attempt").value_or(0));
    s.max_attempts = static_cast<int>(rows->Int(i, "max_attempts").value_or(0));
    s.job_type = rows->Str(i, "job_type");
    s.traceparent = rows->Str(i, "traceparent");
    s.waited_ms = std::strtod(rows->Str(i, "waited_ms").c_str(), nullptr);
    s.queue_drained = rows->Bool(i, "queue_drained").value_or(false);
    out.push_back(std::move(s));
  }
  return out;
}

Result<std::string> ControlPlane::StartStep(const std::string& task_id, const std::string& lease_id) {
  return ScalarText(conn_.Exec("SELECT dispatcher_v1_start_step($1::uuid, $2::uuid)", {task_id, lease_id}));
}

Result<bool> ControlPlane::ReportProgress(const std::string& task_id, const std::string& lease_id,
                                          int percent, const std::string& message) {
  auto v = ScalarText(conn_.Exec("SELECT dispatcher_v1_report_progress($1::uuid, $2::uuid, $3::int, $4)",
                                 {task_id, lease_id, std::to_string(percent), message}));
  if (!v) return v.error();
  return *v == "t";
}

Result<int> ControlPlane::ReportProgressMany(const std::vector<ProgressReport>& reports) {
  if (reports.empty()) return 0;
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartArray();
  for (const auto& r : reports) {
    w.StartObject();
    w.Key("task_id");
    Str(w, r.task_id);
    w.Key("lease_id");
    Str(w, r.lease_id);
    w.Key("progress");
    w.Int(r.percent);
    w.Key("message");
    Str(w, r.message);
    w.EndObject();
  }
  w.EndArray();
  return ScalarInt(conn_.Exec("SELECT dispatcher_v1_report_progress_many($1::jsonb)",
                              {std::string(buf.GetString(), buf.GetSize())}));
}

Result<bool> ControlPlane::SaveCheckpoint(const std::string& task_id, const std::string& lease_id,
                                          const std::string& checkpoint_json) {
  auto v = ScalarText(conn_.Exec("SELECT dispatcher_v1_save_checkpoint($1::uuid, $2::uuid, $3::jsonb)",
                                 {task_id, lease_id, checkpoint_json}));
  if (!v) return v.error();
  return *v == "t";
}

Result<std::vector<std::string>> ControlPlane::CompleteSteps(const std::vector<Completion>& completions) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartArray();
  for (const auto& c : completions) {
    w.StartObject();
    w.Key("task_id");
    Str(w, c.task_id);
    w.Key("lease_id");
    Str(w, c.lease_id);
    w.Key("result");
    if (c.result_json.empty()) {
      w.Null();
    } else {
      w.RawValue(c.result_json.c_str(), c.result_json.size(), rapidjson::kObjectType);
    }
    w.EndObject();
  }
  w.EndArray();
  auto rows = conn_.Exec(
      "SELECT c.outcome FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS i(v, ord) "
      "JOIN dispatcher_v1_complete_steps($1::jsonb) c ON c.task_id = (i.v ->> 'task_id')::uuid "
      "ORDER BY i.ord",
      {std::string(buf.GetString(), buf.GetSize())});
  if (!rows) return rows.error();
  std::vector<std::string> out;
  for (int i = 0; i < rows->size(); ++i) out.push_back(rows->Str(i, "outcome"));
  return out;
}

Result<std::string> ControlPlane::FailStep(const std::string& task_id, const std::string& lease_id,
                                           const Error& error, const std::string& result_json) {
  return ScalarText(conn_.Exec(
      "SELECT dispatcher_v1_fail_step($1::uuid, $2::uuid, $3, $4, $5::boolean, $6::jsonb)",
      {task_id, lease_id, error.code, error.message, error.retryable ? "true" : "false",
       result_json.empty() ? db::Param() : db::Param(result_json)}));
}

Result<ControlPlane::FailReport> ControlPlane::FailStepReport(const std::string& task_id, const std::string& lease_id,
                                                             const Error& error) {
  auto text = ScalarText(conn_.Exec(
      "SELECT dispatcher_v1_fail_step_report($1::uuid, $2::uuid, $3, $4, $5::boolean)::text",
      {task_id, lease_id, error.code, error.message, error.retryable ? "true" : "false"}));
  if (!text) return text.error();
  rapidjson::Document d;
  d.Parse(text->c_str());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("outcome") || !d["outcome"].IsString()) {
    return MakeError("db.result", "fail_step_report: not the expected JSON");
  }
  FailReport r;
  r.outcome = d["outcome"].GetString();
  if (d.HasMember("attempt") && d["attempt"].IsInt()) r.attempt = d["attempt"].GetInt();
  if (d.HasMember("max_attempts") && d["max_attempts"].IsInt()) r.max_attempts = d["max_attempts"].GetInt();
  if (d.HasMember("retry_in_ms") && d["retry_in_ms"].IsInt64()) r.retry_in_ms = d["retry_in_ms"].GetInt64();
  return r;
}

Result<std::string> ControlPlane::SnoozeStep(const std::string& task_id, const std::string& lease_id,
                                             std::chrono::seconds wait, const std::string& reason) {
  return ScalarText(conn_.Exec("SELECT dispatcher_v1_snooze_step($1::uuid, $2::uuid, $3::int, $4)",
                               {task_id, lease_id, std::to_string(wait.count()), reason}));
}

Result<std::string> ControlPlane::CancelStep(const std::string& task_id, const std::string& lease_id,
                                             const std::string& message) {
  return ScalarText(conn_.Exec("SELECT dispatcher_v1_cancel_step($1::uuid, $2::uuid, $3)",
                               {task_id, lease_id, message}));
}

Result<std::vector<LeaseState>> ControlPlane::ExtendLeases(const std::vector<std::string>& lease_ids,
                                                           std::chrono::seconds lease) {
  auto rows = conn_.Exec(
      "SELECT lease_id, task_id, valid, cancel_requested "
      "FROM dispatcher_v1_extend_leases($1::uuid[], $2::int)",
      {TextArray(lease_ids), std::to_string(lease.count())});
  if (!rows) return rows.error();
  std::vector<LeaseState> out;
  for (int i = 0; i < rows->size(); ++i) {
    out.push_back(LeaseState{rows->Str(i, "lease_id"), rows->Str(i, "task_id"),
                             rows->Bool(i, "valid").value_or(false),
                             rows->Bool(i, "cancel_requested").value_or(false)});
  }
  return out;
}

Result<std::vector<HeldStep>> ControlPlane::HeldSteps(const std::string& site) {
  auto rows = conn_.Exec("SELECT task_id, job_id, lease_id, lease_owner, step_kind, target, mutating, traceparent "
                         "FROM dispatcher_v1_held_steps($1)", {site});
  if (!rows) return rows.error();
  std::vector<HeldStep> out;
  for (int i = 0; i < rows->size(); ++i) {
    out.push_back(HeldStep{rows->Str(i, "task_id"), rows->Str(i, "job_id"), rows->Str(i, "lease_id"),
                           rows->Str(i, "lease_owner"), rows->Str(i, "step_kind"), rows->Str(i, "target"),
                           rows->Str(i, "traceparent"), rows->Bool(i, "mutating").value_or(true)});
  }
  return out;
}

Result<std::vector<RescuedStep>> ControlPlane::RescueExpired(const std::string& site, int limit) {
  auto rows = conn_.Exec("SELECT task_id, job_id, new_status, attempt, lost_owner "
                         "FROM dispatcher_v1_rescue_expired($1, $2::int)",
                         {site, std::to_string(limit)});
  if (!rows) return rows.error();
  std::vector<RescuedStep> out;
  for (int i = 0; i < rows->size(); ++i) {
    out.push_back(RescuedStep{rows->Str(i, "task_id"), rows->Str(i, "job_id"),
                              rows->Str(i, "new_status"), rows->Str(i, "lost_owner"),
                              static_cast<int>(rows->Int(i, "attempt").value_or(0))});
  }
  return out;
}

Result<int> ControlPlane::AppendEvents(const std::vector<EventRecord>& events) {
  int written = 0;
  for (std::size_t from = 0; from < events.size(); from += kEventsPerCall) {
    const std::size_t to = std::min(events.size(), from + kEventsPerCall);
    auto n = AppendEventsCall(events, from, to);
    if (!n) return n.error();
    written += *n;
  }
  return written;
}

Result<int> ControlPlane::AppendEventsCall(const std::vector<EventRecord>& events, std::size_t from, std::size_t to) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartArray();
  for (std::size_t i = from; i < to; ++i) {
    const EventRecord& e = events[i];
    w.StartObject();
    w.Key("job_id");
    Str(w, e.job_id);
    if (!e.task_id.empty()) {
      w.Key("task_id");
      Str(w, e.task_id);
    }
    w.Key("level");
    Str(w, e.level);
    w.Key("message");
    Str(w, e.message);
    if (!e.data_json.empty()) {
      w.Key("data");
      w.RawValue(e.data_json.c_str(), e.data_json.size(), rapidjson::kObjectType);
    }
    w.Key("source");
    Str(w, e.source);
    w.Key("trace_id");
    Str(w, e.trace_id);
    w.EndObject();
  }
  w.EndArray();
  return ScalarInt(conn_.Exec("SELECT dispatcher_v1_append_events($1::jsonb)",
                              {std::string(buf.GetString(), buf.GetSize())}));
}

Status ControlPlane::RegisterAgent(const AgentInfo& a) {
  auto r = conn_.Exec(
      "SELECT dispatcher_v1_register_agent($1, $2, $3, $4, $5, $6::int, $7::text[])",
      {a.id, a.site, a.kind, a.version, a.hostname, std::to_string(a.capacity), TextArray(a.step_kinds)});
  if (!r) return r.error();
  return {};
}

Status ControlPlane::AgentsSeen(const std::vector<std::pair<std::string, int>>& running_by_agent) {
  if (running_by_agent.empty()) return {};
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartArray();
  for (const auto& [id, running] : running_by_agent) {
    w.StartObject();
    w.Key("id");
    Str(w, id);
    w.Key("running");
    w.Int(running);
    w.Key("status");
    w.String("online");
    w.EndObject();
  }
  w.EndArray();
  auto r = conn_.Exec("SELECT dispatcher_v1_agents_seen($1::jsonb)", {std::string(buf.GetString(), buf.GetSize())});
  if (!r) return r.error();
  return {};
}

Status ControlPlane::AgentsReset(const std::string& site, const std::vector<std::string>& connected) {
  auto r = conn_.Exec("SELECT dispatcher_v1_agents_reset($1, $2::text[])", {site, TextArray(connected)});
  if (!r) return r.error();
  return {};
}

Status ControlPlane::AgentDisconnected(const std::string& agent_id) {
  auto r = conn_.Exec("SELECT dispatcher_v1_agent_disconnected($1)", {agent_id});
  if (!r) return r.error();
  return {};
}

Result<std::optional<CredentialSet>> ControlPlane::CredentialSetForStep(const std::string& id, const std::string& task_id) {
  auto rows = conn_.Exec("SELECT id, name, kind, username, ciphertext, key_id, refused "
                         "FROM dispatcher_v1_credential_set_for_step($1::uuid, $2::uuid)",
                         {id, task_id});
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<CredentialSet>();
  if (const std::string refused = rows->Str(0, "refused"); !refused.empty()) {
    return MakeError("step.credentials", refused);
  }
  return std::optional<CredentialSet>(CredentialSet{
      rows->Str(0, "id"), rows->Str(0, "name"), rows->Str(0, "kind"), rows->Str(0, "username"),
      ByteaBytes(rows->Str(0, "ciphertext")), rows->Str(0, "key_id")});
}

Result<std::string> ControlPlane::PutCredentialSet(const CredentialSet& s, const std::string& actor) {
  return ScalarText(conn_.Exec(
      "SELECT dispatcher_v1_put_credential_set($1, $2, $3, $4::bytea, $5, '', $6)",
      {s.name, s.kind, s.username, ByteaText(s.ciphertext), s.key_id, actor}));
}

Result<std::string> ControlPlane::SetCredentialScope(const std::string& name, const std::vector<std::string>& networks,
                                                     const std::vector<std::string>& hosts, const std::string& actor) {
  return ScalarText(conn_.Exec(
      "SELECT dispatcher_v1_set_credential_scope($1, nullif($2::text[], '{}'), nullif($3::text[], '{}'), $4)::text",
      {name, TextArray(networks), TextArray(hosts), actor}));
}

Result<std::string> ControlPlane::DefaultCredentialSet(const std::string& kind) {
  auto rows = conn_.Exec("SELECT id FROM dispatcher_v1_credential_sets_of_kind($1) LIMIT 1", {kind});
  if (!rows) return rows.error();
  return rows->empty() ? std::string() : rows->Str(0, "id");
}

Result<std::vector<std::string>> ControlPlane::FireDueSchedules(const std::string& site) {
  auto rows = conn_.Exec("SELECT job_id FROM dispatcher_v1_fire_due_schedules($1)", {site});
  if (!rows) return rows.error();
  std::vector<std::string> ids;
  for (int i = 0; i < rows->size(); ++i) ids.push_back(rows->Str(i, "job_id"));
  return ids;
}

Result<std::map<std::string, long>> ControlPlane::QueueDepth(const std::string& site) {
  auto rows = conn_.Exec("SELECT status, steps FROM dispatcher_v1_queue_depth($1)", {site});
  if (!rows) return rows.error();
  std::map<std::string, long> out{{"blocked", 0}, {"ready", 0}, {"leased", 0}, {"running", 0}};
  for (int i = 0; i < rows->size(); ++i) out[rows->Str(i, "status")] = rows->Int(i, "steps").value_or(0);
  return out;
}

Result<int> ControlPlane::Prune(std::chrono::milliseconds retention, int batch) {
  auto n = ScalarText(conn_.Exec("SELECT dispatcher_v1_prune(make_interval(secs => $1::double precision), $2::int)::text",
                                 {std::to_string(retention.count() / 1000), std::to_string(batch)}));
  if (!n) return n.error();
  return std::atoi(n->c_str());
}

Result<std::string> ControlPlane::RefreshStatistics() {
  return ScalarText(conn_.Exec("SELECT dispatcher_v1_refresh_statistics()::text"));
}

Result<std::string> ControlPlane::CreateJob(const NewJob& j) {
  return ScalarText(conn_.Exec(
      "SELECT dispatcher_v1_create_job($1, $2, $3::jsonb, $4::jsonb, $5, NULL, $6::int, $7)",
      {j.site, j.job_type, j.target_scope_json, j.params_json,
       j.idempotency_key.empty() ? db::Param() : db::Param(j.idempotency_key),
       std::to_string(j.priority), j.actor}));
}

Result<std::string> ControlPlane::CancelJob(const std::string& job_id, const std::string& actor) {
  return ScalarText(conn_.Exec("SELECT dispatcher_v1_cancel_job($1::uuid, $2)", {job_id, actor}));
}

Result<std::string> ControlPlane::ResumeJob(const std::string& job_id, const std::string& resolution,
                                            const std::string& actor) {
  return ScalarText(conn_.Exec("SELECT dispatcher_v1_resume_job($1::uuid, $2, $3)", {job_id, resolution, actor}));
}

Result<std::optional<std::string>> ControlPlane::GetJobJson(const std::string& job_id) {
  auto rows = conn_.Exec("SELECT dispatcher_v1_get_job($1::uuid)::text AS job", {job_id});
  if (!rows) return rows.error();
  if (rows->empty() || rows->Str(0, "job").empty()) return std::optional<std::string>();
  return std::optional<std::string>(rows->Str(0, "job"));
}

namespace {
// A JSON array of the jsonb rows a set-returning API function gives.
Result<std::string> JsonArrayOf(Result<db::Rows> rows) {
  if (!rows) return rows.error();
  std::string out = "[";
  for (int i = 0; i < rows->size(); ++i) {
    if (i) out += ",";
    out += rows->TextAt(i, 0).value_or("null");
  }
  return out + "]";
}
}  // namespace

Result<std::string> ControlPlane::ListJobsJson(const std::string& site, int limit, const std::string& status) {
  return JsonArrayOf(conn_.Exec("SELECT dispatcher_v1_list_jobs($1, $2::int, $3)::text",
                                {site, std::to_string(limit), status.empty() ? db::Param() : db::Param(status)}));
}

Result<std::string> ControlPlane::JobEventsJson(const std::string& job_id, long after_id, int limit) {
  return JsonArrayOf(conn_.Exec("SELECT dispatcher_v1_job_events($1::uuid, $2::bigint, $3::int)::text",
                                {job_id, std::to_string(after_id), std::to_string(limit)}));
}

Result<std::string> ControlPlane::ListAgentsJson(const std::string& site) {
  return JsonArrayOf(conn_.Exec("SELECT dispatcher_v1_list_agents($1)::text", {site}));
}

Result<std::string> ControlPlane::ListCredentialSetsJson() {
  return JsonArrayOf(conn_.Exec("SELECT dispatcher_v1_list_credential_sets()::text"));
}

Result<std::optional<std::string>> ControlPlane::StepJson(const std::string& site, const std::string& job_id,
                                                          const std::string& task_id) {
  auto rows = conn_.Exec("SELECT dispatcher_v1_get_step($1, $2::uuid, $3::uuid)::text AS step", {site, job_id, task_id});
  if (!rows) return rows.error();
  if (rows->empty() || rows->Str(0, "step").empty()) return std::optional<std::string>();
  return std::optional<std::string>(rows->Str(0, "step"));
}

Result<std::string> ControlPlane::JobTypesJson() {
  return ScalarText(conn_.Exec("SELECT dispatcher_v1_job_types()::text"));
}

Result<std::string> ControlPlane::SchedulesJson(const std::string& site) {
  return ScalarText(conn_.Exec("SELECT dispatcher_v1_list_schedules($1)::text", {site}));
}

Result<std::string> ControlPlane::SearchInventoryJson(const std::string& site, const std::string& query, int limit) {
  return ScalarText(conn_.Exec("SELECT dispatcher_v1_search_inventory($1, $2, $3::int)::text",
                               {site, query, std::to_string(limit)}));
}

// Identity conflicts
Result<std::string> ControlPlane::IdentityConflictsJson(const std::string& site, const std::string& status,
                                                        int limit) {
  return ScalarText(conn_.Exec("SELECT dispatcher_v1_identity_conflicts($1, $2, $3::int)::text",
                               {site, status, std::to_string(limit)}));
}

Result<std::string> ControlPlane::ResolveIdentityConflict(const std::string& site, const std::string& id,
                                                          const std::string& action, const std::string& server_id,
                                                          const std::string& actor, const std::string& note) {
  return ScalarText(conn_.Exec(
      "SELECT dispatcher_v1_resolve_identity_conflict($1, $2::uuid, $3, $4::uuid, $5, $6)::text",
      {site, id, action, server_id.empty() ? db::Param() : db::Param(server_id), actor,
       note.empty() ? db::Param() : db::Param(note)}));
}

}  // namespace dcops::dispatcher
