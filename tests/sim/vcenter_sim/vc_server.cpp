#include "vc_server.hpp"

#include <fmt/format.h>

#include <pugixml.hpp>

#include <algorithm>

#include "sim_tls.hpp"
#include "vc_properties.hpp"

namespace dcops::sim::vcenter {
namespace {

// Whether a container view on `container` holds `o`: the root folder (or none) holds
// everything; a cluster holds its hosts and the VMs running on them.
bool InContainer(const std::map<std::string, Object>& all, const Object& o, const std::string& container) {
  if (container.rfind("domain-c", 0) != 0) return true;
  if (const auto* h = std::get_if<Host>(&o.body)) return h->cluster == container;
  if (const auto* v = std::get_if<Vm>(&o.body)) {
    auto host = all.find(v->host);
    const auto* h = host == all.end() ? nullptr : std::get_if<Host>(&host->second.body);
    return h != nullptr && h->cluster == container;
  }
  return false;
}

// Datastore.host: a DatastoreHostMount per host the datastore is mounted on (its own list, or
// every host: `hosts[""]`).
std::string DatastoreMounts(const Object& o, const std::map<std::string, std::vector<std::string>>& hosts, const std::string& xsi) {
  const auto& ds = std::get<Datastore>(o.body);
  std::vector<std::string> on = ds.hosts;
  if (on.empty()) {
    if (auto it = hosts.find(""); it != hosts.end()) on = it->second;
  }
  std::string inner;
  for (const auto& h : on) {
    inner += fmt::format(R"(<DatastoreHostMount {0}:type="DatastoreHostMount"><key type="HostSystem">{1}</key><mountInfo>)"
                         R"(<path>/vmfs/volumes/{2}</path><accessMode>readWrite</accessMode><mounted>true</mounted>)"
                         R"(<accessible>{3}</accessible></mountInfo></DatastoreHostMount>)",
                         xsi, h, o.moref, ds.accessible ? "true" : "false");
  }
  return fmt::format(R"(<val {}:type="ArrayOfDatastoreHostMount">{}</val>)", xsi, inner);
}


std::string Local(const pugi::xml_node& n) {
  const std::string name = n.name();
  const auto colon = name.find(':');
  return colon == std::string::npos ? name : name.substr(colon + 1);
}

pugi::xml_node Child(const pugi::xml_node& n, const char* local) {
  for (auto c : n.children()) {
    if (c.type() == pugi::node_element && Local(c) == local) return c;
  }
  return {};
}

std::vector<pugi::xml_node> Children(const pugi::xml_node& n, const char* local) {
  std::vector<pugi::xml_node> out;
  for (auto c : n.children()) {
    if (c.type() == pugi::node_element && Local(c) == local) out.push_back(c);
  }
  return out;
}

std::string Envelope(const std::string& xsi, const std::string& body) {
  return fmt::format(R"(<?xml version="1.0" encoding="UTF-8"?>)"
                     "\n"
                     R"(<soapenv:Envelope xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" )"
                     R"(xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" )"
                     R"(xmlns:{}="http://www.w3.org/2001/XMLSchema-instance">)"
                     "\n<soapenv:Body>{}</soapenv:Body>\n</soapenv:Envelope>",
                     xsi, body);
}

// The session key in "vmware_soap_session=\"52…\"".
std::string SessionKey(const std::string& cookie) {
  const auto at = cookie.find("vmware_soap_session=\"");
  if (at == std::string::npos) return "";
  const auto start = at + 21;
  const auto end = cookie.find('"', start);
  return end == std::string::npos ? "" : cookie.substr(start, end - start);
}

// A version: "" (everything), "<target>" (complete up to it), or "<base>.<target>.<filter>.<section>.<moref>"
// (a truncated set, to continue after that object).
struct Cursor {
  std::uint64_t base = 0, target = 0;
  std::string filter;
  int section = 0;  // 0 objects, 1 removals
  std::string moref;
  bool continuing = false;
};

