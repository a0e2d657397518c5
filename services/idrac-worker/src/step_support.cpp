#include "step_support.hpp"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

namespace dcops::idrac {

Error BadParam(const char* key, const std::string& problem) {
  return MakeError("step.bad_params", fmt::format("params.{}: {}", key, problem));
}

Result<Params> Params::Parse(const std::string& json) {
  auto doc = std::make_shared<rapidjson::Document>();
  doc->Parse(json.empty() ? "{}" : json.c_str());
  if (doc->HasParseError() || !doc->IsObject()) return MakeError("step.bad_params", "params: not a JSON object");
  Params p;
  p.doc_ = std::move(doc);
  return p;
}

const rapidjson::Value* Params::Raw(const char* key) const {
  auto it = doc_->FindMember(key);
  return it == doc_->MemberEnd() || it->value.IsNull() ? nullptr : &it->value;
}

Result<std::optional<std::string>> Params::Text(const char* key, std::initializer_list<const char*> allowed) const {
  const auto* v = Raw(key);
  if (v == nullptr) return std::optional<std::string>();
  if (!v->IsString()) return BadParam(key, "must be a string");
  std::string s(v->GetString(), v->GetStringLength());
  if (allowed.size() > 0 &&
      std::none_of(allowed.begin(), allowed.end(), [&s](const char* a) { return s == a; })) {
    std::string list;
    for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
    return BadParam(key, fmt::format("'{}' is not one of {}", s, list));
  }
  return std::optional<std::string>(std::move(s));
}

Result<std::string> Params::RequiredText(const char* key, std::initializer_list<const char*> allowed) const {
  auto v = Text(key, allowed);
  if (!v) return v.error();
  if (!*v) return BadParam(key, "is required");
  return **v;
}

Result<std::optional<bool>> Params::Flag(const char* key) const {
  const auto* v = Raw(key);
  if (v == nullptr) return std::optional<bool>();
  if (!v->IsBool()) return BadParam(key, "must be true or false");
  return std::optional<bool>(v->GetBool());
}

Result<std::optional<std::int64_t>> Params::Int(const char* key, std::int64_t min, std::int64_t max) const {
  const auto* v = Raw(key);
  if (v == nullptr) return std::optional<std::int64_t>();
  if (!v->IsInt64() || v->GetInt64() < min || v->GetInt64() > max) {
    return BadParam(key, fmt::format("must be an integer from {} to {}", min, max));
  }
  return std::optional<std::int64_t>(v->GetInt64());
}

Result<std::optional<std::vector<std::string>>> Params::TextList(const char* key) const {
  const auto* v = Raw(key);
  if (v == nullptr) return std::optional<std::vector<std::string>>();
  if (!v->IsArray()) return BadParam(key, "must be an array of strings");
  std::vector<std::string> out;
  for (const auto& item : v->GetArray()) {
    if (!item.IsString()) return BadParam(key, "must be an array of strings");
    out.emplace_back(item.GetString(), item.GetStringLength());
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

Checkpoint Checkpoint::Parse(const std::string& json) {
  Checkpoint cp;
  rapidjson::Document doc;
  doc.Parse(json.c_str());
  if (json.empty() || doc.HasParseError() || !doc.IsObject()) return cp;
  for (const auto& m : doc.GetObject()) {
    if (m.value.IsString()) cp.values_[m.name.GetString()] = m.value.GetString();
  }
  return cp;
}

std::string Checkpoint::Get(const std::string& key) const {
  auto it = values_.find(key);
  return it == values_.end() ? std::string() : it->second;
}

Checkpoint& Checkpoint::Set(const std::string& key, std::string value) {
  values_[key] = std::move(value);
  return *this;
}

std::string Checkpoint::Json() const {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  for (const auto& [k, v] : values_) {
    w.Key(k.c_str(), static_cast<rapidjson::SizeType>(k.size()));
    w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

Result<WaitEnd> WaitUntil(agent::StepContext& ctx, std::chrono::milliseconds interval,
                          std::chrono::milliseconds timeout, const std::function<Result<bool>()>& probe,
                          std::optional<Error>* last_transient) {
  const auto deadline = ctx.clock().Steady() + timeout;
  while (true) {
    if (ctx.CancelRequested()) return WaitEnd::kCancelled;
    auto done = probe();
    if (done && *done) return WaitEnd::kDone;
    if (!done) {
      if (!done.error().retryable) return done.error();
      if (last_transient != nullptr) *last_transient = done.error();
    }
    if (ctx.clock().Steady() >= deadline) return WaitEnd::kTimedOut;
    if (!ctx.Wait(interval)) return WaitEnd::kCancelled;
  }
}

Result<redfish::TaskStatus> FollowTask(agent::StepContext& ctx, redfish::Client& bmc, const std::string& uri,
                                       const OperationOptions& options, std::chrono::milliseconds timeout,
                                       bool stop_when_scheduled, int from, int to) {
  redfish::TaskStatus last;
  std::optional<Error> transient;
  auto end = WaitUntil(
      ctx, options.poll_interval, timeout,
      [&]() -> Result<bool> {
        auto doc = bmc.Get(uri);
        if (!doc) return doc.error();
        auto status = redfish::ParseTask(*doc);
        if (!status) return status.error();
        if (status->percent != last.percent || status->state != last.state) {
          ctx.Progress(from + (to - from) * std::clamp(status->percent, 0, 100) / 100,
                       fmt::format("{} {}%{}", redfish::StateName(status->state), status->percent,
                                   status->message.empty() ? "" : ": " + status->message));
        }
        last = *status;
        return status->finished() || (stop_when_scheduled && status->state == redfish::TaskStatus::State::kScheduled);
      },
      &transient);
  if (!end) return end.error();
  if (*end == WaitEnd::kCancelled) return MakeError("step.cancelled", "cancelled while following " + uri);
  if (*end == WaitEnd::kTimedOut) {
    return MakeError("redfish.task_timeout",
                     fmt::format("{} did not finish within {} s (last state {}{}{})", uri,
                                 std::chrono::duration_cast<std::chrono::seconds>(timeout).count(),
                                 redfish::StateName(last.state), last.message.empty() ? "" : ": " + last.message,
                                 transient ? "; last error: " + transient->message : ""),
                     true);
  }
  return last;
}

agent::StepOutcome FailedOrCancelled(agent::StepContext& ctx, const Error& e) {
  if (ctx.CancelRequested() || e.code == "step.cancelled") return agent::StepOutcome::Cancelled("cancelled by request");
  return agent::StepOutcome::Failed(e);
}

}  // namespace dcops::idrac
