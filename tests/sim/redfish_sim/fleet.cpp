#include "fleet.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fmt/format.h>
#include <httplib.h>
#include <rapidjson/document.h>

#include "sim_tls.hpp"
#include "routes.hpp"

namespace dcops::sim {
namespace {

std::string CountersJson(Bmc& bmc, const std::string& fingerprint) {
  const Counters c = bmc.counters();
  const auto now = std::chrono::steady_clock::now();
  std::string by_type;
  for (const auto& [k, v] : c.resets_by_type) {
    by_type += fmt::format("{}\"{}\": {}", by_type.empty() ? "" : ", ", k, v);
  }
  const Identity& id = bmc.identity();
  const BootState boot = bmc.Boot();
  std::string media;
  for (const auto& m : bmc.VirtualMedia()) {
    media += fmt::format("{}\"{}\": \"{}\"", media.empty() ? "" : ", ", m.id, m.inserted ? m.image : "");
  }
  return fmt::format(
      R"({{"address": "{}", "vendor": "{}", "service_tag": "{}", "serial_number": "{}", "system_uuid": "{}", "model": "{}", )"
      R"("bmc_firmware": "{}", "bios_version": "{}", )"
      R"("boot": {{"override": "{}", "enabled": "{}", "last_boot_source": "{}"}}, "virtual_media": {{{}}}, )"
      R"("jobs": {}, "power_state": "{}", "sessions": {}, "certificate_sha256": "{}", "counters": {{)"
      R"("requests": {}, "unauthorized": {}, "actions": {}, "effective_resets": {}, )"
      R"("refused_actions": {}, "concurrent": {}, "concurrent_high": {}, "mutating_concurrent_high": {}, "sessions_high": {}, )"
      R"("sessions_created": {}, "sessions_refused": {}, "idrac_resets": {}, "images_fetched": {}, "image_fetch_failures": {}, )"
      R"("image_bytes": {}, "resets_by_type": {{{}}}}}}})",
      id.address, VendorName(id.vendor), id.service_tag, id.serial, id.uuid, id.model, bmc.FirmwareVersion(kIdracComponent),
      bmc.FirmwareVersion(kBiosComponent), boot.override_target, boot.override_enabled, boot.last_boot_source,
      media, bmc.Jobs(now).size(), PowerName(bmc.PowerState(now)),
      bmc.SessionCount(now), fingerprint, c.requests, c.unauthorized, c.actions,
      c.effective_resets, c.refused_actions, c.concurrent, c.concurrent_high, c.mutating_high, c.sessions_high,
      c.sessions_created, c.sessions_refused, c.idrac_resets, c.images_fetched, c.image_fetch_failures, c.image_bytes, by_type);
}

std::optional<Mode> ParseMode(const std::string& s) {
  if (s == "normal") return Mode::kNormal;
  if (s == "html") return Mode::kHtml;
  if (s == "truncated") return Mode::kTruncated;
  if (s == "not_ready") return Mode::kNotReady;
  return std::nullopt;
}

// httplib binds with SO_REUSEPORT, so a second simulator on the same address:port would
// share the listener silently; a connect that succeeds means someone is already there.
bool SomeoneListens(const std::string& address, int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  inet_pton(AF_INET, address.c_str(), &addr.sin_addr);
  const bool connected = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return connected;
}

}  // namespace

std::string NthLoopbackAddress(const std::string& first, int n) {
  in_addr a{};
  if (inet_pton(AF_INET, first.c_str(), &a) != 1) return "";
  const std::uint32_t base = ntohl(a.s_addr);
  const std::uint64_t value = static_cast<std::uint64_t>(base) + static_cast<std::uint64_t>(n);
  if ((base >> 24) != 127 || (value >> 24) != 127) return "";  // loopback only, always
  in_addr out{};
  out.s_addr = htonl(static_cast<std::uint32_t>(value));
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &out, buf, sizeof buf);
  return buf;
}

