#include "ome_sync_step.hpp"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "dcops/agent/params.hpp"

namespace dcops::omesync {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void Str(Writer& w, const char* key, const std::string& value) {
  w.Key(key);
  w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
}

// OME's power codes and health rollup, in the words a Redfish refresh uses.
const char* PowerState(int code) {
  switch (code) {
    case 17: return "On";
    case 18: return "Off";
    case 20: return "PoweringOn";
    case 21: return "PoweringOff";
    default: return nullptr;
  }
}

const char* Health(int status) {
  switch (status) {
    case 1000: return "OK";
    case 3000: return "Warning";
    case 4000: return "Critical";
    default: return nullptr;  // 2000 unknown, 5000 not applicable
  }
}

void Int(Writer& w, const char* key, std::int64_t v) {
  w.Key(key);
  if (v < 0) {
    w.Null();
  } else {
    w.Int64(v);
  }
}

// The component lists, in the shapes a Redfish refresh writes them (dispatcher_v1_upsert_server).
void WriteDetails(Writer& w, const ome::DeviceDetails& d) {
  w.Key("processors");
  w.StartArray();
  for (const auto& p : d.processors) {
    w.StartObject();
    Str(w, "socket", p.socket);
    Str(w, "model", p.model);
    Str(w, "manufacturer", p.manufacturer);
    Int(w, "cores", p.cores);
    Int(w, "max_speed_mhz", p.max_speed_mhz);
    Str(w, "health", p.health);
    w.EndObject();
  }
  w.EndArray();
  w.Key("memory");
  w.StartArray();
  for (const auto& m : d.memory) {
    w.StartObject();
    Str(w, "slot", m.slot);
    Int(w, "capacity_mib", m.capacity_mib);
    Str(w, "memory_type", m.memory_type);
    Int(w, "speed_mhz", m.speed_mhz);
    Str(w, "manufacturer", m.manufacturer);
    Str(w, "part_number", m.part_number);
    Str(w, "serial_number", m.serial_number);
    Str(w, "health", m.health);
    w.EndObject();
  }
  w.EndArray();
  w.Key("drives");
  w.StartArray();
  for (const auto& k : d.drives) {
    w.StartObject();
    Str(w, "slot", k.slot);
    Str(w, "model", k.model);
    Str(w, "serial_number", k.serial_number);
    Str(w, "media_type", k.media_type);
    Str(w, "protocol", k.protocol);
    Int(w, "capacity_bytes", k.capacity_bytes);
    Str(w, "firmware_version", k.firmware_version);
    Str(w, "health", k.health);
    w.Key("predicted_failure");
    w.Bool(k.predicted_failure);
    Str(w, "controller", k.controller);
    w.EndObject();
  }
  w.EndArray();
  w.Key("firmware");
  w.StartArray();
  for (const auto& f : d.firmware) {
    w.StartObject();
    Str(w, "component_id", f.component_id);
    Str(w, "name", f.name);
    Str(w, "version", f.version);
    w.Key("install_date");
    f.install_date.empty() ? w.Null() : w.String(f.install_date.c_str());
    w.EndObject();
  }
  w.EndArray();
}

void WriteServer(Writer& w, const ome::Device& d, const ome::DeviceDetails* details = nullptr) {
  w.StartObject();
  w.Key("ome_device_id");
  w.Int(d.id);
  Str(w, "service_tag", d.service_tag);
  if (!d.idrac_address.empty()) Str(w, "bmc_address", d.idrac_address);
  if (!d.name.empty()) Str(w, "hostname", d.name);
  if (!d.model.empty()) Str(w, "model", d.model);
  if (const char* p = PowerState(d.power_state)) Str(w, "power_state", p);
  if (const char* h = Health(d.status)) Str(w, "health", h);
  if (details != nullptr) WriteDetails(w, *details);
  w.EndObject();
}

// The endpoint's URL from the address the dispatcher hands over ("ome.lab", "10.0.0.5:8443").
std::string BaseUrl(const std::string& address) {
  if (address.rfind("https://", 0) == 0) return address;
  return "https://" + address;
}

}  // namespace

