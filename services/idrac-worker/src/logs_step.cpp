// server.logs: log records since the last collection: SEL and Lifecycle on an iDRAC, the SEL
// and the system's and manager's log services elsewhere.
//
// The log services are found through the LogServices links of the manager and the system the
// service lists, and their Entries link is followed wherever it points (older iDRAC firmware:
// Managers/…/Logs/Sel).
// iDRACs list newest first, so a collection reads pages only until it reaches the record the
// last one stopped at; a BMC that lists oldest first is read whole and filtered. At most
// max_entries records per log are returned (then "truncated": the oldest new ones are left).
// Read-only: nothing to checkpoint, a retry simply reads again.
#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "dcops/redfish/collection.hpp"
#include "dell.hpp"
#include "log_entries.hpp"
#include "operation_steps.hpp"
#include "redfish_target.hpp"

namespace dcops::idrac {
namespace {

using agent::StepOutcome;

// Pages read from one log at most (a BMC whose paging never ends is not followed forever).
constexpr int kMaxPages = 4000;

struct LogRead {
  std::string name;                // "sel" / "lifecycle"
  std::vector<LogRecord> records;  // new ones, newest first
  std::optional<LogRecord> newest;
  bool truncated = false;
};

// The Entries collection of each log service this BMC has, by our name for the log: on an
// iDRAC its SEL and Lifecycle log; elsewhere a SEL wherever it is, and the first other log
// service of the system ("system") and of the manager ("manager"). The LogServices links come
// from the system and manager documents, as advertised.
Result<std::map<std::string, std::string>> FindLogs(redfish::Client& bmc) {
  auto map = bmc.Map();
  if (!map) return map.error();
  std::map<std::string, std::string> found;
  for (const auto& [owner, owner_name] : {std::pair{map->manager, "manager"}, std::pair{map->system, "system"}}) {
    if (owner.empty()) continue;
    auto owner_doc = bmc.Get(owner);
    if (!owner_doc) return owner_doc.error();
    const std::string link = owner_doc->OptionalString("LogServices/@odata.id").value_or("");
    if (link.empty()) continue;  // optional: this part of the service has no logs
    auto services = redfish::ReadMembers(bmc, link, {});
    if (!services) return services.error();
    for (const auto& service : *services) {
      const std::string sid = service.OptionalString("Id").value_or("");
      const std::string type = service.OptionalString("LogEntryType").value_or("");
      std::string name;
      if (type == "SEL" || sid == "SEL" || sid == "Sel") name = "sel";
      if (map->idrac && (sid == "LC" || sid == "Lclog")) name = "lifecycle";
      if (name.empty() && !map->idrac) name = owner_name;
      if (name.empty() || found.count(name)) continue;
      auto entries = service.String("Entries/@odata.id");
      if (!entries) return entries.error();
      found[name] = *entries;
    }
  }
  return found;
}

// The records of one page: embedded (iDRAC), or links read one at a time (other BMCs).
Result<std::vector<LogRecord>> PageRecords(redfish::Client& bmc, const redfish::Document& page) {
  std::vector<LogRecord> out;
  auto members = page.ExpandedMembers();
  if (members) {
    for (const auto& m : *members) {
      auto r = ReadLogRecord(m);
      if (!r) return r.error();
      out.push_back(std::move(*r));
    }
    return out;
  }
  auto ids = page.MemberIds();
  if (!ids) return ids.error();
  for (const auto& id : *ids) {
    auto doc = bmc.Get(id);
    if (!doc) return doc.error();
    auto r = ReadLogRecord(*doc);
    if (!r) return r.error();
    out.push_back(std::move(*r));
  }
  return out;
}

Result<LogRead> ReadLog(agent::StepContext& ctx, redfish::Client& bmc, const std::string& name,
                        const std::string& entries, const std::optional<LogCursor>& cursor,
                        std::size_t max_entries) {
  LogRead out{name, {}, std::nullopt, false};
  bool newest_first = true;  // decided by the first page with two records
  bool decided = false;
  std::vector<LogRecord> oldest_first;  // new records of a BMC that lists oldest first
  int pages = 0;
  bool done = false;  // the cursor or the cap was reached: `out` is complete
  // A nextLink back to a page already read fails the step (a broken service), rather than
  // counting the same page again and again as new entries.
  auto read = redfish::ForEachPage(
      bmc, entries, kMaxPages + 1, [&](const redfish::Document& doc) -> Result<bool> {
        if (ctx.CancelRequested()) return MakeError("step.cancelled", "cancelled");
        auto records = PageRecords(bmc, doc);
        if (!records) return records.error();
        if (!decided && records->size() >= 2) {
          newest_first = records->front().epoch >= records->back().epoch;
          decided = true;
        }
        for (auto& r : *records) {
          if (!newest_first) {
            out.newest = r;  // the last one read is the newest
            if (!SeenBefore(r, cursor)) oldest_first.push_back(std::move(r));
            continue;
          }
          if (!out.newest) out.newest = r;
          if (SeenBefore(r, cursor)) {  // everything after it was collected before
            done = true;
            return false;
          }
          if (out.records.size() == max_entries) {
            out.truncated = true;
            done = true;
            return false;
          }
          out.records.push_back(std::move(r));
        }
        if (++pages == kMaxPages) {  // a log longer than this worker reads: said so, not failed
          out.truncated = true;
          return false;
        }
        return true;
      });
  if (!read) return read.error();
  if (done) return out;
  for (auto it = oldest_first.rbegin(); it != oldest_first.rend(); ++it) {
    if (out.records.size() == max_entries) {
      out.truncated = true;
      break;
    }
    out.records.push_back(std::move(*it));
  }
  return out;
}

void Text(rapidjson::Writer<rapidjson::StringBuffer>& w, const char* key,
          const std::string& value) {
  w.Key(key);
  w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
}

std::string ResultJson(const std::vector<LogRead>& logs) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("logs");
  w.StartArray();
  for (const auto& log : logs) {
    w.StartObject();
    Text(w, "log", log.name);
    w.Key("newest");
    if (log.newest) {
      w.StartObject();
      Text(w, "id", log.newest->id);
      Text(w, "created", log.newest->created);
      w.EndObject();
    } else {
      w.Null();
    }
    w.Key("truncated");
    w.Bool(log.truncated);
    w.Key("entries");
    w.StartArray();
    for (const auto& r : log.records) {
      w.StartObject();
      Text(w, "id", r.id);
      Text(w, "created", r.created);
      Text(w, "severity", r.severity);
      if (!r.message_id.empty()) Text(w, "message_id", r.message_id);
      Text(w, "message", r.message);
      if (!r.sensor_type.empty()) Text(w, "sensor_type", r.sensor_type);
      if (!r.entry_code.empty()) Text(w, "entry_code", r.entry_code);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

// The cursor the dispatcher handed over for `log` ("_logs": {"sel": {"id", "created"}}).
Result<std::optional<LogCursor>> CursorOf(const Params& p, const std::string& log) {
  const auto* all = p.Raw("_logs");
  if (all == nullptr || !all->IsObject() || !all->HasMember(log.c_str()))
    return std::optional<LogCursor>();
  const auto& c = (*all)[log.c_str()];
  if (!c.IsObject() || !c.HasMember("id") || !c["id"].IsString() || !c.HasMember("created") ||
      !c["created"].IsString()) {
    return BadParam("_logs", "each cursor must be {\"id\", \"created\"}");
  }
  const auto epoch = EpochOf(c["created"].GetString());
  if (!epoch) return BadParam("_logs", "created must be an ISO 8601 time");
  return std::optional<LogCursor>(LogCursor{c["id"].GetString(), *epoch});
}

}  // namespace

StepOutcome RunLogs(agent::StepContext& ctx, redfish::Client& bmc) {
  auto p = Params::Parse(ctx.assignment().params_json);
  if (!p) return StepOutcome::Failed(p.error());
  auto wanted = p->TextList("logs");
  if (!wanted) return StepOutcome::Failed(wanted.error());
  for (const auto& w : wanted->value_or(std::vector<std::string>{})) {
    if (w != "sel" && w != "lifecycle" && w != "system" && w != "manager")
      return StepOutcome::Failed(BadParam("logs", "'" + w + "' is not sel, lifecycle, system or manager"));
  }
  auto max_entries = p->Int("max_entries", 1, 100000);
  if (!max_entries) return StepOutcome::Failed(max_entries.error());
  const std::size_t cap = static_cast<std::size_t>(max_entries->value_or(10000));

  ctx.Progress(5, "finding the log services");
  auto logs = FindLogs(bmc);
  if (!logs) return StepOutcome::Failed(logs.error());
  std::vector<std::string> names;
  if (*wanted) {
    for (const auto& w : **wanted) {
      if (!logs->count(w)) {
        return StepOutcome::Failed(MakeError(
            "redfish.unsupported", fmt::format("{} has no {} log service", bmc.target().address,
                                               w == "sel" ? "SEL" : w == "lifecycle" ? "Lifecycle" : w)));
      }
      names.push_back(w);
    }
  } else {
    for (const auto& [name, _] : *logs) names.push_back(name);  // whichever this BMC has
  }
  std::vector<LogRead> read;
  for (std::size_t i = 0; i < names.size(); ++i) {
    auto cursor = CursorOf(*p, names[i]);
    if (!cursor) return StepOutcome::Failed(cursor.error());
    ctx.Progress(static_cast<int>(10 + 80 * i / names.size()), "reading the " + names[i] + " log");
    auto log = ReadLog(ctx, bmc, names[i], logs->at(names[i]), *cursor, cap);
    if (!log) return FailedOrCancelled(ctx, log.error());
    read.push_back(std::move(*log));
  }
  std::string summary;
  for (const auto& r : read) {
    summary += fmt::format("{}{}: {} new{}", summary.empty() ? "" : ", ", r.name, r.records.size(),
                           r.truncated ? " (truncated)" : "");
  }
  ctx.Progress(100, summary.empty() ? "no log service" : summary);
  return StepOutcome::Succeeded(ResultJson(read));
}

}  // namespace dcops::idrac
