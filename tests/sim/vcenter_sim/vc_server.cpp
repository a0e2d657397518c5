#include "vc_server.hpp"

#include <fmt/format.h>

#include <pugixml.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

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


// Whether a PropertySpec of `f` applies to objects of `type`, and the paths it asks of them
// (the union over the specs that apply).
bool Applies(const Server::Filter& f, const std::string& type) {
  return std::any_of(f.props.begin(), f.props.end(), [&](const auto& p) { return IsA(type, p.first); });
}

std::vector<std::string> PathsFor(const Server::Filter& f, const std::string& type) {
  std::vector<std::string> out;
  for (const auto& [t, paths] : f.props) {
    if (!IsA(type, t)) continue;
    for (const auto& p : paths) {
      if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
    }
  }
  return out;
}

// PathsFor, worked out once per type for a whole read.
class PathCache {
 public:
  explicit PathCache(const Server::Filter& f) : f_(f) {}
  const std::vector<std::string>& operator()(const std::string& type) {
    auto it = by_type_.find(type);
    if (it == by_type_.end()) it = by_type_.emplace(type, PathsFor(f_, type)).first;
    return it->second;
  }

 private:
  const Server::Filter& f_;
  std::map<std::string, std::vector<std::string>> by_type_;
};

bool Asks(const Server::Filter& f, std::initializer_list<const char*> types, const char* path) {
  for (const auto& [t, paths] : f.props) {
    const bool type_matches = std::any_of(types.begin(), types.end(), [&](const char* x) { return t == x; });
    if (type_matches && std::find(paths.begin(), paths.end(), path) != paths.end()) return true;
  }
  return false;
}

// Whether `f` covers `o`: an object of the view's type in its container, or an object named
// itself; either way one a PropertySpec applies to.
bool Holds(const Server::Filter& f, const std::map<std::string, Object>& all, const Object& o) {
  if (!Applies(f, o.type)) return false;
  if (f.view && IsA(o.type, f.view_type) && InContainer(all, o, f.container)) return true;
  return std::binary_search(f.objects.begin(), f.objects.end(), o.moref);
}

bool HoldsGone(const Server::Filter& f, const Tombstone& t) {
  if (!Applies(f, t.type)) return false;
  if (f.view && IsA(t.type, f.view_type)) return true;
  return std::binary_search(f.objects.begin(), f.objects.end(), t.moref);
}

// The objects `f` covers, in moref order, to `fn` (which returns false to stop).
void ForEachMember(const Server::Filter& f, const std::map<std::string, Object>& all, const std::function<bool(const Object&)>& fn) {
  if (f.view) {
    for (const auto& [_, o] : all) {
      if (Holds(f, all, o) && !fn(o)) return;
    }
    return;
  }
  for (const auto& moref : f.objects) {
    auto it = all.find(moref);
    if (it != all.end() && Applies(f, it->second.type) && !fn(it->second)) return;
  }
}

// What some properties need of the rest of the model: a cluster's hosts (and every host, for
// a datastore mounted everywhere: key ""), and the entities' recent tasks.
struct Extras {
  std::map<std::string, std::vector<std::string>> hosts, recent_tasks;
  std::map<std::string, std::vector<std::string>> cluster_datastores;  // ComputeResource.datastore
};

Extras ExtrasFor(const Server::Filter& f, const std::map<std::string, Object>& all) {
  Extras out;
  if (Asks(f, {"ClusterComputeResource", "Datastore"}, "host")) {
    for (const auto& [moref, o] : all) {
      if (const auto* h = std::get_if<Host>(&o.body); h != nullptr) {
        if (!h->cluster.empty()) out.hosts[h->cluster].push_back(moref);
        out.hosts[""].push_back(moref);
      }
    }
  }
  if (Asks(f, {"HostSystem"}, "recentTask")) out.recent_tasks = RecentTasks(all, std::chrono::system_clock::now());
  if (Asks(f, {"ClusterComputeResource"}, "datastore")) {
    // The datastores mounted on any host of the cluster (a datastore without a host list is
    // mounted on every host).
    for (const auto& [ds_moref, d] : all) {
      const auto* ds = std::get_if<Datastore>(&d.body);
      if (ds == nullptr) continue;
      std::set<std::string> clusters;
      for (const auto& [moref, o] : all) {
        const auto* h = std::get_if<Host>(&o.body);
        if (h == nullptr || h->cluster.empty()) continue;
        if (ds->hosts.empty() || std::find(ds->hosts.begin(), ds->hosts.end(), moref) != ds->hosts.end()) clusters.insert(h->cluster);
      }
      for (const auto& c : clusters) out.cluster_datastores[c].push_back(ds_moref);
    }
  }
  return out;
}