agent::StepOutcome RunOmeSync(agent::StepContext& ctx, http::Client& http) {
  const auto& a = ctx.assignment();
  auto params = agent::Params::Parse(a.params_json);
  if (!params) return agent::StepOutcome::Failed(params.error());
  auto page_size = params->Int("page_size", 1, 1000);
  if (!page_size) return agent::StepOutcome::Failed(page_size.error());
  auto details = params->Flag("details");
  if (!details) return agent::StepOutcome::Failed(details.error());
  const bool with_details = details->value_or(false);
  const rapidjson::Value* endpoint = params->Raw("_endpoint");
  if (endpoint == nullptr || !endpoint->IsObject() || !endpoint->HasMember("address") ||
      !(*endpoint)["address"].IsString()) {
    return agent::StepOutcome::Failed(agent::BadParam("_endpoint", "the dispatcher did not say where OME is"));
  }
  ome::Endpoint ep;
  ep.base_url = BaseUrl((*endpoint)["address"].GetString());
  ep.username = a.credentials.username;
  ep.password = a.credentials.password;
  ep.tls.verify = a.tls.verify;
  ep.tls.pinned_sha256 = a.tls.pinned_sha256;

  ome::Client client(http, ep);
  if (auto st = client.Login(); !st) {
    if (st.error().code == "ome.session_cap") {
      return agent::StepOutcome::Snoozed(std::chrono::seconds(60), st.error().message);
    }
    return agent::StepOutcome::Failed(st.error());
  }
  int devices = 0, batches = 0, total = -1;
  std::vector<ome::DeviceFailure> failed, details_failed;
  bool cancelled = false;
  auto st = client.ForEachDevicePage(1000, static_cast<int>(page_size->value_or(200)), [&](const ome::DevicePage& page) -> Status {
    if (ctx.CancelRequested()) {
      cancelled = true;
      return MakeError("step.cancelled", "cancelled");
    }
    total = page.total;
    failed.insert(failed.end(), page.failed.begin(), page.failed.end());
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartArray();
    int in_batch = 0;
    for (const auto& d : page.devices) {
      if (d.service_tag.empty()) {
        failed.push_back({d.id, fmt::format("device {} ({}) has no service tag to match a server by", d.id, d.name)});
        continue;
      }
      if (with_details) {
        auto inv = client.InventoryDetails(d.id);
        // A lost session or connection ends the sync; a device whose details OME cannot give
        // is kept without them.
        if (!inv && (inv.error().code == "ome.session_expired" || inv.error().retryable)) return inv.error();
        if (!inv) {
          details_failed.push_back({d.id, inv.error().message});
          WriteServer(w, d);
        } else {
          WriteServer(w, d, &*inv);
        }
      } else {
        WriteServer(w, d);
      }
      ++in_batch;
    }
    w.EndArray();
    if (in_batch > 0) {
      if (auto sent = ctx.SendInventory("ome.devices", std::string(buf.GetString(), buf.GetSize())); !sent) return sent;
      ++batches;
      devices += in_batch;
    }
    const int seen = devices + static_cast<int>(failed.size());
    ctx.Progress(total > 0 ? std::min(99, seen * 100 / total) : 50, fmt::format("{} of {} devices read", seen, total));
    return Status();
  });
  client.Logout();
  if (cancelled) return agent::StepOutcome::Cancelled("cancelled while reading OME");
  if (!st) return agent::StepOutcome::Failed(st.error());
  // Each failed device is in the result; the first few are events too, where operators look.
  constexpr std::size_t kEvents = 20;
  for (std::size_t i = 0; i < failed.size() && i < kEvents; ++i) {
    ctx.Event(LogLevel::kWarn, fmt::format("OME device {}: {}", failed[i].id, failed[i].message));
  }
  if (failed.size() > kEvents) {
    ctx.Event(LogLevel::kWarn, fmt::format("{} more OME devices could not be read (see the result)", failed.size() - kEvents));
  }

  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("devices");
  w.Int(devices);
  w.Key("total");
  w.Int(total);
  w.Key("batches");
  w.Int(batches);
  w.Key("failed");
  w.StartArray();
  for (const auto& f : failed) {
    w.StartObject();
    w.Key("id");
    w.Int(f.id);
    Str(w, "error", f.message);
    w.EndObject();
  }
  w.EndArray();
  if (with_details) {
    w.Key("details_failed");
    w.StartArray();
    for (const auto& f : details_failed) {
      w.StartObject();
      w.Key("id");
      w.Int(f.id);
      Str(w, "error", f.message);
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  return agent::StepOutcome::Succeeded(std::string(buf.GetString(), buf.GetSize()));
}

agent::StepRegistry MakeSteps(http::Client& http) {
  agent::StepRegistry r;
  r.Add("inventory.ome_sync", [&http](agent::StepContext& ctx) { return RunOmeSync(ctx, http); });
  return r;
}

}  // namespace dcops::omesync
