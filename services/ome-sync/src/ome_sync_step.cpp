#include "ome_sync_step.hpp"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <future>
#include <memory>
#include <optional>

#include "dcops/agent/inventory_batcher.hpp"
#include "dcops/agent/params.hpp"
#include "dcops/common/parallel.hpp"
#include "dcops/ome/client.hpp"
#include "device_json.hpp"

namespace dcops::omesync {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

struct SyncParams {
  int page_size = 200;
  bool details = false;
  int details_parallelism = 4;
  ome::Endpoint endpoint;
};

// The endpoint's URL from the address the dispatcher hands over ("ome.lab", "10.0.0.5:8443").
std::string BaseUrl(const std::string& address) {
  if (address.rfind("https://", 0) == 0) return address;
  return "https://" + address;
}

Result<SyncParams> ReadParams(const agent::Assignment& a) {
  auto params = agent::Params::Parse(a.params_json);
  if (!params) return params.error();
  SyncParams out;
  auto page_size = params->Int("page_size", 1, 1000);
  if (!page_size) return page_size.error();
  out.page_size = static_cast<int>(page_size->value_or(200));
  auto details = params->Flag("details");
  if (!details) return details.error();
  out.details = details->value_or(false);
  auto parallelism = params->Int("details_parallelism", 1, 16);
  if (!parallelism) return parallelism.error();
  out.details_parallelism = static_cast<int>(parallelism->value_or(4));
  const rapidjson::Value* endpoint = params->Raw("_endpoint");
  if (endpoint == nullptr || !endpoint->IsObject() || !endpoint->HasMember("address") ||
      !(*endpoint)["address"].IsString()) {
    return agent::BadParam("_endpoint", "the dispatcher did not say where OME is");
  }
  out.endpoint.base_url = BaseUrl((*endpoint)["address"].GetString());
  out.endpoint.username = a.credentials.username;
  out.endpoint.password = a.credentials.password;
  out.endpoint.tls.verify = a.tls.verify;
  out.endpoint.tls.pinned_sha256 = a.tls.pinned_sha256;
  return out;
}

// A details read that says something about this one device (OME's error for it, an answer
// that is not a collection, a time-out) rather than about the session or the connection.
bool DeviceLevel(const Error& e) {
  return e.code == "ome.http" || e.code == "ome.schema" || e.code == "http.timeout" || e.code == "http.too_large";
}

// OME refusing a session or requests for its limits: try again later, without an attempt.
bool OmeBusy(const Error& e) { return e.code == "ome.session_cap" || e.code == "ome.rate_limited"; }

void WriteFailures(Writer& w, const char* key, const std::vector<ome::DeviceFailure>& failures) {
  w.Key(key);
  w.StartArray();
  for (const auto& f : failures) {
    w.StartObject();
    w.Key("id");
    w.Int(f.id);
    w.Key("error");
    w.String(f.message.c_str(), static_cast<rapidjson::SizeType>(f.message.size()));
    w.EndObject();
  }
  w.EndArray();
}

// Each failure is in the result; the first few are events too, where operators look.
void ReportFailures(agent::StepContext& ctx, const std::vector<ome::DeviceFailure>& failures, const char* what) {
  constexpr std::size_t kEvents = 20;
  for (std::size_t i = 0; i < failures.size() && i < kEvents; ++i) {
    ctx.Event(LogLevel::kWarn, fmt::format("OME device {}: {}: {}", failures[i].id, what, failures[i].message));
  }
  if (failures.size() > kEvents) {
    ctx.Event(LogLevel::kWarn, fmt::format("{} more OME devices: {} (see the result)", failures.size() - kEvents, what));
  }
}

// One sync's reading and sending; RunOmeSync owns the session around it.
class Sync {
 public:
  Sync(agent::StepContext& ctx, ome::Client& client, const SyncParams& params)
      : ctx_(ctx), client_(client), params_(params), batcher_(ctx, "ome.devices") {}

  Status Run() {
    auto st = client_.ForEachDevicePage(1000, params_.page_size, [this](const ome::DevicePage& page) { return Page(page); });
    // The last page's details, still being read when the listing ended.
    if (st && pending_) st = SendPending();
    if (pending_ && pending_->reading.valid()) pending_->reading.wait();  // on error paths too
    return st;
  }

  bool cancelled() const { return cancelled_; }
  int devices() const { return batcher_.objects(); }

  // Nothing to trust: OME listed devices and none (or no server's details) could be read.
  std::optional<Error> Untrustworthy() const {
    if (devices() == 0 && !failed_.empty()) {
      return MakeError("ome.unreadable", fmt::format("none of the {} devices OME listed could be read; the first: {}",
                                                     failed_.size(), failed_[0].message));
    }
    if (params_.details && details_read_ == 0 && !details_failed_.empty()) {
      return MakeError("ome.details_unreadable",
                       fmt::format("the details of none of the {} servers could be read; the first: {}", details_failed_.size(),
                                   details_failed_[0].message),
                       true);
    }
    return std::nullopt;
  }

  void Report() const {
    ReportFailures(ctx_, failed_, "not read");
    ReportFailures(ctx_, details_failed_, "details not read");
  }