Identity MakeIdentity(const std::string& address, int index, std::uint64_t seed, int legacy_every, Vendor vendor) {
  static const char* kModels[] = {"PowerEdge R650", "PowerEdge R750", "PowerEdge R6525",
                                  "PowerEdge R760", "PowerEdge R660"};
  static const char* kFirmware[] = {"7.00.00.171", "6.10.30.00", "7.10.50.00"};
  static const char* kBios[] = {"1.10.2", "1.12.1", "2.1.4"};
  static const char* kCpus[] = {"Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz",
                                "AMD EPYC 7543 32-Core Processor"};
  std::mt19937_64 rng(seed * 1000003ULL + static_cast<std::uint64_t>(index));
  static const char kTagChars[] = "0123456789BCDFGHJKLMNPQRSTVWXYZ";
  std::string tag;
  for (int i = 0; i < 7; ++i) tag.push_back(kTagChars[rng() % (sizeof kTagChars - 1)]);
  Identity id;
  id.address = address;
  id.service_tag = tag;
  id.model = kModels[index % 5];
  id.bmc_firmware = kFirmware[index % 3];
  id.bios_version = kBios[index % 3];
  id.serial = fmt::format("CN7016{:08d}", static_cast<int>(rng() % 100000000));
  id.uuid = fmt::format("4c4c4544-{:04x}-{:04x}-{:04x}-{:012x}", rng() & 0xffff, rng() & 0xffff,
                        rng() & 0xffff, rng() & 0xffffffffffffULL);
  id.hostname = fmt::format("node{:03d}.lab.example", index + 1);
  id.legacy_reset_types = legacy_every > 0 && (index + 1) % legacy_every == 0;
  id.index = index;
  id.cpu_count = 2;
  id.cpu_model = kCpus[index % 2];
  id.memory_gib = (index % 2 == 0) ? 256 : 512;
  ApplyVendor(id, vendor, seed * 1000003ULL + static_cast<std::uint64_t>(index));
  return id;
}

struct Fleet::Member {
  std::unique_ptr<Bmc> bmc;
  std::unique_ptr<httplib::SSLServer> server;
  std::thread thread;
  std::string fingerprint;
  bool listening = true;  // false while the iDRAC "restarts" (nothing accepts connections)
};

Fleet::Fleet(FleetOptions options) : options_(std::move(options)) {}

Fleet::~Fleet() { Stop(); }