std::string RefArray(const std::string& xsi, const std::string& type, const std::vector<std::string>* morefs) {
  std::string inner;
  if (morefs != nullptr) {
    for (const auto& m : *morefs) inner += fmt::format(R"(<ManagedObjectReference type="{}">{}</ManagedObjectReference>)", type, m);
  }
  return fmt::format(R"(<val {}:type="ArrayOfManagedObjectReference">{}</val>)", xsi, inner);
}

// The <val> of `path` on `o` (nullopt: unset).
std::optional<std::string> ValueOf(const Object& o, const std::string& p, const Extras& extras, const std::string& xsi) {
  if (p == "host" && o.type == "ClusterComputeResource") {
    auto it = extras.hosts.find(o.moref);
    return RefArray(xsi, "HostSystem", it == extras.hosts.end() ? nullptr : &it->second);
  }
  if (p == "host" && o.type == "Datastore") return DatastoreMounts(o, extras.hosts, xsi);
  if (p == "datastore" && o.type == "ClusterComputeResource") {
    auto it = extras.cluster_datastores.find(o.moref);
    return RefArray(xsi, "Datastore", it == extras.cluster_datastores.end() ? nullptr : &it->second);
  }
  if (p == "recentTask" && o.type == "HostSystem") {
    auto it = extras.recent_tasks.find(o.moref);
    return RefArray(xsi, "Task", it == extras.recent_tasks.end() ? nullptr : &it->second);
  }
  return PropertyValue(o, p, xsi);
}

std::string ChangeSet(const std::string& path, const std::optional<std::string>& val) {
  return fmt::format("<changeSet><name>{}</name><op>assign</op>{}</changeSet>", path, val.value_or(""));
}

// One object's <propSet>s (or, in an update, <changeSet>s) for `paths`.
void WriteObject(std::string& out, const Object& o, const std::vector<std::string>& paths, bool update, const Extras& extras,
                 const std::string& xsi) {
  for (const auto& p : paths) {
    const std::optional<std::string> val = ValueOf(o, p, extras, xsi);
    if (update) {
      out += ChangeSet(p, val);
    } else if (val) {
      out += fmt::format("<propSet><name>{}</name>{}</propSet>", p, *val);
    }
  }
}

// ManagedObjectNotFound as vCenter words it.
std::string NotFoundMessage(const std::string& type, const std::string& moref) {
  const std::string qualified = type == "ContainerView" ? "vim.view.ContainerView" : "vim." + type;
  return fmt::format("The object '{}:{}' has already been deleted or has not been completely created", qualified, moref);
}

std::optional<bool> ParseBool(const std::string& text) {
  if (text == "true" || text == "1") return true;
  if (text == "false" || text == "0") return false;
  return std::nullopt;
}

std::optional<int> ParseInt(const std::string& text) {
  int v = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return v;
}

}  // namespace

Server::Server(Model& model, std::string address, int port, ServerOptions options)
    : model_(model), address_(std::move(address)), port_(port), options_(std::move(options)), tasks_(model) {}

Server::~Server() { Stop(); }

