#include "step_support.hpp"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cstdlib>

namespace dcops::idrac {

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

std::string UnixSecondsText(const Clock& clock) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(clock.Now().time_since_epoch()).count());
}

std::optional<std::chrono::milliseconds> Ago(const Clock& clock, const std::string& since) {
  char* end = nullptr;
  const long long unix_seconds = std::strtoll(since.c_str(), &end, 10);
  if (since.empty() || end == nullptr || *end != '\0') return std::nullopt;
  const auto then = Clock::WallTime(std::chrono::seconds(unix_seconds));
  return std::max(std::chrono::duration_cast<std::chrono::milliseconds>(clock.Now() - then), std::chrono::milliseconds(0));
}

std::chrono::milliseconds TimeLeft(const Clock& clock, const std::string& since, std::chrono::milliseconds timeout) {
  const auto ago = Ago(clock, since);
  if (!ago) return timeout;
  return std::clamp(timeout - *ago, std::chrono::milliseconds(0), timeout);
}

agent::StepOutcome FailedOrCancelled(agent::StepContext& ctx, const Error& e) {
  if (ctx.CancelRequested() || e.code == "step.cancelled") return agent::StepOutcome::Cancelled("cancelled by request");
  return agent::StepOutcome::Failed(e);
}

}  // namespace dcops::idrac
