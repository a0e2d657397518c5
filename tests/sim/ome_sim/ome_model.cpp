#include "ome_model.hpp"

#include <fmt/format.h>

#include <regex>

namespace dcops::sim::ome {

Model::Model(Options options) : options_(std::move(options)) {
  for (int c = 0; c < options_.chassis; ++c) {
    devices_.push_back({next_device_++, 2000, fmt::format("MX-CH{:02d}", c), fmt::format("CH{:05d}", c), "PowerEdge MX7000",
                        "", false, 17, 1000, false});
  }
  for (int s = 0; s < options_.servers; ++s) {
    // iDRAC addresses are loopback: a sync's servers must never point anywhere else.
    devices_.push_back({next_device_++, 1000, fmt::format("r750-{:05d}", s), fmt::format("OME{:04d}", s),
                        "PowerEdge R750", fmt::format("127.0.{}.{}", 120 + s / 250, 1 + s % 250), false,
                        s % 7 == 0 ? 18 : 17, s % 11 == 0 ? 3000 : 1000, false});
  }
  static const char* kNoIpv4[] = {"[::]", "::", ""};
  for (int n = 0; n < options_.servers_without_ipv4; ++n) {
    const std::string address = kNoIpv4[n % 3];
    devices_.push_back({next_device_++, 1000, fmt::format("noip-{:03d}", n), fmt::format("NOIP{:03d}", n),
                        "PowerEdge R650", address, address.empty(), 17, 1000, false});
  }
  for (int p = 1; p <= options_.shared_address_pairs; ++p) {
    const std::string address = fmt::format("127.0.119.{}", p);
    for (const char* half : {"A", "B"}) {
      devices_.push_back({next_device_++, 1000, fmt::format("dup{}-{:03d}", half, p), fmt::format("DUP{}{:03d}", half, p),
                          "PowerEdge R650", address, false, 17, 1000, false});
    }
  }
}

std::optional<std::pair<std::string, std::string>> Model::Login(const std::string& user, const std::string& password,
                                                                 bool* capped) {
  std::lock_guard lock(mu_);
  *capped = false;
  if (user != options_.username || password != options_.password) return std::nullopt;
  if (static_cast<int>(sessions_.size()) >= options_.session_cap) {
    *capped = true;
    return std::nullopt;
  }
  const std::string id = fmt::format("{:08x}-0000-4000-8000-{:012x}", next_session_, next_session_);
  const std::string token = fmt::format("tok{:08d}", next_session_++);
  sessions_[id] = token;
  return std::make_pair(id, token);
}

bool Model::ValidToken(const std::string& token) const {
  std::lock_guard lock(mu_);
  for (const auto& [_, t] : sessions_) {
    if (t == token) return true;
  }
  return false;
}

bool Model::Logout(const std::string& session_id) {
  std::lock_guard lock(mu_);
  return sessions_.erase(session_id) > 0;
}

int Model::SessionCount() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(sessions_.size());
}

std::optional<Page> Model::Devices(const std::string& filter, int top, int skip) const {
  std::optional<int> type;
  if (!filter.empty()) {
    static const std::regex kType(R"(^\s*Type\s+eq\s+([0-9]+)\s*$)");
    std::smatch m;
    if (!std::regex_match(filter, m, kType)) return std::nullopt;
    type = std::stoi(m[1]);
  }
  std::lock_guard lock(mu_);
  std::vector<Device> matching;
  for (const auto& d : devices_) {
    if (!type || d.type == *type) matching.push_back(d);
  }
  Page page;
  page.count = static_cast<int>(matching.size());
  const int size = top > 0 ? top : options_.default_page;
  for (int i = skip; i < skip + size && i < page.count; ++i) page.devices.push_back(matching[static_cast<std::size_t>(i)]);
  if (skip + size < page.count) {
    // Relative, and the filter carried on, as OME writes it.
    std::string encoded;
    for (char c : filter) encoded += c == ' ' ? std::string("%20") : std::string(1, c);
    page.next_link = fmt::format("/api/DeviceService/Devices?$skip={}&$top={}{}", skip + size, size,
                                 filter.empty() ? "" : "&$filter=" + encoded);
  }
  return page;
}

void Model::RemoveDevice(int id) {
  std::lock_guard lock(mu_);
  std::erase_if(devices_, [id](const Device& d) { return d.id == id; });
}

void Model::GarbleDevice(int id) {
  std::lock_guard lock(mu_);
  for (auto& d : devices_) {
    if (d.id == id) d.garbled = true;
  }
}

std::optional<Device> Model::Find(int id) const {
  std::lock_guard lock(mu_);
  for (const auto& d : devices_) {
    if (d.id == id) return d;
  }
  return std::nullopt;
}

std::vector<Device> Model::AllDevices() const {
  std::lock_guard lock(mu_);
  return devices_;
}

void Model::AddServer(const std::string& service_tag, const std::string& idrac_address) {
  std::lock_guard lock(mu_);
  devices_.push_back({next_device_++, 1000, "added-" + service_tag, service_tag, "PowerEdge R760", idrac_address, false,
                      17, 1000, false});
}

void Model::ExpireSessions() {
  std::lock_guard lock(mu_);
  sessions_.clear();
}

void Model::FailDetails(int id) {
  std::lock_guard lock(mu_);
  failing_details_.insert(id);
}

bool Model::DetailsFail(int id) const {
  std::lock_guard lock(mu_);
  return failing_details_.count(id) > 0;
}

}  // namespace dcops::sim::ome