std::string Fleet::Start() {
  fetcher_ = std::make_unique<ImageFetcher>();
  for (int i = 0; i < options_.count; ++i) {
    const std::string address = NthLoopbackAddress(options_.first_address, i);
    if (address.empty()) {
      return fmt::format("BMC {} would leave 127.0.0.0/8 (first address {})", i + 1,
                         options_.first_address);
    }
    if (SomeoneListens(address, options_.port)) {
      return fmt::format("{}:{} is already in use (another simulator?)", address, options_.port);
    }
    auto m = std::make_unique<Member>();
    m->bmc = std::make_unique<Bmc>(MakeIdentity(address, i, options_.seed, options_.legacy_every,
                                                VendorOf(i, options_.vendor, options_.vendor_every)),
                                   options_.timing, options_.session_cap, options_.username,
                                   options_.password, options_.seed + static_cast<std::uint64_t>(i));
    m->bmc->SetRestartSignal(&restart_signal_);
    const Identity& id = m->bmc->identity();
    const std::string cn = id.vendor == Vendor::kDell ? "idrac-" + id.service_tag : "bmc-" + address;
    auto server = SelfSignedServer(address, cn, &m->fingerprint);
    if (!server) return server.error().message;
    m->server = std::move(*server);
    const int threads = options_.threads_per_bmc;
    m->server->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    m->server->set_keep_alive_max_count(100);  // as a web server's default; iDRAC keeps alive too
    // httplib waits for a kept-alive connection's next request by polling every millisecond
    // on its thread; a short timeout keeps a thousand idle connections from eating the CPU
    // the benchmark measures (requests of one step follow each other within it).
    m->server->set_keep_alive_timeout(1);
    // Headers and body leave at once: with Nagle a response waits out the client's delayed
    // ACK (~40 ms), which is the simulator's artefact, not the device's latency.
    m->server->set_tcp_nodelay(true);
    InstallRedfishRoutes(*m->server, *m->bmc, *fetcher_);
    if (!m->server->bind_to_port(address.c_str(), options_.port)) {
      return fmt::format("cannot listen on {}:{}", address, options_.port);
    }
    Member* raw = m.get();
    m->thread = std::thread([raw] { raw->server->listen_after_bind(); });
    members_.push_back(std::move(m));
  }

  for (int i = 0; i < options_.impostors; ++i) {
    const std::string address = NthLoopbackAddress(options_.first_address, options_.count + i);
    if (address.empty()) return fmt::format("impostor {} would leave 127.0.0.0/8", i + 1);
    auto m = std::make_unique<Member>();
    auto server = SelfSignedServer(address, "switch-" + address, &m->fingerprint);
    if (!server) return server.error().message;
    m->server = std::move(*server);
    m->server->new_task_queue = [] { return new httplib::ThreadPool(1); };
    m->server->Get(".*", [](const httplib::Request& req, httplib::Response& res) {
      if (req.path != "/") {
        res.status = 404;
        res.set_content("<html><body><h1>404 Not Found</h1></body></html>", "text/html");
        return;
      }
      res.set_content("<html><head><title>Switch management</title></head><body>Login</body></html>", "text/html");
    });
    if (!m->server->bind_to_port(address.c_str(), options_.port)) {
      return fmt::format("cannot listen on {}:{}", address, options_.port);
    }
    Member* raw = m.get();
    m->thread = std::thread([raw] { raw->server->listen_after_bind(); });
    impostors_.push_back(std::move(m));
  }

  control_ = std::make_unique<httplib::Server>();
  control_->Get("/control/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok", "text/plain");
  });
  control_->Get("/control/bmcs", [this](const httplib::Request&, httplib::Response& res) {
    std::string out = "[";
    for (const auto& m : members_) {
      out += (out.size() > 1 ? ",\n" : "") + CountersJson(*m->bmc, m->fingerprint);
    }
    res.set_content(out + "]", "application/json");
  });
  control_->Post("/control/reset-counters", [this](const httplib::Request&, httplib::Response& res) {
    for (const auto& m : members_) m->bmc->ResetCounters();
    res.status = 204;
  });
  control_->Post(R"(/control/bmcs/([0-9.]+)/(faults|power|sel))",
                 [this](const httplib::Request& req, httplib::Response& res) {
                   Bmc* bmc = Find(req.matches[1]);
                   if (bmc == nullptr) {
                     res.status = 404;
                     res.set_content("no such BMC", "text/plain");
                     return;
                   }
                   rapidjson::Document doc;
                   doc.Parse(req.body.c_str());
                   if (doc.HasParseError() || !doc.IsObject()) {
                     res.status = 400;
                     res.set_content("body must be a JSON object", "text/plain");
                     return;
                   }
                   if (req.matches[2] == "sel") {
                     // A hardware event: {"severity": "Critical", "message": "…", "sensor_type": "Fan"}.
                     auto text = [&doc](const char* k) {
                       return doc.HasMember(k) && doc[k].IsString() ? std::string(doc[k].GetString()) : std::string();
                     };
                     if (text("message").empty()) {
                       res.status = 400;
                       res.set_content("message is required", "text/plain");
                       return;
                     }
                     bmc->AddLogEntry("sel", {"", "", text("severity").empty() ? "Warning" : text("severity"), "",
                                              text("message"), text("sensor_type"), text("entry_code")});
                   } else if (req.matches[2] == "power") {
                     const std::string s = doc.HasMember("state") && doc["state"].IsString()
                                               ? doc["state"].GetString() : "";
                     if (s != "On" && s != "Off") {
                       res.status = 400;
                       res.set_content("state must be On or Off", "text/plain");
                       return;
                     }
                     bmc->ForcePower(s == "On" ? Power::kOn : Power::kOff,
                                     std::chrono::steady_clock::now());
                   } else {
                     Faults f = bmc->faults();
                     if (doc.HasMember("mode") && doc["mode"].IsString()) {
                       auto mode = ParseMode(doc["mode"].GetString());
                       if (!mode) {
                         res.status = 400;
                         res.set_content("mode must be normal, html, truncated or not_ready", "text/plain");
                         return;
                       }
                       f.mode = *mode;
                     }
                     if (doc.HasMember("error_rate") && doc["error_rate"].IsNumber()) {
                       f.error_rate = doc["error_rate"].GetDouble();
                     }
                     if (doc.HasMember("latency_ms") && doc["latency_ms"].IsInt()) {
                       f.latency = milliseconds(doc["latency_ms"].GetInt());
                     }
                     if (doc.HasMember("mutating_latency_ms") && doc["mutating_latency_ms"].IsInt()) {
                       f.mutating_latency = milliseconds(doc["mutating_latency_ms"].GetInt());
                     }
                     if (doc.HasMember("ignores_graceful") && doc["ignores_graceful"].IsBool()) {
                       f.ignores_graceful = doc["ignores_graceful"].GetBool();
                     }
                     bmc->SetFaults(f);
                   }
                   res.status = 204;
                 });
  control_port_ = options_.control_port > 0
                      ? (control_->bind_to_port(options_.control_address.c_str(), options_.control_port)
                             ? options_.control_port : -1)
                      : control_->bind_to_any_port(options_.control_address.c_str());
  if (control_port_ <= 0) {
    return fmt::format("cannot listen on {}:{}", options_.control_address, options_.control_port);
  }
  control_thread_ = std::thread([this] { control_->listen_after_bind(); });
  watch_thread_ = std::thread([this] { WatchRestarts(); });
  // httplib 0.11 has no wait_until_ready(); its own flag says when it accepts.
  while (!control_->is_running()) std::this_thread::yield();
  for (const auto& m : members_) {
    while (!m->server->is_running()) std::this_thread::yield();
  }
  for (const auto& m : impostors_) {
    while (!m->server->is_running()) std::this_thread::yield();
  }
  return "";
}

