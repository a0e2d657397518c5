#include "image_share.hpp"

#include <httplib.h>

#include "loopback.hpp"

namespace dcops::sim {

ImageShare::ImageShare() = default;
ImageShare::~ImageShare() { Stop(); }

std::string ImageShare::Start(const std::string& address, int port, const std::string& directory) {
  if (!IsLoopback(address)) return "the image share listens on a loopback address (127.0.0.0/8) only, not " + address;
  server_ = std::make_unique<httplib::Server>();
  if (!server_->set_mount_point("/", directory)) return "the image share cannot serve " + directory;
  server_->set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    if (req.method != "GET") return;
    if (res.status == 200) ++files_served_;
    if (res.status == 404) ++not_found_;
  });
  port_ = port == 0 ? server_->bind_to_any_port(address) : (server_->bind_to_port(address, port) ? port : -1);
  if (port_ <= 0) return "the image share cannot listen on " + address + ":" + std::to_string(port);
  address_ = address;
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  while (!server_->is_running()) std::this_thread::yield();
  return "";
}

void ImageShare::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string ImageShare::base_url() const { return "http://" + address_ + ":" + std::to_string(port_); }

}  // namespace dcops::sim
