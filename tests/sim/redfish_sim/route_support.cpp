#include "route_support.hpp"

#include <thread>

#include "redfish_json.hpp"

namespace dcops::sim {
namespace {

std::string Base64Decode(const std::string& in) {
  static const std::string chars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int val = 0, bits = -8;
  for (char c : in) {
    const auto pos = chars.find(c);
    if (pos == std::string::npos) break;
    val = (val << 6) + static_cast<int>(pos);
    bits += 6;
    if (bits >= 0) {
      out.push_back(static_cast<char>((val >> bits) & 0xff));
      bits -= 8;
    }
  }
  return out;
}

bool Authorized(Bmc& bmc, const httplib::Request& req, httplib::Response& res) {
  const std::string token = req.get_header_value("X-Auth-Token");
  if (!token.empty()) {
    if (bmc.ValidSession(token, Now())) return true;
  } else {
    const std::string auth = req.get_header_value("Authorization");
    if (auth.rfind("Basic ", 0) == 0) {
      const std::string pair = Base64Decode(auth.substr(6));
      const auto colon = pair.find(':');
      if (colon != std::string::npos &&
          bmc.CheckPassword(pair.substr(0, colon), pair.substr(colon + 1))) {
        return true;
      }
    }
  }
  Fail(res, 401, "Base.1.8.AccessDenied",
       "While attempting to establish a connection to /redfish/v1, the service denied access.");
  return false;
}

}  // namespace

void Fail(httplib::Response& res, int status, const std::string& id, const std::string& message) {
  res.status = status;
  res.set_content(ErrorJson(id, message), kJson);
}

void Answer(httplib::Response& res, const ActionAnswer& a) {
  if (a.status >= 300) {
    Fail(res, a.status, a.message_id, a.message);
  } else {
    res.status = a.status;
  }
}

std::optional<rapidjson::Document> JsonBody(const httplib::Request& req, httplib::Response& res) {
  rapidjson::Document doc;
  doc.Parse(req.body.c_str());
  if (doc.HasParseError() || !doc.IsObject()) {
    Fail(res, 400, "Base.1.8.MalformedJSON", "The request body submitted was malformed JSON and could not be parsed by the receiving service.");
    return std::nullopt;
  }
  return doc;
}

// Shared front half of every handler: latency, random faults, and (for authenticated GETs of
// data) the broken-answer modes. Returns false when the request has been answered already.
bool Front(Bmc& bmc, const httplib::Request& req, httplib::Response& res, bool needs_auth) {
  const Faults f = bmc.faults();
  // The device is slow, and slower over anything but a read (a login, an action, a change).
  const bool read = req.method == "GET" || req.method == "HEAD";
  const auto latency = f.latency + (read ? milliseconds(0) : f.mutating_latency);
  if (latency.count() > 0) std::this_thread::sleep_for(latency);
  if (bmc.RollFault()) {
    Fail(res, 503, "IDRAC.2.8.RAC0508", "An unexpected error occurred.");
    return false;
  }
  if (f.mode == Mode::kNotReady) {
    Fail(res, 503, "IDRAC.2.8.SYS518",
         "iDRAC is not ready. The configuration values cannot be accessed. Please retry after a "
         "few minutes.");
    return false;
  }
  if (needs_auth && !Authorized(bmc, req, res)) return false;
  if (needs_auth && req.method == "GET" && f.mode == Mode::kHtml) {
    res.status = 200;
    res.set_content("<html><head><title>Error</title></head><body>Internal error</body></html>",
                    "text/html");
    return false;
  }
  if (needs_auth && req.method == "GET" && f.mode == Mode::kTruncated) {
    res.status = 200;
    res.set_content(R"({"@odata.id": "/redfish/v1/Systems/System.Embedded.1", "PowerState": "O)",
                    kJson);
    return false;
  }
  return true;
}

bool IsMutating(const httplib::Request& req) {
  if (req.method == "GET" || req.method == "HEAD") return false;
  for (const char* reads : {"/Sessions", "ExportSystemConfiguration", "ImportSystemConfigurationPreview",
                            "GetRepoBasedUpdateList", "GetRemoteServicesAPIStatus"}) {
    if (req.path.find(reads) != std::string::npos) return false;
  }
  return true;
}

void Serve(httplib::Server& server, Bmc& bmc, const std::string& path, bool needs_auth,
           std::function<std::string()> body) {
  server.Get(path, [&bmc, needs_auth, body](const httplib::Request& req, httplib::Response& res) {
    InFlight in(bmc, req);
    if (!Front(bmc, req, res, needs_auth)) return;
    res.set_content(body(), kJson);
  });
}

void ServeCollection(httplib::Server& server, Bmc& bmc, const std::string& path,
                     const std::string& type, const std::string& name,
                     std::function<std::vector<Member>(Bmc&)> members) {
  server.Get(path, [&bmc, path, type, name, members](const httplib::Request& req, httplib::Response& res) {
    InFlight in(bmc, req);
    if (!Front(bmc, req, res, true)) return;
    const bool expand = bmc.SupportsExpand() && req.has_param("$expand");
    res.set_content(CollectionJson(path, type, name, members(bmc), expand), kJson);
  });
  server.Get(path + "/([^/]+)", [&bmc, path, members](const httplib::Request& req, httplib::Response& res) {
    InFlight in(bmc, req);
    if (!Front(bmc, req, res, true)) return;
    const std::string want = path + "/" + std::string(req.matches[1]);
    for (const auto& [id, doc] : members(bmc)) {
      if (id == want) {
        res.set_content(doc, kJson);
        return;
      }
    }
    Fail(res, 404, "Base.1.8.ResourceMissingAtURI", "The resource at the URI " + want + " was not found.");
  });
}


}  // namespace dcops::sim
