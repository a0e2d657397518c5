#include "http_endpoints.hpp"

#include <fmt/format.h>
#include <httplib.h>

#include <cstdlib>

namespace dcops::dispatcher {

void AddHttpEndpoints(httplib::Server& http, const HttpEndpoints& e) {
  const int threads = e.limits.threads;
  http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
  http.set_read_timeout(e.limits.read_timeout);
  http.set_write_timeout(e.limits.write_timeout);
  http.set_keep_alive_timeout(e.limits.keep_alive.count());
  http.set_payload_max_length(e.limits.max_body);
  // Runs after the headers and before the body: a request without the token, or announcing a
  // body over the cap, is answered and its connection closed with the body unread (httplib
  // alone would read an oversized body to discard it, holding a thread for the upload).
  const std::size_t max_body = e.limits.max_body;
  http.set_pre_routing_handler([e, max_body](const httplib::Request& req, httplib::Response& res) {
    const bool api = req.path.rfind("/api/", 0) == 0;
    if (api && !e.api.Admits(req.get_header_value("Authorization"), req.get_header_value("Cookie"))) {
      res.status = 401;
      res.set_header("WWW-Authenticate", "Bearer");
      res.set_content(R"json({"error":{"code":"unauthorized","message":"missing or wrong API token (Authorization: Bearer …)"}})json",
                      "application/json");
    } else if (std::strtoull(req.get_header_value("Content-Length").c_str(), nullptr, 10) > max_body) {
      res.status = 413;
      res.set_content(fmt::format(R"json({{"error":{{"code":"too_large","message":"body: at most {} bytes"}}}})json", max_body),
                      "application/json");
    } else {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    res.set_header("Connection", "close");
    return httplib::Server::HandlerResponse::Handled;
  });
  http.Get("/healthz", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok\n", "text/plain"); });
  http.Get("/readyz", [e](const httplib::Request&, httplib::Response& res) {
    const bool ready = e.leader && e.db_ok;
    res.status = ready ? 200 : 503;
    res.set_content(ready ? "ready\n" : (!e.db_ok ? "database unreachable\n" : "standby\n"), "text/plain");
  });
  http.Get("/metrics", [e](const httplib::Request&, httplib::Response& res) {
    // Queue depth is read when scraped (on the API's connection, never the loop's).
    if (auto depth = e.api.QueueDepth()) e.metrics.SetQueueDepth(*depth);
    res.set_content(e.metrics.Render(), "text/plain; version=0.0.4");
  });
  auto api = [e](const httplib::Request& req, httplib::Response& res) {
    ApiRequest r{req.method, req.path, {}, req.get_header_value("Authorization"),
                 req.get_header_value("X-Dcops-Actor"), req.body, req.get_header_value("Cookie"),
                 req.has_header("X-Dcops-Console")};
    for (const auto& [k, v] : req.params) r.query[k] = v;
    ApiResponse out = e.api.Handle(r);
    res.status = out.status;
    if (out.status == 401) res.set_header("WWW-Authenticate", "Bearer");
    res.set_content(out.body, "application/json");
  };
  http.Get(R"(/api/v1/.*)", api);
  http.Post(R"(/api/v1/.*)", api);
  http.Put(R"(/api/v1/.*)", api);
}

}  // namespace dcops::dispatcher
