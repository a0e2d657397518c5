#include "http_endpoints.hpp"

#include <httplib.h>

namespace dcops::dispatcher {

void AddHttpEndpoints(httplib::Server& http, const HttpEndpoints& e) {
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
                 req.get_header_value("X-Dcops-Actor"), req.body};
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
