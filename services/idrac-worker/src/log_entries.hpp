#pragma once
// SEL and Lifecycle log records as the worker reads them (pure: no network).
//
// A LogEntry is read strictly: Id and Created are required, the rest is optional text; a
// value of another type is an error naming the entry and the field. Created is normalised to
// UTC ("2026-11-27T09:00:05Z") whatever offset the BMC wrote, so records compare by time.
#include <cstdint>
#include <optional>
#include <string>

#include "dcops/redfish/json.hpp"

namespace dcops::idrac {

struct LogRecord {
  std::string id;
  std::string created;  // UTC, "…Z"
  std::int64_t epoch = 0;
  std::string severity, message_id, message, sensor_type, entry_code;
};

// Seconds since the epoch of an ISO 8601 time with "Z" or a ±HH:MM offset (fractions ignored).
std::optional<std::int64_t> EpochOf(const std::string& iso);
std::string UtcText(std::int64_t epoch);

Result<LogRecord> ReadLogRecord(const redfish::Document& entry);

// Where the last collection stopped: the newest record it saw.
struct LogCursor {
  std::string id;
  std::int64_t epoch = 0;
};

// Whether `r` was already collected, given the cursor. Records of the cursor's second with
// another id count as new (the database keeps one of each).
inline bool SeenBefore(const LogRecord& r, const std::optional<LogCursor>& cursor) {
  return cursor && (r.epoch < cursor->epoch || (r.epoch == cursor->epoch && r.id == cursor->id));
}

}  // namespace dcops::idrac