  std::string ResultJson() const {
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    w.Key("devices");
    w.Int(devices());
    w.Key("total");
    w.Int(total_);
    w.Key("batches");
    w.Int(batcher_.batches());
    WriteFailures(w, "failed", failed_);
    if (params_.details) {
      w.Key("details_read");
      w.Int(details_read_);
      WriteFailures(w, "details_failed", details_failed_);
    }
    w.EndObject();
    return std::string(buf.GetString(), buf.GetSize());
  }

 private:
  // One page's servers and, with details, their details being read in the background: a
  // page's details are read while the page before it is sent and the page after it listed.
  struct PendingPage {
    std::vector<ome::Device> servers;
    std::vector<std::optional<Result<ome::DeviceDetails>>> details;
    std::future<void> reading;
  };

  Status Page(const ome::DevicePage& page) {
    if (ctx_.CancelRequested()) {
      cancelled_ = true;
      return MakeError("step.cancelled", "cancelled");
    }
    total_ = page.total;
    failed_.insert(failed_.end(), page.failed.begin(), page.failed.end());
    auto next = std::make_unique<PendingPage>();
    for (const auto& d : page.devices) {
      if (d.service_tag.empty()) {
        failed_.push_back({d.id, fmt::format("device {} ({}) has no service tag to match a server by", d.id, d.name)});
      } else {
        next->servers.push_back(d);
      }
    }
    next->details.resize(next->servers.size());
    if (params_.details) {
      next->reading = std::async(std::launch::async, [this, p = next.get()] {
        ForEachIndex(p->servers.size(), params_.details_parallelism, [&](std::size_t i) {
          if (!ctx_.CancelRequested()) p->details[i] = client_.InventoryDetails(p->servers[i].id);
        });
      });
    }
    Status st;
    if (pending_) st = SendPending();
    if (!st && next->reading.valid()) next->reading.wait();
    pending_ = std::move(next);
    return st;
  }

  // Waits for the pending page's details and sends the page.
  Status SendPending() {
    auto page = std::move(pending_);
    if (page->reading.valid()) page->reading.wait();
    if (ctx_.CancelRequested()) {
      cancelled_ = true;
      return MakeError("step.cancelled", "cancelled");
    }
    // A lost session or connection ends the sync (the first such error, in device order).
    for (const auto& d : page->details) {
      if (d && !d->ok() && !DeviceLevel(d->error())) return d->error();
    }
    for (std::size_t i = 0; i < page->servers.size(); ++i) {
      if (auto st = Send(page->servers[i], page->details[i]); !st) return st;
    }
    if (auto st = batcher_.Flush(); !st) return st;
    const int seen = devices() + static_cast<int>(failed_.size());
    ctx_.Progress(total_ > 0 ? std::min(99, seen * 100 / total_) : 50, fmt::format("{} of {} devices read", seen, total_));
    return Status();
  }

  Status Send(const ome::Device& device, const std::optional<Result<ome::DeviceDetails>>& details) {
    if (!details) return batcher_.Add(DeviceJson(device, nullptr));
    if (!details->ok()) {
      details_failed_.push_back({device.id, details->error().message});
      return batcher_.Add(DeviceJson(device, nullptr));
    }
    auto st = batcher_.Add(DeviceJson(device, &**details));
    if (!st && st.error().code == "agent.batch_too_large") {
      details_failed_.push_back({device.id, st.error().message + "; sent without its details"});
      return batcher_.Add(DeviceJson(device, nullptr));
    }
    if (st) ++details_read_;
    return st;
  }

  agent::StepContext& ctx_;
  ome::Client& client_;
  const SyncParams& params_;
  agent::InventoryBatcher batcher_;
  std::vector<ome::DeviceFailure> failed_, details_failed_;
  int total_ = -1;
  int details_read_ = 0;
  bool cancelled_ = false;
  std::unique_ptr<PendingPage> pending_;
};

}  // namespace

agent::StepOutcome RunOmeSync(agent::StepContext& ctx, http::Client& http) {
  auto params = ReadParams(ctx.assignment());
  if (!params) return agent::StepOutcome::Failed(params.error());
  ome::Client client(http, params->endpoint);
  if (auto st = client.Login(); !st) {
    if (OmeBusy(st.error())) return agent::StepOutcome::Snoozed(std::chrono::seconds(60), st.error().message);
    return agent::StepOutcome::Failed(st.error());
  }
  Sync sync(ctx, client, *params);
  auto st = sync.Run();
  if (auto out = client.Logout(); !out) ctx.Event(LogLevel::kWarn, out.error().message);
  if (sync.cancelled()) return agent::StepOutcome::Cancelled("cancelled while reading OME");
  if (!st) {
    if (OmeBusy(st.error())) return agent::StepOutcome::Snoozed(std::chrono::seconds(60), st.error().message);
    return agent::StepOutcome::Failed(st.error());
  }
  sync.Report();
  if (auto untrustworthy = sync.Untrustworthy()) return agent::StepOutcome::Failed(*untrustworthy);
  return agent::StepOutcome::Succeeded(sync.ResultJson());
}

agent::StepRegistry MakeSteps(http::Client& http) {
  agent::StepRegistry r;
  r.Add("inventory.ome_sync", [&http](agent::StepContext& ctx) { return RunOmeSync(ctx, http); });
  return r;
}

}  // namespace dcops::omesync
