#include "health_step.hpp"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <ctime>
#include <map>

#include "dcops/agent/params.hpp"
#include "dcops/zfs/health.hpp"
#include "dcops/zfs/names.hpp"
#include "host_access.hpp"
#include "zfs_host.hpp"

namespace dcops::zfs_worker {
namespace {

using agent::StepOutcome;

std::optional<std::int64_t> ScrubTime(const std::string& text) {
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%a %b %d %H:%M:%S %Y", &tm);
  if (end == nullptr) return std::nullopt;
  return static_cast<std::int64_t>(timegm(&tm));
}

void WriteSize(rapidjson::Writer<rapidjson::StringBuffer>& w, const char* key, const std::optional<zfs::Size>& s) {
  w.Key(key);
  if (s) {
    w.Uint64(s->bytes);
  } else {
    w.Null();
  }
}

}  // namespace

StepOutcome RunHealth(agent::StepContext& ctx, const ShellConnector& connect) {
  auto params = agent::Params::Parse(ctx.assignment().params_json);
  if (!params) return StepOutcome::Failed(params.error());
  auto wanted = params->TextList("pools");
  if (!wanted) return StepOutcome::Failed(wanted.error());
  for (const auto& p : wanted->value_or(std::vector<std::string>{})) {
    if (auto st = zfs::CheckPool(p, "params.pools"); !st) return StepOutcome::Failed(st.error());
  }
  auto max_age = params->Int("max_scrub_age_days", 1, 3650);
  if (!max_age) return StepOutcome::Failed(max_age.error());
  const std::int64_t max_age_s = max_age->value_or(35) * 86400;
  auto access = ReadHostAccess(*params, ctx.assignment(), "_endpoint");
  if (!access) return StepOutcome::Failed(access.error());
  NewHostKeys new_keys;
  auto shell = ConnectHost(ctx, connect, *access, new_keys);
  if (!shell) return StepOutcome::Failed(shell.error());
  ZfsHost host(**shell, access->Label());

  // OpenZFS lists exact numbers (-p); old ZFS prints rounded sizes and has no fragmentation.
  auto version = host.Version();
  if (!version) return StepOutcome::Failed(version.error());
  const bool openzfs = !version->empty();
  std::vector<std::string> pool_list = openzfs
      ? std::vector<std::string>{"zpool", "list", "-H", "-p", "-o", "name,size,allocated,free,capacity,health,fragmentation"}
      : std::vector<std::string>{"zpool", "list", "-H", "-o", "name,size,alloc,free,cap,health"};
  for (const auto& p : wanted->value_or(std::vector<std::string>{})) pool_list.push_back(p);
  auto listed = host.Command(pool_list);
  if (!listed) return StepOutcome::Failed(listed.error());
  auto pools = zfs::ParsePoolList(*listed);
  if (!pools) return StepOutcome::Failed(MakeError(pools.error().code, host.label() + ": " + pools.error().message));
  std::vector<std::string> status_cmd{"zpool", "status"};
  for (const auto& p : *pools) status_cmd.push_back(p.name);
  auto status_out = pools->empty() ? Result<std::string>(std::string()) : host.Command(status_cmd);
  if (!status_out) return StepOutcome::Failed(status_out.error());
  auto statuses = zfs::ParsePoolStatus(*status_out);
  if (!statuses) return StepOutcome::Failed(MakeError(statuses.error().code, host.label() + ": " + statuses.error().message));
  std::map<std::string, const zfs::PoolStatus*> status_of;
  for (const auto& s : *statuses) status_of[s.name] = &s;

  std::vector<std::string> ds_cmd{"zfs", "list", "-H"};
  if (openzfs) ds_cmd.push_back("-p");
  ds_cmd.insert(ds_cmd.end(), {"-o", "name,type,used,available,referenced", "-t", "filesystem,volume"});
  auto ds_out = pools->empty() ? Result<std::string>(std::string()) : host.Command(ds_cmd);
  if (!ds_out) return StepOutcome::Failed(ds_out.error());
  auto datasets = zfs::ParseDatasetList(*ds_out);
  if (!datasets) return StepOutcome::Failed(MakeError(datasets.error().code, host.label() + ": " + datasets.error().message));
  auto snaps_out = pools->empty() ? Result<std::string>(std::string()) : host.Command({"zfs", "list", "-H", "-o", "name", "-t", "snapshot"});
  bool counted = true;
  if (!snaps_out && snaps_out.error().code == "zfs.unexpected_output") {
    // Hundreds of thousands of snapshots: the health is still read, the counts are not given.
    ctx.Event(LogLevel::kWarn, snaps_out.error().message + " (snapshot counts are left out)");
    snaps_out = std::string();
    counted = false;
  }
  if (!snaps_out) return StepOutcome::Failed(snaps_out.error());
  std::map<std::string, int> snapshot_count;
  for (std::size_t pos = 0; pos < snaps_out->size();) {
    std::size_t end = snaps_out->find('\n', pos);
    if (end == std::string::npos) end = snaps_out->size();
    const std::string_view name(snaps_out->data() + pos, end - pos);
    if (!name.empty()) ++snapshot_count[std::string(zfs::DatasetOf(name))];
    pos = end + 1;
  }

  const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(ctx.clock().Now().time_since_epoch()).count();
  std::vector<std::string> problems;
  int errors = 0;
  auto problem = [&](bool at_risk, std::string text) {
    ctx.Event(at_risk ? LogLevel::kError : LogLevel::kWarn, fmt::format("{}: {}", host.label(), text));
    errors += at_risk ? 1 : 0;
    problems.push_back(std::move(text));
  };
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("pools");
  w.StartArray();
  for (const auto& p : *pools) {
    const zfs::PoolStatus* s = status_of.count(p.name) ? status_of[p.name] : nullptr;
    if (p.health != "ONLINE") problem(p.health != "DEGRADED", fmt::format("pool {} is {}", p.name, p.health));
    if (p.capacity_percent && *p.capacity_percent >= 80) {
      problem(*p.capacity_percent >= 90, fmt::format("pool {} is {}% full", p.name, *p.capacity_percent));
    }
    std::optional<std::int64_t> scrubbed;
    if (s != nullptr) {
      for (const auto& d : s->degraded_devices) problem(true, fmt::format("pool {}: device {}", p.name, d));
      if (s->read_errors + s->write_errors + s->checksum_errors > 0) {
        problem(true, fmt::format("pool {}: {} read, {} write, {} checksum error(s)", p.name, s->read_errors, s->write_errors, s->checksum_errors));
      }
      if (s->data_errors > 0) problem(true, fmt::format("pool {}: {}", p.name, s->errors));
      if (s->scrub_errors && *s->scrub_errors > 0) problem(true, fmt::format("pool {}: the last scrub found {} error(s)", p.name, *s->scrub_errors));
      scrubbed = ScrubTime(s->scrub_finished);
      if (s->scrub_state == "none") {
        problem(false, fmt::format("pool {} has never been scrubbed", p.name));
      } else if (s->scrub_state == "finished" && scrubbed && now - *scrubbed > max_age_s) {
        problem(false, fmt::format("pool {} was last scrubbed {} days ago", p.name, (now - *scrubbed) / 86400));
      }
    } else {
      problem(false, fmt::format("pool {}: zpool status said nothing of it", p.name));
    }
    zfs::Capabilities caps;
    if (host.Probe(p.name)) caps = host.capabilities();
    w.StartObject();
    w.Key("name");
    w.String(p.name.c_str());
    w.Key("health");
    w.String(p.health.c_str());
    WriteSize(w, "size", p.size);
    WriteSize(w, "allocated", p.allocated);
    WriteSize(w, "free", p.free);
    w.Key("sizes_exact");
    w.Bool(p.size && p.size->exact);
    w.Key("capacity_percent");
    p.capacity_percent ? w.Int(*p.capacity_percent) : w.Null();
    w.Key("fragmentation_percent");
    p.fragmentation_percent ? w.Int(*p.fragmentation_percent) : w.Null();
    w.Key("scrub_state");
    w.String(s != nullptr ? s->scrub_state.c_str() : "");
    w.Key("scrub_finished_at");
    scrubbed ? w.Int64(*scrubbed) : w.Null();
    w.Key("scrub_errors");
    s != nullptr && s->scrub_errors ? w.Uint64(*s->scrub_errors) : w.Null();
    w.Key("data_errors");
    w.Uint64(s != nullptr ? s->data_errors : 0);
    w.Key("device_errors");
    w.Uint64(s != nullptr ? s->read_errors + s->write_errors + s->checksum_errors : 0);
    w.Key("capabilities");
    const std::string cj = zfs::CapabilitiesJson(caps);
    w.RawValue(cj.c_str(), cj.size(), rapidjson::kObjectType);
    w.EndObject();
  }
  w.EndArray();
  w.Key("datasets");
  w.StartArray();
  for (const auto& d : *datasets) {
    w.StartObject();
    w.Key("name");
    w.String(d.name.c_str());
    w.Key("type");
    w.String(d.type.c_str());
    WriteSize(w, "used", d.used);
    WriteSize(w, "available", d.available);
    WriteSize(w, "referenced", d.referenced);
    w.Key("snapshots");
    counted ? w.Int(snapshot_count.count(d.name) ? snapshot_count[d.name] : 0) : w.Null();
    w.EndObject();
  }
  w.EndArray();
  w.Key("new_host_keys");
  const std::string keys = NewHostKeysJson(new_keys);
  w.RawValue(keys.c_str(), keys.size(), rapidjson::kArrayType);
  w.Key("healthy");
  w.Bool(problems.empty());
  w.Key("problems");
  w.StartArray();
  for (const auto& p : problems) w.String(p.c_str());
  w.EndArray();
  w.EndObject();
  ctx.Progress(100, problems.empty() ? fmt::format("{}: {} pool(s) healthy", host.label(), pools->size())
                                     : fmt::format("{}: {} problem(s), {} with data at risk", host.label(), problems.size(), errors));
  return StepOutcome::Succeeded(buf.GetString());
}

}  // namespace dcops::zfs_worker
