#include "dcops/common/log.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdio>

namespace dcops {

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "info";
}

LogLevel LogLevelFromName(std::string_view name) {
  if (name == "debug") return LogLevel::kDebug;
  if (name == "warn") return LogLevel::kWarn;
  if (name == "error") return LogLevel::kError;
  return LogLevel::kInfo;
}

void StderrSink::Write(std::string_view line) {
  std::lock_guard lock(mu_);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fputc('\n', stderr);
  std::fflush(stderr);
}

void MemorySink::Write(std::string_view line) {
  std::lock_guard lock(mu_);
  lines_.emplace_back(line);
}

std::vector<std::string> MemorySink::lines() const {
  std::lock_guard lock(mu_);
  return lines_;
}

Logger::Logger(std::string service, LogSink& sink, const Clock& clock,
               const SecretRegistry* secrets, LogLevel min_level)
    : service_(std::move(service)), sink_(sink), clock_(clock), secrets_(secrets),
      min_level_(min_level) {}

std::string Logger::Format(LogLevel level, std::string_view msg, const LogContext& ctx,
                           const LogFields& fields) const {
  auto scrub = [this](std::string_view s) {
    return secrets_ ? secrets_->Scrub(s) : std::string(s);
  };
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto put = [&w](std::string_view key, std::string_view value) {
    w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  };
  w.StartObject();
  put("ts", FormatUtc(clock_.Now()));
  put("level", LogLevelName(level));
  put("msg", scrub(msg));
  put("service", service_);
  if (!ctx.job_id.empty()) put("job_id", ctx.job_id);
  if (!ctx.task_id.empty()) put("task_id", ctx.task_id);
  if (!ctx.trace_id.empty()) put("trace_id", ctx.trace_id);
  if (!ctx.target.empty()) put("target", scrub(ctx.target));
  for (const auto& field : fields) {
    if (IsSecretKey(field.key)) {
      put(field.key, kRedacted);
      continue;
    }
    w.Key(field.key.data(), static_cast<rapidjson::SizeType>(field.key.size()));
    std::visit(
        [&](const auto& v) {
          using V = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<V, std::string>) {
            const std::string clean = scrub(v);
            w.String(clean.data(), static_cast<rapidjson::SizeType>(clean.size()));
          } else if constexpr (std::is_same_v<V, std::int64_t>) {
            w.Int64(v);
          } else if constexpr (std::is_same_v<V, double>) {
            w.Double(v);
          } else {
            w.Bool(v);
          }
        },
        field.value);
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

void Logger::Log(LogLevel level, std::string_view msg, const LogContext& ctx,
                 const LogFields& fields) const {
  if (level < min_level_) return;
  sink_.Write(Format(level, msg, ctx, fields));
}

}  // namespace dcops