// A restarting iDRAC accepts no connections: its listener is closed for as long as the BMC
// says it is down, then opened again on the same address.
void Fleet::WatchRestarts() {
  std::unique_lock lock(watch_mu_);
  bool restarting = false;  // some BMC is down: keep looking until it is back
  while (!watch_cv_.wait_for(lock, std::chrono::milliseconds(10), [this] { return stopping_; })) {
    // A fleet is large and restarts are rare: scan only when one began or is under way.
    if (!restart_signal_.exchange(false) && !restarting) continue;
    restarting = false;
    const auto now = std::chrono::steady_clock::now();
    for (const auto& m : members_) {
      // Only BMCs that began a restart, or are in one, are looked at (a fleet is large).
      if (m->listening && !m->bmc->TakeRestartFlag()) continue;
      const bool down = m->bmc->Down(now);
      if (down && m->listening) {
        m->server->stop();
        if (m->thread.joinable()) m->thread.join();
        m->listening = false;
      } else if (!down && !m->listening) {
        if (!m->server->bind_to_port(m->bmc->identity().address.c_str(), options_.port)) continue;
        Member* raw = m.get();
        m->thread = std::thread([raw] { raw->server->listen_after_bind(); });
        while (!m->server->is_running()) std::this_thread::yield();
        m->listening = true;
      }
      restarting = restarting || !m->listening || down;
    }
  }
}

void Fleet::Stop() {
  if (watch_thread_.joinable()) {
    {
      std::lock_guard lock(watch_mu_);
      stopping_ = true;
    }
    watch_cv_.notify_all();
    watch_thread_.join();
  }
  if (control_) {
    control_->stop();
    if (control_thread_.joinable()) control_thread_.join();
    control_.reset();
  }
  // Stop every listener first, then join: each stop waits out its kept-alive connections,
  // and a fleet of a thousand should not wait for them one after another.
  for (auto& m : members_) m->server->stop();
  for (auto& m : members_) {
    if (m->thread.joinable()) m->thread.join();
  }
  // No download may finish into a BMC that is gone.
  if (fetcher_) fetcher_->Stop();
  members_.clear();
  for (auto& m : impostors_) {
    m->server->stop();
    if (m->thread.joinable()) m->thread.join();
  }
  impostors_.clear();
}

std::vector<Bmc*> Fleet::bmcs() {
  std::vector<Bmc*> out;
  for (const auto& m : members_) out.push_back(m->bmc.get());
  return out;
}

Bmc* Fleet::Find(const std::string& address) {
  for (const auto& m : members_) {
    if (m->bmc->identity().address == address) return m->bmc.get();
  }
  return nullptr;
}

const std::string& Fleet::FingerprintOf(const std::string& address) const {
  static const std::string kNone;
  for (const auto& m : members_) {
    if (m->bmc->identity().address == address) return m->fingerprint;
  }
  return kNone;
}

}  // namespace dcops::sim
