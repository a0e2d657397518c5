#include "log_entries.hpp"

#include <fmt/format.h>

#include <ctime>

namespace dcops::idrac {

std::optional<std::int64_t> EpochOf(const std::string& iso) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  int used = 0;
  if (std::sscanf(iso.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &used) != 6 || used != 19) {
    return std::nullopt;
  }
  std::size_t at = 19;
  if (at < iso.size() && iso[at] == '.') {
    ++at;
    while (at < iso.size() && std::isdigit(static_cast<unsigned char>(iso[at]))) ++at;
  }
  std::int64_t offset = 0;
  const std::string zone = iso.substr(at);
  if (zone == "Z") {
    offset = 0;
  } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
    int oh = 0, om = 0;
    if (std::sscanf(zone.c_str() + 1, "%2d:%2d", &oh, &om) != 2) return std::nullopt;
    offset = (zone[0] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
  } else {
    return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return static_cast<std::int64_t>(timegm(&tm)) - offset;
}

std::string UtcText(std::int64_t epoch) {
  const std::time_t t = static_cast<std::time_t>(epoch);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec);
}

Result<LogRecord> ReadLogRecord(const redfish::Document& entry) {
  LogRecord r;
  auto id = entry.String("Id");
  if (!id) return id.error();
  auto created = entry.String("Created");
  if (!created) return created.error();
  const auto epoch = EpochOf(*created);
  if (!epoch) {
    return MakeError("redfish.schema", fmt::format("{}: Created is not an ISO 8601 time: '{}'", entry.resource(), *created));
  }
  r.id = *id;
  r.epoch = *epoch;
  r.created = UtcText(*epoch);
  for (auto [field, out] : {std::pair<const char*, std::string*>{"Severity", &r.severity}, {"MessageId", &r.message_id},
                            {"Message", &r.message}, {"SensorType", &r.sensor_type}, {"EntryCode", &r.entry_code}}) {
    auto v = entry.MaybeString(field);
    if (!v) return v.error();
    *out = v->value_or("");
  }
  return r;
}

}  // namespace dcops::idrac
