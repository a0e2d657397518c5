#include "server.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "sim_tls.hpp"

namespace dcops::sim::tree {
namespace {

SimRequest FromHttplib(const httplib::Request& req) {
  SimRequest out;
  out.method = req.method;
  out.target = req.target;
  out.body = req.body;
  for (const auto& [name, value] : req.headers) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    out.headers[lower] = value;
  }
  return out;
}

void ToHttplib(const SimResponse& r, httplib::Response& res) {
  res.status = r.status;
  for (const auto& [name, value] : r.headers) res.set_header(name, value);
  if (!r.body.empty()) res.set_content(r.body, r.content_type.c_str());
}

}  // namespace

Server::Server(TreeSim& sim, SimOptions options) : sim_(sim), options_(std::move(options)) {}

Server::~Server() { Stop(); }

Status Server::Start() {
  auto https = SelfSignedServer(options_.address, "redfish-tree-sim", &fingerprint_);
  if (!https) return https.error();
  https_ = std::move(*https);
  const auto serve = [this](const httplib::Request& req, httplib::Response& res) {
    ToHttplib(sim_.Handle(FromHttplib(req)), res);
  };
  https_->Get(".*", serve);
  https_->Post(".*", serve);
  https_->Patch(".*", serve);
  https_->Put(".*", serve);
  https_->Delete(".*", serve);
  https_->Options(".*", serve);
  if (options_.port == 0) {
    port_ = https_->bind_to_any_port(options_.address);
  } else if (https_->bind_to_port(options_.address, options_.port)) {
    port_ = options_.port;
  } else {
    port_ = -1;
  }
  if (port_ <= 0) {
    return MakeError("sim.listen",
                     fmt::format("cannot listen on {}:{}", options_.address, options_.port));
  }
  control_.Get("/state", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(sim_.State(), "application/json");
  });
  control_.Get("/resource", [this](const httplib::Request& req, httplib::Response& res) {
    const auto body = sim_.Resource(req.get_param_value("uri"));
    if (!body) {
      res.status = 404;
      res.set_content(R"({"error":"no such resource"})", "application/json");
      return;
    }
    res.set_content(*body, "application/json");
  });
  if (options_.control_port == 0) {
    control_port_ = control_.bind_to_any_port("127.0.0.1");
  } else if (control_.bind_to_port("127.0.0.1", options_.control_port)) {
    control_port_ = options_.control_port;
  } else {
    control_port_ = -1;
  }
  if (control_port_ <= 0) {
    https_->stop();
    return MakeError("sim.listen",
                     fmt::format("cannot listen on 127.0.0.1:{}", options_.control_port));
  }
  https_thread_ = std::thread([this] { https_->listen_after_bind(); });
  control_thread_ = std::thread([this] { control_.listen_after_bind(); });
  return {};
}

void Server::Stop() {
  if (https_) https_->stop();
  control_.stop();
  if (https_thread_.joinable()) https_thread_.join();
  if (control_thread_.joinable()) control_thread_.join();
}

}  // namespace dcops::sim::tree
