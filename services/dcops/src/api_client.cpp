#include "api_client.hpp"

#include <rapidjson/document.h>

#include <fmt/format.h>

namespace dcops::cli {

Error ApiError(int status, const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str());
  if (!d.HasParseError() && d.IsObject() && d.HasMember("error") && d["error"].IsObject() &&
      d["error"].HasMember("code") && d["error"]["code"].IsString() && d["error"].HasMember("message") &&
      d["error"]["message"].IsString()) {
    const std::string code = d["error"]["code"].GetString();
    return MakeError("api." + code, d["error"]["message"].GetString(), code == "unavailable");
  }
  return MakeError("api.status", fmt::format("the dispatcher answered HTTP {}", status), status >= 500);
}

HttpApiTransport::HttpApiTransport(std::string base_url, std::string token, std::string actor)
    : base_url_(std::move(base_url)), token_(std::move(token)), actor_(std::move(actor)),
      curl_(std::make_unique<http::CurlTransport>()) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
  http::ClientOptions o;
  o.timeout = std::chrono::milliseconds(15000);
  o.connect_timeout = std::chrono::milliseconds(3000);
  o.retry.max_attempts = 4;  // rides over a dispatcher restart; POSTs only on connect errors
  o.user_agent = "dcops-cli/" DCOPS_VERSION;
  client_ = std::make_unique<http::Client>(o, *curl_, SystemClock::Instance());
}

HttpApiTransport::~HttpApiTransport() = default;

Result<std::string> HttpApiTransport::Call(const std::string& method, const std::string& path,
                                           const std::string& body) {
  http::Request req;
  req.method = method == "POST" ? http::Method::kPost : method == "PUT" ? http::Method::kPut : http::Method::kGet;
  req.url = base_url_ + path;
  req.headers = {{"Authorization", "Bearer " + token_}, {"Accept", "application/json"}};
  if (!actor_.empty()) req.headers.emplace_back("X-Dcops-Actor", actor_);
  if (!body.empty()) {
    req.headers.emplace_back("Content-Type", "application/json");
    req.body = body;
  }
  auto r = client_->Execute(req);
  if (!r) return r.error();
  if (!r->ok()) return ApiError(r->status, r->body);
  return r->body;
}

}  // namespace dcops::cli