void Server::Stop() {
  stopping_ = true;
  model_.WakeWaiters();  // a WaitForUpdatesEx waiting for a change answers now
  gate_.Release();       // a held request must not keep the server from stopping
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
  tasks_.Stop();
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

int Server::LiveFilters() const {
  std::lock_guard lock(mu_);
  int n = 0;
  for (const auto& [_, s] : sessions_) n += static_cast<int>(s.filters.size());
  return n;
}

std::string Server::Start() {
  stopping_ = false;
  auto tls_server = SelfSignedServer(address_, "vcenter-sim", &fingerprint_);
  if (!tls_server) return tls_server.error().message;
  server_ = std::move(*tls_server);
  server_->set_payload_max_length(64 << 20);
  server_->set_tcp_nodelay(true);  // answers in one go, not after the client's delayed ACK
  server_->Post("/sdk", [this](const httplib::Request& req, httplib::Response& res) { Handle(req, res); });
  if (!server_->bind_to_port(address_.c_str(), port_)) return fmt::format("cannot listen on {}:{}", address_, port_);
  tasks_.Start();
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

  // ---- host tasks (no server state: the task engine and the model hold it)
  // A required argument: its text, or nullopt after answering InvalidRequest.
  auto required = [&](const char* name) -> std::optional<std::string> {
    const pugi::xml_node n = Child(call, name);
    if (!n) {
      fault("InvalidRequest", fmt::format("Required parameter {} is missing", name));
      return std::nullopt;
    }
    return std::string(n.text().get());
  };
  auto task_answer = [&](const TaskStart& t) {
    if (!t.ok()) return fault(t.fault, t.message, t.detail);
    answer(fmt::format(R"(<returnval type="Task">{}</returnval>)", t.task));
  };
  if (op == "EnterMaintenanceMode_Task" || op == "ExitMaintenanceMode_Task") {
    const auto timeout_text = required("timeout");
    if (!timeout_text) return;
    const auto timeout = ParseInt(*timeout_text);
    if (!timeout) return fault("InvalidRequest", fmt::format("Invalid value '{}' for parameter timeout", *timeout_text));
    if (op == "ExitMaintenanceMode_Task") return task_answer(tasks_.ExitMaintenance(self, *timeout));
    bool evacuate = false;
    if (const pugi::xml_node e = Child(call, "evacuatePoweredOffVms")) {
      const auto b = ParseBool(e.text().get());
      if (!b) return fault("InvalidRequest", fmt::format("Invalid value '{}' for parameter evacuatePoweredOffVms", e.text().get()));
      evacuate = *b;
    }
    std::string vsan_mode;
    if (const pugi::xml_node mode = Child(Child(call, "maintenanceSpec"), "vsanMode")) {
      vsan_mode = Child(mode, "objectAction").text().get();
      if (vsan_mode != "ensureObjectAccessibility" && vsan_mode != "evacuateAllData" && vsan_mode != "noAction") {
        return fault("InvalidArgument", "A specified parameter was not correct: maintenanceSpec.vsanMode.objectAction",
                     "<invalidProperty>maintenanceSpec.vsanMode.objectAction</invalidProperty>");
      }
    }
    return task_answer(tasks_.EnterMaintenance(self, *timeout, evacuate, vsan_mode));
  }
  if (op == "RebootHost_Task" || op == "ShutdownHost_Task") {
    const auto force_text = required("force");
    if (!force_text) return;
    const auto force = ParseBool(*force_text);
    if (!force) return fault("InvalidRequest", fmt::format("Invalid value '{}' for parameter force", *force_text));
    return task_answer(tasks_.Reboot(self, *force, op == "ShutdownHost_Task"));
  }
  if (op == "StartService" || op == "StopService") {
    const auto id = required("id");
    if (!id) return;
    const auto system = model_.Get(self);
    if (!system || system->type != "HostServiceSystem") {
      return fault("ManagedObjectNotFound", NotFoundMessage("HostServiceSystem", self),
                   fmt::format(R"(<obj type="HostServiceSystem">{}</obj>)", self));
    }
    if (*id != "TSM-SSH" && *id != "TSM") return fault("NotFound", "The object or item referred to could not be found.");
    model_.Edit(self, [&](Object& o) {
      if (*id == "TSM-SSH") std::get<ServiceSystem>(o.body).ssh_running = op == "StartService";
    });
    return answer("");
  }
  if (op == "ReconfigureComputeResource_Task") {
    const auto modify_text = required("modify");
    if (!modify_text) return;
    const auto modify = ParseBool(*modify_text);
    if (!modify) return fault("InvalidRequest", fmt::format("Invalid value '{}' for parameter modify", *modify_text));
    // modify=false replaces the whole configuration (every unset field back to its default):
    // not something this simulator models, nor something dcops sends.
    if (!*modify) return fault("NotSupported", "The operation is not supported on the object.");
    const pugi::xml_node spec = Child(call, "spec");
    if (!spec) return fault("InvalidRequest", "Required parameter spec is missing");
    // The parameter's declared type is ComputeResourceConfigSpec: without xsi:type naming the
    // cluster's subtype, vCenter's deserializer meets dasConfig as an unknown element. And it
    // reads a sequence: elements out of the WSDL's order are refused too.
    std::string type;
    for (const auto& a : spec.attributes()) {
      const std::string name = a.name();
      if (name == "xsi:type" || (name.size() > 5 && name.substr(name.size() - 5) == ":type")) type = a.value();
    }
    if (type.find(':') != std::string::npos) type = type.substr(type.find(':') + 1);
    if (type != "ClusterConfigSpecEx") {
      return fault("InvalidRequest", "Unexpected element in ComputeResourceConfigSpec: expected xsi:type ClusterConfigSpecEx");
    }
    static const std::vector<std::string> order = {"vmSwapPlacement", "spbmEnabled", "defaultHardwareVersionKey",
                                                   "desiredSoftwareSpec", "maximumHardwareVersionKey", "enableConfigurationManagement",
                                                   "systemVMsConfig", "dasConfig", "dasVmConfigSpec", "drsConfig", "drsVmConfigSpec", "rulesSpec",
                                                   "orchestration", "vmOrchestrationSpec", "dpmConfig", "dpmHostConfigSpec",
                                                   "vsanConfig", "vsanHostConfigSpec", "groupSpec", "infraUpdateHaConfig",
                                                   "proactiveDrsConfig", "inHciWorkflow", "cryptoConfig"};
    std::size_t at = 0;
    for (const auto& c : spec.children()) {
      if (c.type() != pugi::node_element) continue;
      std::string name = c.name();
      if (name.find(':') != std::string::npos) name = name.substr(name.find(':') + 1);
      const auto it = std::find(order.begin() + static_cast<std::ptrdiff_t>(at), order.end(), name);
      if (it == order.end()) return fault("InvalidRequest", fmt::format("Unexpected element {} in ClusterConfigSpecEx", name));
      at = static_cast<std::size_t>(it - order.begin());
    }
    TaskEngine::ClusterChange change;
    if (const pugi::xml_node a = Child(Child(spec, "dasConfig"), "admissionControlEnabled")) {
      const auto b = ParseBool(a.text().get());
      if (!b) return fault("InvalidArgument", "A specified parameter was not correct: spec.dasConfig.admissionControlEnabled",
                           "<invalidProperty>spec.dasConfig.admissionControlEnabled</invalidProperty>");
      change.admission_control = *b;
    }
    if (const pugi::xml_node d = Child(Child(spec, "drsConfig"), "defaultVmBehavior")) {
      const std::string behavior = d.text().get();
      if (behavior != "fullyAutomated" && behavior != "partiallyAutomated" && behavior != "manual") {
        return fault("InvalidArgument", "A specified parameter was not correct: spec.drsConfig.defaultVmBehavior",
                     "<invalidProperty>spec.drsConfig.defaultVmBehavior</invalidProperty>");
      }
      change.drs_behavior = behavior;
    }
    return task_answer(tasks_.ReconfigureCluster(self, std::move(change)));
  }
  if (op == "CancelTask") {
    const TaskStart t = tasks_.Cancel(self);
    if (!t.ok()) return fault(t.fault, t.message, t.detail);
    return answer("");
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
  if (op == "CurrentTime") return answer("<returnval>" + FormatDateTime(std::chrono::system_clock::now()) + "</returnval>");
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
    s.sent.erase(self);
    s.introduced.erase(self);
    if (s.filters.erase(self) == 0) return fault("ManagedObjectNotFound", "The object has already been deleted or has not been completely created");
    return answer("");
  }

  // What a PropertyFilterSpec asks: properties per type, of a view of this session and/or of
  // objects themselves. An object that does not exist is ManagedObjectNotFound.
  auto read_spec = [&](const pugi::xml_node& spec, Filter* f) -> bool {
    for (const auto& prop : Children(spec, "propSet")) {
      auto& paths = f->props[Child(prop, "type").text().get()];
      for (const auto& p : Children(prop, "pathSet")) paths.emplace_back(p.text().get());
    }
    for (const auto& set : Children(spec, "objectSet")) {
      const pugi::xml_node obj = Child(set, "obj");
      const std::string moref = obj.text().get();
      const std::string type = obj.attribute("type").value();
      if (auto it = s.views.find(moref); it != s.views.end()) {
        f->view = true;
        f->view_type = it->second;
        f->container = s.view_containers[moref];
        continue;
      }
      const auto o = type == "ContainerView" ? std::nullopt : model_.Get(moref);
      if (!o || (!type.empty() && type != o->type)) {
        fault("ManagedObjectNotFound", NotFoundMessage(type.empty() ? "ManagedObject" : type, moref),
              fmt::format(R"(<obj type="{}">{}</obj>)", type, moref));
        return false;
      }
      if (!ParseBool(Child(set, "skip").text().get()).value_or(false)) f->objects.push_back(moref);
    }
    std::sort(f->objects.begin(), f->objects.end());
    f->objects.erase(std::unique(f->objects.begin(), f->objects.end()), f->objects.end());
    for (const auto& [type, paths] : f->props) {
      for (const auto& p : paths) {
        if (!KnownPath(type, p)) {
          fault("InvalidProperty", fmt::format("Invalid property: {}", p), fmt::format("<name>{}</name>", p));
          return false;
        }
      }
    }
    return true;
  };
  // One page of a read: up to `max` of the pending objects that still exist.
  auto page_of = [&](Pending& p, int max, const std::string& token) {
    std::string objects;
    model_.Read([&](const std::map<std::string, Object>& all, const std::vector<Tombstone>&, std::uint64_t) {
      const Extras extras = ExtrasFor(p.filter, all);
      PathCache paths(p.filter);
      int n = 0;
      while (p.next < p.morefs.size() && n < max) {
        auto it = all.find(p.morefs[p.next++]);
        if (it == all.end()) continue;
        objects += fmt::format(R"(<objects><obj type="{}">{}</obj>)", it->second.type, it->first);
        WriteObject(objects, it->second, paths(it->second.type), false, extras, xsi);
        objects += "</objects>";
        ++n;
      }
    });
    const bool more = p.next < p.morefs.size();
    if (!more && objects.empty()) return std::string();  // nothing at all: no RetrieveResult
    return "<returnval>" + (more ? "<token>" + token + "</token>" : std::string()) + objects + "</returnval>";
  };

  if (op == "RetrievePropertiesEx") {
    Filter f;
    if (!read_spec(Child(call, "specSet"), &f)) return;
    int max = Child(Child(call, "options"), "maxObjects").text().as_int(options_.default_max_objects);
    if (max <= 0) max = options_.default_max_objects;
    Pending p{f, {}, 0, max};
    model_.Read([&](const std::map<std::string, Object>& all, const std::vector<Tombstone>&, std::uint64_t) {
      ForEachMember(f, all, [&](const Object& o) {
        p.morefs.push_back(o.moref);
        return true;
      });
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
    const auto parsed = ParseVersion(version, 0);
    if (!parsed) return fault("InvalidCollectorVersion", "The collector version is not valid.");
    next_page = parsed->continuing;
    if (parsed->continuing && fault_ == Fault::kFaultNextPage) {
      fault_ = Fault::kNone;
      return fault("SystemError", "A general system error occurred: Internal error", "<reason>Internal error</reason>");
    }
    const pugi::xml_node options = Child(call, "options");
    int max = Child(options, "maxObjectUpdates").text().as_int(0);
    if (max <= 0) max = 1 << 30;
    // WaitOptions.maxWaitSeconds: unset waits for a change (here at most a minute), 0 does one
    // calculation, N waits up to N seconds; negative is illegal.
    std::chrono::seconds max_wait(60);
    if (const pugi::xml_node w = Child(options, "maxWaitSeconds")) {
      const auto seconds = ParseInt(w.text().get());
      if (!seconds || *seconds < 0) {
        return fault("InvalidArgument", "A specified parameter was not correct: maxWaitSeconds",
                     "<invalidProperty>maxWaitSeconds</invalidProperty>");
      }
      max_wait = std::chrono::seconds(*seconds);
    }
    const std::map<std::string, Filter> filters = s.filters;
    const std::map<std::string, std::uint64_t> introduced = s.introduced;
    std::map<std::string, const Sent*> before;  // what each filter on objects reported at the version asked from
    std::map<std::string, Sent> sent_then;
    for (const auto& [fid, per_version] : s.sent) {
      if (auto it = per_version.find(parsed->base); it != per_version.end() && parsed->base > 0) sent_then[fid] = it->second;
    }
    for (const auto& [fid, values] : sent_then) before[fid] = &values;
    lock.unlock();  // the wait below must not hold up the session's (or anyone's) other requests
    const auto deadline = std::chrono::steady_clock::now() + max_wait;
    for (;;) {
      Cursor cursor = *parsed;
      std::string sets, resume;
      int n = 0;
      bool any = false;
      std::map<std::string, Sent> sent_now;  // filters on objects: every value as of this answer
      model_.Read([&](const std::map<std::string, Object>& all, const std::vector<Tombstone>& removed, std::uint64_t now) {
        if (!cursor.continuing) cursor.target = now;
        for (const auto& [fid, f] : filters) {
          const Extras extras = ExtrasFor(f, all);
          PathCache paths(f);
          if (!f.view) {
            Sent& values = sent_now[fid];
            ForEachMember(f, all, [&](const Object& o) {
              for (const auto& p : paths(o.type)) values[o.moref][p] = ValueOf(o, p, extras, xsi);
              return true;
            });
          }
          if (cursor.continuing && fid < cursor.filter) continue;
          auto was = before.find(fid);
          const Sent* prev = f.view || was == before.end() ? nullptr : was->second;
          std::string objects;
          auto past_cursor = [&](int section, const std::string& moref) {
            if (!cursor.continuing || fid != cursor.filter) return true;
            return section > cursor.section || (section == cursor.section && moref > cursor.moref);
          };
          // A filter the client has not had whole by that version: all of it enters.
          auto intro = introduced.find(fid);
          const bool new_filter = intro == introduced.end() || cursor.base < intro->second;
          ForEachMember(f, all, [&](const Object& o) {
            const bool enter = cursor.base == 0 || new_filter || o.created > cursor.base;
            if ((!enter && o.changed <= cursor.base) || !past_cursor(0, o.moref)) return true;
            // A filter on objects themselves reports only the properties that changed since
            // what it last sent; a view's filter every asked property of a changed object.
            std::string changes;
            auto had_object = prev == nullptr ? Sent::const_iterator() : prev->find(o.moref);
            if (!enter && prev != nullptr && had_object != prev->end()) {
              for (const auto& [path, val] : sent_now[fid][o.moref]) {
                auto had = had_object->second.find(path);
                if (had == had_object->second.end() || had->second != val) changes += ChangeSet(path, val);
              }
              if (changes.empty()) return true;  // nothing this filter asks changed
            } else {
              WriteObject(changes, o, paths(o.type), true, extras, xsi);
            }
            if (n == max) {
              resume = "more";
              return false;
            }
            objects += fmt::format(R"(<objectSet><kind>{}</kind><obj type="{}">{}</obj>)", enter ? "enter" : "modify", o.type, o.moref);
            objects += changes;
            objects += "</objectSet>";
            cursor.filter = fid;
            cursor.section = 0;
            cursor.moref = o.moref;
            ++n;
            return true;
          });
          if (cursor.base > 0 && resume.empty()) {
            std::vector<const Tombstone*> gone;
            for (const auto& t : removed) {
              if (t.removed > cursor.base && t.created <= cursor.base && HoldsGone(f, t)) gone.push_back(&t);
            }
            std::sort(gone.begin(), gone.end(), [](const Tombstone* a, const Tombstone* b) { return a->moref < b->moref; });
            for (const Tombstone* t : gone) {
              if (!past_cursor(1, t->moref)) continue;
              if (n == max) {
                resume = "more";
                break;
              }
              objects += fmt::format(R"(<objectSet><kind>leave</kind><obj type="{}">{}</obj></objectSet>)", t->type, t->moref);
              cursor.filter = fid;
              cursor.section = 1;
              cursor.moref = t->moref;
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
      const bool nothing = !any && resume.empty();
      const auto now = std::chrono::steady_clock::now();
      if (nothing && !cursor.continuing && max_wait.count() > 0) {
        if (stopping_ || now >= deadline) return answer("");  // the wait ended with no change: no UpdateSet
        model_.WaitForChange(cursor.target, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now) + std::chrono::milliseconds(1),
                             &stopping_);
        continue;
      }
      const std::string next = resume.empty() ? std::to_string(cursor.target)
                                              : fmt::format("{}.{}.{}.{}.{}", cursor.base, cursor.target, cursor.filter,
                                                            cursor.section, cursor.moref);
      {
        std::lock_guard again(mu_);
        if (auto it = sessions_.find(key); it != sessions_.end()) {
          it->second.versions.insert(next);
          // What the filters on objects now hold, for the next update's differences (none after
          // a truncated set: the next one reports every asked property again).
          for (const auto& [fid, _] : filters) {
            if (resume.empty() && it->second.filters.count(fid) != 0) it->second.introduced.emplace(fid, cursor.target);
          }
          for (auto& [fid, values] : sent_now) {
            if (!resume.empty() || it->second.filters.count(fid) == 0) continue;
            auto& per_version = it->second.sent[fid];
            per_version[cursor.target] = std::move(values);
            while (per_version.size() > 4) per_version.erase(per_version.begin());
          }
        }
      }
      if (nothing && std::to_string(cursor.target) == version) return answer("");  // nothing new
      return answer(fmt::format("<returnval><version>{}</version>{}{}</returnval>", next, sets,
                                resume.empty() ? "" : "<truncated>true</truncated>"));
    }
  }
  fault("NotSupported", fmt::format("The operation {} is not supported by this simulator.", op));
}

}  // namespace dcops::sim::vcenter
