#pragma once
// JSON-lines logging. One line per record:
//   {"ts":"2026-11-27T03:42:57.123Z","level":"info","msg":"...","service":"job-dispatcher",
//    "job_id":"...","task_id":"...","trace_id":"...","target":"idrac:127.0.1.4", ...fields}
// Context keys appear only when known. Fields whose key names a secret are written as
// "[REDACTED]"; every string (msg included) is scrubbed of registered secret values.
//
// Ownership: a Logger borrows its sink, clock and secret registry; they must outlive it.
// Thread-safety: Log() is safe from many threads (each record is one write to the sink).
// Blocking: Log() blocks for the sink's write (stderr: one fwrite).

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "dcops/common/clock.hpp"
#include "dcops/common/redact.hpp"

namespace dcops {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
std::string_view LogLevelName(LogLevel level);
// "debug", "info", "warn" or "error"; anything else is info.
LogLevel LogLevelFromName(std::string_view name);

struct LogContext {
  std::string job_id;
  std::string task_id;
  std::string trace_id;
  std::string target;
};

struct LogField {
  std::string key;
  std::variant<std::string, std::int64_t, double, bool> value;
};
using LogFields = std::vector<LogField>;

// Where finished lines go. A line has no trailing newline; the sink adds one.
class LogSink {
 public:
  virtual ~LogSink() = default;
  virtual void Write(std::string_view line) = 0;
};

class StderrSink final : public LogSink {
 public:
  void Write(std::string_view line) override;

 private:
  std::mutex mu_;
};

// Keeps lines in memory, for tests.
class MemorySink final : public LogSink {
 public:
  void Write(std::string_view line) override;
  std::vector<std::string> lines() const;

 private:
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
};

class Logger {
 public:
  Logger(std::string service, LogSink& sink, const Clock& clock,
         const SecretRegistry* secrets = nullptr, LogLevel min_level = LogLevel::kInfo);

  void Log(LogLevel level, std::string_view msg, const LogContext& ctx = {},
           const LogFields& fields = {}) const;
  void Debug(std::string_view msg, const LogContext& ctx = {}, const LogFields& f = {}) const {
    Log(LogLevel::kDebug, msg, ctx, f);
  }
  void Info(std::string_view msg, const LogContext& ctx = {}, const LogFields& f = {}) const {
    Log(LogLevel::kInfo, msg, ctx, f);
  }
  void Warn(std::string_view msg, const LogContext& ctx = {}, const LogFields& f = {}) const {
    Log(LogLevel::kWarn, msg, ctx, f);
  }
  void Error(std::string_view msg, const LogContext& ctx = {}, const LogFields& f = {}) const {
    Log(LogLevel::kError, msg, ctx, f);
  }

  // The same logger (service, sink, clock, secrets) writing from `min_level` up.
  Logger WithMinLevel(LogLevel min_level) const {
    return Logger(service_, sink_, clock_, secrets_, min_level);
  }

  // The line Log() would write, without writing it.
  std::string Format(LogLevel level, std::string_view msg, const LogContext& ctx,
                     const LogFields& fields) const;

 private:
  std::string service_;
  LogSink& sink_;
  const Clock& clock_;
  const SecretRegistry* secrets_;
  LogLevel min_level_;
};

}  // namespace dcops
