#include "discovery_step.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "dcops/common/clock.hpp"
#include "dcops/redfish/client.hpp"
#include "dcops/redfish/service.hpp"
#include "step_support.hpp"

namespace dcops::idrac {
namespace {

using agent::StepOutcome;

// True when something accepts a TCP connection on ip:port within `timeout`.
bool TcpOpen(const std::string& ip, int port, std::chrono::milliseconds timeout) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1) return false;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  bool open = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    open = true;
  } else if (errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) == 1) {
      int err = 0;
      socklen_t len = sizeof err;
      open = ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
    }
  }
  ::close(fd);
  return open;
}

struct Found {
  std::string address;  // as the inventory stores it: "ip" on 443, else "ip:port"
  std::string vendor, product, redfish_version, service_tag, uuid, pin;
  std::string credential_set_id, credential_set_name;
  std::string login = "untried";  // ok / refused / error / untried (no sets to try)
  std::string error;
};

struct Tally {
  std::atomic<int> probed{0}, open{0}, found{0}, authenticated{0}, not_redfish{0};
};

class Scan {
 public:
  Scan(agent::StepContext& ctx, http::Client& http, const DiscoveryOptions& options, int port)
      : ctx_(ctx), http_(http), options_(options), port_(port) {}

  void Probe(const std::string& ip) {
    tally_.probed++;
    if (!TcpOpen(ip, port_, options_.probe_timeout)) return;
    tally_.open++;
    Found f;
    f.address = port_ == 443 ? ip : fmt::format("{}:{}", ip, port_);
    if (!ReadRoot(f)) {
      tally_.not_redfish++;
      return;
    }
    tally_.found++;
    TryCredentials(f);
    std::lock_guard lock(mu_);
    found_.push_back(std::move(f));
  }

  std::string ResultJson(int addresses, bool refresh) const;
  const Tally& tally() const { return tally_; }

 private:
  // The unauthenticated service root: a Redfish service or not. Records the certificate.
  bool ReadRoot(Found& f) {
    http::Request req;
    req.url = fmt::format("https://{}/redfish/v1", f.address);
    req.headers = {{"Accept", "application/json"}};
    http::TlsOptions tofu;
    tofu.verify = false;  // trust on first use: the fingerprint seen here is pinned from now on
    req.tls = tofu;
    req.capture_certificate = true;
    auto r = http_.Execute(req);
    if (!r || r->status != 200) return false;
    auto root = redfish::Document::Parse("/redfish/v1", r->body, r->Header("Content-Type"));
    if (!root || !root->OptionalString("RedfishVersion")) return false;
    f.pin = r->peer_sha256;
    f.redfish_version = *root->OptionalString("RedfishVersion");
    const redfish::ServiceRoot says = redfish::ReadServiceRoot(*root);
    f.vendor = says.vendor;
    f.product = says.product;
    f.service_tag = root->OptionalString("Oem/Dell/ServiceTag").value_or("");
    f.uuid = root->OptionalString("UUID").value_or("");
    return true;
  }

  void TryCredentials(Found& f) {
    for (const auto& set : ctx_.assignment().credential_sets) {
      redfish::Target t;
      t.address = f.address;
      t.username = set.credentials.username;
      t.password = set.credentials.password;
      t.tls.pinned_sha256 = f.pin;
      redfish::SessionCache scratch;  // VerifyLogin never caches; this only satisfies the client
      redfish::Client bmc(http_, scratch, std::move(t), SystemClock::Instance());
      auto st = bmc.VerifyLogin();
      if (st) {
        f.login = "ok";
        f.credential_set_id = set.id;
        f.credential_set_name = set.name;
        tally_.authenticated++;
        return;
      }
      if (st.error().code != "redfish.auth") {
        // Not a refusal (session cap, a fault): stop here rather than spend other sets' logins.
        f.login = "error";
        f.error = st.error().message;
        return;
      }
      f.login = "refused";
    }
  }

  agent::StepContext& ctx_;
  http::Client& http_;
  const DiscoveryOptions& options_;
  int port_;
  Tally tally_;
  mutable std::mutex mu_;
  std::vector<Found> found_;
};

std::string Scan::ResultJson(int addresses, bool refresh) const {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto str = [&w](const char* key, const std::string& v) {
    w.Key(key);
    if (v.empty()) {
      w.Null();
    } else {
      w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
    }
  };
  w.StartObject();
  w.Key("addresses");
  w.Int(addresses);
  w.Key("probed");
  w.Int(tally_.probed);
  w.Key("open");
  w.Int(tally_.open);
  w.Key("not_redfish");
  w.Int(tally_.not_redfish);
  w.Key("authenticated");
  w.Int(tally_.authenticated);
  w.Key("refresh");  // the job's wish: refresh what was found (the dispatcher acts on it)
  w.Bool(refresh);
  w.Key("found");
  w.StartArray();
  std::lock_guard lock(mu_);
  for (const auto& f : found_) {
    w.StartObject();
    str("bmc_address", f.address);
    str("vendor", f.vendor);
    str("product", f.product);
    str("redfish_version", f.redfish_version);
    str("service_tag", f.service_tag);
    str("uuid", f.uuid);
    str("tls_pin_sha256", f.pin);
    str("credential_set_id", f.credential_set_id);
    str("credential_set_name", f.credential_set_name);
    str("login", f.login);
    str("error", f.error);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace

StepOutcome RunDiscovery(agent::StepContext& ctx, http::Client& http, const DiscoveryOptions& options) {
  auto params = Params::Parse(ctx.assignment().params_json);
  if (!params) return StepOutcome::Failed(params.error());
  auto addresses = params->TextList("addresses");
  if (!addresses) return StepOutcome::Failed(addresses.error());
  if (!*addresses) return StepOutcome::Failed(BadParam("addresses", "is required (the planner sets it)"));
  auto port = params->Int("port", 1, 65535);
  if (!port) return StepOutcome::Failed(port.error());
  auto concurrency = params->Int("concurrency", 1, 256);
  if (!concurrency) return StepOutcome::Failed(concurrency.error());
  auto refresh = params->Flag("refresh");
  if (!refresh) return StepOutcome::Failed(refresh.error());
  const auto& list = **addresses;
  const int total = static_cast<int>(list.size());

  Scan scan(ctx, http, options, static_cast<int>(port->value_or(443)));
  std::atomic<std::size_t> next{0};
  std::atomic<bool> stop{false};
  const int threads = std::max(1, std::min<int>(static_cast<int>(concurrency->value_or(options.default_concurrency)), total));
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) {
    pool.emplace_back([&] {
      for (std::size_t k = next++; k < list.size() && !stop; k = next++) scan.Probe(list[k]);
    });
  }
  auto report = [&] {
    const auto& t = scan.tally();
    ctx.Progress(100 * t.probed / std::max(1, total),
                 fmt::format("probed {}/{}, found {}, authenticated {}", t.probed.load(), total, t.found.load(),
                             t.authenticated.load()));
  };
  while (scan.tally().probed < total && !stop) {
    if (!ctx.Wait(options.progress_every)) stop = true;
    report();
  }
  for (auto& t : pool) t.join();
  if (stop) return StepOutcome::Cancelled("cancelled during the scan");
  report();
  return StepOutcome::Succeeded(scan.ResultJson(total, refresh->value_or(true)));
}

}  // namespace dcops::idrac
