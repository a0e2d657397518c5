#include "image_fetcher.hpp"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <regex>

#include "loopback.hpp"

namespace dcops::sim {
namespace {

constexpr std::size_t kHeadBytes = 16;

}  // namespace

FetchOutcome FetchImage(const std::string& uri) {
  FetchOutcome out;
  static const std::regex kUri(R"(^(https?)://([^/:]+)(:[0-9]{1,5})?(/.*)?$)", std::regex::icase);
  std::smatch m;
  if (!std::regex_match(uri, m, kUri)) {
    out.detail = "the simulator fetches http:// and https:// only: " + uri;
    return out;
  }
  const std::string host = m[2];
  if (!IsLoopback(host)) {
    out.detail = "the simulator fetches from loopback only (127.0.0.0/8), not " + host;
    return out;
  }
  std::string scheme = m[1];
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return std::tolower(c); });
  httplib::Client client(scheme + "://" + host + m[3].str());
  client.enable_server_certificate_verification(false);
  client.set_connection_timeout(std::chrono::seconds(10));
  client.set_read_timeout(std::chrono::seconds(30));
  const std::string path = m[4].matched ? m[4].str() : "/";
  auto res = client.Get(path, [&out](const char* data, std::size_t len) {
    if (out.head.size() < kHeadBytes) out.head.append(data, std::min(len, kHeadBytes - out.head.size()));
    out.bytes += static_cast<long>(len);
    return true;
  });
  if (!res) {
    out.detail = "cannot fetch " + uri + ": " + httplib::to_string(res.error());
    return out;
  }
  out.http_status = res->status;
  if (res->status / 100 == 2) {
    out.kind = FetchOutcome::Kind::kOk;
  } else {
    out.kind = res->status == 404 ? FetchOutcome::Kind::kNotFound
               : res->status == 401 || res->status == 403 ? FetchOutcome::Kind::kDenied
                                                          : FetchOutcome::Kind::kHttpError;
    out.detail = uri + " answered HTTP " + std::to_string(res->status);
  }
  return out;
}

ImageFetcher::ImageFetcher(int threads) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
}

ImageFetcher::~ImageFetcher() { Stop(); }

void ImageFetcher::Fetch(std::string uri, std::function<void(const FetchOutcome&)> done) {
  std::lock_guard lock(mu_);
  if (stopping_) return;
  queue_.emplace_back(std::move(uri), std::move(done));
  cv_.notify_one();
}

void ImageFetcher::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    queue_.clear();
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void ImageFetcher::Run() {
  for (;;) {
    std::pair<std::string, std::function<void(const FetchOutcome&)>> item;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      item = std::move(queue_.front());
      queue_.pop_front();
    }
    const FetchOutcome outcome = FetchImage(item.first);
    item.second(outcome);
  }
}

}  // namespace dcops::sim