std::optional<Cursor> ParseVersion(const std::string& v, std::uint64_t now) {
  Cursor c;
  if (v.empty()) {
    c.target = now;
    return c;
  }
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    const auto dot = v.find('.', start);
    parts.push_back(v.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  try {
    if (parts.size() == 1) {
      c.base = std::stoull(parts[0]);
      c.target = now;
      return c;
    }
    if (parts.size() == 5) {
      c.base = std::stoull(parts[0]);
      c.target = std::stoull(parts[1]);
      c.filter = parts[2];
      c.section = std::stoi(parts[3]);
      c.moref = parts[4];
      c.continuing = true;
      return c;
    }
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

}  // namespace

Server::Server(Model& model, std::string address, int port, ServerOptions options)
    : model_(model), address_(std::move(address)), port_(port), options_(std::move(options)) {}

Server::~Server() { Stop(); }

void Server::Stop() {
  gate_.Release();  // a held request must not keep the server from stopping
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

std::map<std::string, int> Server::Calls() const {
  std::lock_guard lock(mu_);
  return calls_;
}

int Server::LiveViews() const {
  std::lock_guard lock(mu_);
  int n = 0;
  for (const auto& [_, s] : sessions_) n += static_cast<int>(s.views.size());
  return n;
}

std::string Server::Start() {
  auto tls_server = SelfSignedServer(address_, "vcenter-sim", &fingerprint_);
  if (!tls_server) return tls_server.error().message;
  server_ = std::move(*tls_server);
  server_->set_payload_max_length(64 << 20);
  server_->Post("/sdk", [this](const httplib::Request& req, httplib::Response& res) { Handle(req, res); });
  if (!server_->bind_to_port(address_.c_str(), port_)) return fmt::format("cannot listen on {}:{}", address_, port_);
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  while (!server_->is_running()) std::this_thread::yield();
  return "";
}

void Server::Handle(const httplib::Request& req, httplib::Response& res) {
  const std::string& xsi = options_.xsi_prefix;
  auto fault = [&](const std::string& type, const std::string& message, const std::string& detail = "") {
    res.status = 500;
    res.set_content(Envelope(xsi, fmt::format("<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>{}</faultstring>"
                                              R"(<detail><{}Fault xmlns="urn:vim25" {}:type="{}">{}</{}Fault></detail></soapenv:Fault>)",
                                              message, type, xsi, type, detail, type)),
                    "text/xml; charset=utf-8");
  };
  if (fault_ == Fault::kHtml) {
    res.status = 503;
    res.set_content("<html><head><title>503 Service Unavailable</title></head><body><h1>Service Unavailable</h1></body></html>",
                    "text/html");
    return;
  }
  pugi::xml_document doc;
  if (!doc.load_buffer(req.body.data(), req.body.size())) return fault("InvalidRequest", "Unable to parse the request.");
  pugi::xml_node body = Child(doc.document_element(), "Body");
  pugi::xml_node call;
  for (auto c : body.children()) {
    if (c.type() == pugi::node_element) {
      call = c;
      break;
    }
  }
  if (!call) return fault("InvalidRequest", "The request has no operation.");
  const std::string op = Local(call);
  const std::string self = Child(call, "_this").text().get();
  {
    std::lock_guard lock(mu_);
    ++calls_[op];
  }
  gate_.Pass(op);
  if (expire_countdown_ > 0 && --expire_countdown_ == 0) {
    model_.ExpireSessions();
    std::lock_guard lock(mu_);
    sessions_.clear();
  }
  bool next_page = op == "ContinueRetrievePropertiesEx";  // WaitForUpdatesEx: set from its version
  auto answer = [&](const std::string& inner) {
    std::string text = Envelope(xsi, fmt::format(R"(<{0}Response xmlns="urn:vim25">{1}</{0}Response>)", op, inner));
    if ((fault_ == Fault::kTruncated && (op == "RetrievePropertiesEx" || op == "ContinueRetrievePropertiesEx" || op == "WaitForUpdatesEx")) ||
        (fault_ == Fault::kTruncatedNextPage && next_page)) {
      text.resize(text.size() / 2);
    }
    res.set_content(text, "text/xml; charset=utf-8");
  };

  if (op == "RetrieveServiceContent") {
    return answer(fmt::format(
        R"(<returnval><rootFolder type="Folder">group-d1</rootFolder><propertyCollector type="PropertyCollector">propertyCollector</propertyCollector>)"
        R"(<viewManager type="ViewManager">ViewManager</viewManager><about><name>VMware vCenter Server</name>)"
        R"(<fullName>VMware vCenter Server 8.0.2 build-22385739</fullName><vendor>VMware, Inc.</vendor><version>8.0.2</version>)"
        R"(<build>22385739</build><osType>linux-x64</osType><productLineId>vpx</productLineId><apiType>VirtualCenter</apiType>)"
        R"(<apiVersion>{}</apiVersion><instanceUuid>7f6b0c1a-58c3-4e0f-9a55-0c2f1e6a8d10</instanceUuid></about>)"
        R"(<sessionManager type="SessionManager">SessionManager</sessionManager></returnval>)",
        options_.api_version));
  }
  if (op == "Login") {
    auto key = model_.Login(Child(call, "userName").text().get(), Child(call, "password").text().get());
    if (!key) return fault("InvalidLogin", "Cannot complete login due to an incorrect user name or password.");
    {
      std::lock_guard lock(mu_);
      sessions_[*key] = Session{};
    }
    res.set_header("Set-Cookie", fmt::format("vmware_soap_session=\"{}\"; Path=/; HttpOnly; Secure;", *key));
    return answer(fmt::format("<returnval><key>{}</key><userName>VSPHERE.LOCAL\\{}</userName><fullName>sync </fullName>"
                              "<loginTime>2026-11-27T08:00:00.000Z</loginTime><lastActiveTime>2026-11-27T08:00:00.000Z</lastActiveTime>"
                              "<locale>en</locale><messageLocale>en</messageLocale><extensionSession>false</extensionSession>"
                              "<ipAddress>127.0.0.1</ipAddress><userAgent>dcops</userAgent><callCount>0</callCount></returnval>",
                              *key, Child(call, "userName").text().get()));
  }
  const std::string key = SessionKey(req.get_header_value("Cookie"));
  if (key.empty() || !model_.Valid(key)) {
    return fault("NotAuthenticated", "The session is not authenticated.",
                 R"(<object type="Folder">group-d1</object><privilegeId>System.View</privilegeId>)");
  }
  std::unique_lock lock(mu_);
  Session& s = sessions_[key];
  if (op == "Logout") {
    lock.unlock();
    model_.Logout(key);
    std::lock_guard again(mu_);
    sessions_.erase(key);
    return answer("");
  }
  if (op == "CurrentTime") return answer("<returnval>2026-11-27T08:00:00.000Z</returnval>");
  if (op == "CreateContainerView") {
    const std::string type = Child(call, "type").text().get();
    const std::string id = fmt::format("session[{}]{:08x}", key, s.next_id++);
    s.views[id] = type;
    s.view_containers[id] = Child(call, "container").text().get();
    return answer(fmt::format(R"(<returnval type="ContainerView">{}</returnval>)", id));
  }
  if (op == "DestroyView") {
    if (s.views.erase(self) == 0) return fault("ManagedObjectNotFound", "The object has already been deleted or has not been completely created");
    return answer("");
  }
  if (op == "DestroyPropertyFilter") {
    if (s.filters.erase(self) == 0) return fault("ManagedObjectNotFound", "The object has already been deleted or has not been completely created");
    return answer("");
  }

  // What a PropertyFilterSpec asks: a type, paths, over a view of this session.
  auto read_spec = [&](const pugi::xml_node& spec, Filter* f) -> bool {
    const pugi::xml_node prop = Child(spec, "propSet");
    f->prop_type = Child(prop, "type").text().get();
    for (const auto& p : Children(prop, "pathSet")) f->paths.emplace_back(p.text().get());
    const std::string view = Child(Child(spec, "objectSet"), "obj").text().get();
    auto it = s.views.find(view);
    if (it == s.views.end()) {
      fault("ManagedObjectNotFound", "The object has already been deleted or has not been completely created",
            fmt::format(R"(<obj type="ContainerView">{}</obj>)", view));
      return false;
    }
    f->view_type = it->second;
    f->container = s.view_containers[view];
    for (const auto& p : f->paths) {
      if (!KnownPath(f->prop_type, p)) {
        fault("InvalidProperty", fmt::format("Invalid property: {}", p), fmt::format("<name>{}</name>", p));
        return false;
      }
    }
    return true;
  };
  // One object's <propSet>s (or, in an update, <changeSet>s) for `paths`.
  auto write_object = [&](std::string& out, const Object& o, const std::vector<std::string>& paths, bool update,
                          const std::map<std::string, std::vector<std::string>>& cluster_hosts) {
    for (const auto& p : paths) {
      std::optional<std::string> val;
      if (p == "host" && o.type == "ClusterComputeResource") {
        std::string inner;
        if (auto it = cluster_hosts.find(o.moref); it != cluster_hosts.end()) {
          for (const auto& h : it->second) inner += fmt::format(R"(<ManagedObjectReference type="HostSystem">{}</ManagedObjectReference>)", h);
        }
        val = fmt::format(R"(<val {}:type="ArrayOfManagedObjectReference">{}</val>)", xsi, inner);
      } else if (p == "host" && o.type == "Datastore") {
        val = DatastoreMounts(o, cluster_hosts, xsi);
      } else {
        val = PropertyValue(o, p, xsi);
      }
      if (update) {
        out += fmt::format("<changeSet><name>{}</name><op>assign</op>{}</changeSet>", p, val.value_or(""));
      } else if (val) {
        out += fmt::format("<propSet><name>{}</name>{}</propSet>", p, *val);
      }
    }
  };
  auto hosts_by_cluster = [](const std::map<std::string, Object>& objects, const std::vector<std::string>& paths,
                             const std::string& type) {
    std::map<std::string, std::vector<std::string>> out;
    if ((type != "ClusterComputeResource" && type != "Datastore") || std::find(paths.begin(), paths.end(), "host") == paths.end()) {
      return out;
    }
    for (const auto& [moref, o] : objects) {
      if (const auto* h = std::get_if<Host>(&o.body); h != nullptr) {
        if (!h->cluster.empty()) out[h->cluster].push_back(moref);
        out[""].push_back(moref);  // every host: what a datastore without a host list is mounted on
      }
    }
    return out;
  };
  // One page of a read: up to `max` of the pending objects that still exist.
  auto page_of = [&](Pending& p, int max, const std::string& token) {
    std::string objects;
    model_.Read([&](const std::map<std::string, Object>& all, const std::vector<Tombstone>&, std::uint64_t) {
      const auto cluster_hosts = hosts_by_cluster(all, p.paths, p.prop_type);
      int n = 0;
      while (p.next < p.morefs.size() && n < max) {
        auto it = all.find(p.morefs[p.next++]);
        if (it == all.end()) continue;
        objects += fmt::format(R"(<objects><obj type="{}">{}</obj>)", it->second.type, it->first);
        write_object(objects, it->second, p.paths, false, cluster_hosts);
        objects += "</objects>";
        ++n;
      }
    });
    const bool more = p.next < p.morefs.size();
    return "<returnval>" + (more ? "<token>" + token + "</token>" : std::string()) + objects + "</returnval>";
  };

  if (op == "RetrievePropertiesEx") {
    Filter f;
    const pugi::xml_node spec = Child(call, "specSet");
    if (std::string(Child(Child(spec, "propSet"), "type").text().get()) == "Task") {
      return fault("ManagedObjectNotFound", "The object has already been deleted or has not been completely created");
    }
    if (!read_spec(spec, &f)) return;
    int max = Child(Child(call, "options"), "maxObjects").text().as_int(options_.default_max_objects);
    if (max <= 0) max = options_.default_max_objects;
    Pending p{f.prop_type, f.view_type, f.paths, {}, 0, max};
    model_.Read([&](const std::map<std::string, Object>& all, const std::vector<Tombstone>&, std::uint64_t) {
      for (const auto& [moref, o] : all) {
        if (IsA(o.type, f.view_type) && IsA(o.type, f.prop_type) && InContainer(all, o, f.container)) p.morefs.push_back(moref);
      }
    });
    const std::string token = std::to_string(s.next_id++);
    std::string page = page_of(p, max, token);
    if (p.next < p.morefs.size()) s.pending[token] = std::move(p);
    lock.unlock();
    return answer(page);
  }
  if (op == "ContinueRetrievePropertiesEx" || op == "CancelRetrievePropertiesEx") {
    const std::string token = Child(call, "token").text().get();
    auto it = s.pending.find(token);
    if (it == s.pending.end()) return fault("InvalidArgument", "A specified parameter was not correct: token", "<invalidProperty>token</invalidProperty>");
    if (op == "CancelRetrievePropertiesEx") {
      s.pending.erase(it);
      return answer("");
    }
    if (fault_ == Fault::kFaultNextPage) {
      fault_ = Fault::kNone;
      return fault("SystemError", "A general system error occurred: Internal error", "<reason>Internal error</reason>");
    }
    std::string page = page_of(it->second, it->second.max_objects, token);
    if (it->second.next >= it->second.morefs.size()) s.pending.erase(it);
    lock.unlock();
    return answer(page);
  }
  if (op == "CreateFilter") {
    Filter f;
    if (!read_spec(Child(call, "spec"), &f)) return;
    const std::string id = fmt::format("session[{}]{:08x}", key, s.next_id++);
    s.filters[id] = std::move(f);
    return answer(fmt::format(R"(<returnval type="PropertyFilter">{}</returnval>)", id));
  }
  if (op == "WaitForUpdatesEx") {
    const std::string version = Child(call, "version").text().get();
    if (!version.empty() && s.versions.count(version) == 0) {
      return fault("InvalidCollectorVersion", "The collector version is not valid.");
    }
    auto cursor = ParseVersion(version, model_.version());
    if (!cursor) return fault("InvalidCollectorVersion", "The collector version is not valid.");
    next_page = cursor->continuing;
    if (cursor->continuing && fault_ == Fault::kFaultNextPage) {
      fault_ = Fault::kNone;
      return fault("SystemError", "A general system error occurred: Internal error", "<reason>Internal error</reason>");
    }
    int max = Child(Child(call, "options"), "maxObjectUpdates").text().as_int(0);
    if (max <= 0) max = 1 << 30;
    const std::map<std::string, Filter> filters = s.filters;
    std::string sets, resume;
    int n = 0;
    bool any = false;
    model_.Read([&](const std::map<std::string, Object>& all, const std::vector<Tombstone>& removed, std::uint64_t) {
      for (const auto& [fid, f] : filters) {
        if (cursor->continuing && fid < cursor->filter) continue;
        const auto cluster_hosts = hosts_by_cluster(all, f.paths, f.prop_type);
        std::string objects;
        auto past_cursor = [&](int section, const std::string& moref) {
          if (!cursor->continuing || fid != cursor->filter) return true;
          return section > cursor->section || (section == cursor->section && moref > cursor->moref);
        };
        for (const auto& [moref, o] : all) {
          if (!resume.empty()) break;
          if (!IsA(o.type, f.view_type) || !IsA(o.type, f.prop_type) || o.changed <= cursor->base || !past_cursor(0, moref)) continue;
          if (n == max) {
            resume = "more";
            break;
          }
          const bool enter = cursor->base == 0 || o.created > cursor->base;
          objects += fmt::format(R"(<objectSet><kind>{}</kind><obj type="{}">{}</obj>)", enter ? "enter" : "modify", o.type, moref);
          write_object(objects, o, f.paths, true, cluster_hosts);
          objects += "</objectSet>";
          cursor->filter = fid;
          cursor->section = 0;
          cursor->moref = moref;
          ++n;
        }
        if (cursor->base > 0) {
          std::vector<const Tombstone*> gone;
          for (const auto& t : removed) {
            if (t.removed > cursor->base && t.created <= cursor->base && IsA(t.type, f.view_type) && IsA(t.type, f.prop_type)) {
              gone.push_back(&t);
            }
          }
          std::sort(gone.begin(), gone.end(), [](const Tombstone* a, const Tombstone* b) { return a->moref < b->moref; });
          for (const Tombstone* t : gone) {
            if (!resume.empty()) break;
            if (!past_cursor(1, t->moref)) continue;
            if (n == max) {
              resume = "more";
              break;
            }
            objects += fmt::format(R"(<objectSet><kind>leave</kind><obj type="{}">{}</obj></objectSet>)", t->type, t->moref);
            cursor->filter = fid;
            cursor->section = 1;
            cursor->moref = t->moref;
            ++n;
          }
        }
        if (!objects.empty()) {
          any = true;
          sets += fmt::format(R"(<filterSet><filter type="PropertyFilter">{}</filter>{}</filterSet>)", fid, objects);
        }
        if (!resume.empty()) break;
      }
    });
    std::string next = resume.empty() ? std::to_string(cursor->target)
                                      : fmt::format("{}.{}.{}.{}.{}", cursor->base, cursor->target, cursor->filter,
                                                    cursor->section, cursor->moref);
    s.versions.insert(next);
    lock.unlock();
    if (!any && resume.empty() && std::to_string(cursor->target) == version) return answer("");  // nothing new
    return answer(fmt::format("<returnval><version>{}</version>{}{}</returnval>", next, sets,
                              resume.empty() ? "" : "<truncated>true</truncated>"));
  }
  fault("NotSupported", fmt::format("The operation {} is not supported by this simulator.", op));
}

}  // namespace dcops::sim::vcenter
