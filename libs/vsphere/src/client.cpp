#include "dcops/vsphere/client.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace dcops::vsphere {
namespace {

// Reads of these operations change nothing: the HTTP client may repeat them.
bool ReadOnly(const std::string& operation) {
  return operation == "RetrieveServiceContent" || operation == "RetrievePropertiesEx" ||
         operation == "ContinueRetrievePropertiesEx" || operation == "WaitForUpdatesEx" || operation == "CurrentTime";
}

MoRef ReadRef(const pugi::xml_node& node) { return {node.attribute("type").value(), node.text().get()}; }

// "vmware_soap_session=\"52…\"" from a Set-Cookie header.
std::string SessionCookie(const std::string& set_cookie) {
  const auto end = set_cookie.find(';');
  return set_cookie.substr(0, end);
}

}  // namespace

Client::Client(http::Client& http, Endpoint endpoint) : http_(http), endpoint_(std::move(endpoint)) {}

Result<Response> Client::Send(const std::string& operation, const MoRef& self, const std::string& body,
                              std::optional<std::chrono::milliseconds> timeout) {
  http::Request req;
  req.method = http::Method::kPost;
  req.url = endpoint_.base_url + "/sdk";
  req.headers = {{"Content-Type", "text/xml; charset=utf-8"},
                 {"SOAPAction", content_.api_version.empty() ? "urn:vim25" : "urn:vim25/" + content_.api_version}};
  if (!cookie_.empty()) req.headers.emplace_back("Cookie", cookie_);
  req.body = RequestEnvelope(operation, self, body);
  req.tls = endpoint_.tls;
  req.idempotent = ReadOnly(operation);
  req.timeout = timeout;
  auto r = http_.Execute(req);
  if (!r) return r.error();
  auto parsed = Response::Parse(operation, r->status, r->body);
  if (parsed && operation == "Login") {
    const std::string cookie = SessionCookie(r->Header("Set-Cookie"));
    if (cookie.empty()) return MakeError("vsphere.schema", "Login: no session cookie in the answer");
    cookie_ = cookie;
  }
  return parsed;
}

Result<Response> Client::Call(const std::string& operation, const MoRef& self, const std::string& body,
                              bool may_relogin) {
  auto r = Send(operation, self, body);
  if (!r && r.error().code == "vsphere.not_authenticated" && may_relogin && !cookie_.empty()) {
    cookie_.clear();
    if (auto st = Login(); !st) return st.error();
    r = Send(operation, self, body);
  }
  return r;
}

Status Client::Login() {
  auto sc = Send("RetrieveServiceContent", {"ServiceInstance", "ServiceInstance"}, "");
  if (!sc) return sc.error();
  const pugi::xml_node v = Child(sc->element(), "returnval");
  content_.root_folder = ReadRef(Child(v, "rootFolder"));
  content_.property_collector = ReadRef(Child(v, "propertyCollector"));
  content_.view_manager = ReadRef(Child(v, "viewManager"));
  content_.session_manager = ReadRef(Child(v, "sessionManager"));
  content_.api_version = Child(Child(v, "about"), "apiVersion").text().get();
  content_.instance_uuid = Child(Child(v, "about"), "instanceUuid").text().get();
  for (const auto* ref : {&content_.root_folder, &content_.property_collector, &content_.view_manager, &content_.session_manager}) {
    if (ref->empty()) return MakeError("vsphere.schema", "RetrieveServiceContent: the ServiceContent lacks a manager this client needs");
  }
  auto login = Send("Login", content_.session_manager,
                    "<userName>" + XmlEscape(endpoint_.username) + "</userName><password>" +
                        XmlEscape(endpoint_.password) + "</password>");
  if (!login) return login.error();
  return Status();
}

Status Client::KeepAlive() {
  auto r = Call("CurrentTime", {"ServiceInstance", "ServiceInstance"}, "", false);
  if (!r) return r.error();
  return Status();
}

void Client::Logout() {
  if (cookie_.empty()) return;
  (void)Send("Logout", content_.session_manager, "");
  cookie_.clear();
}

Result<MoRef> Client::CreateView(const std::string& type, const MoRef& container) {
  auto view = Call("CreateContainerView", content_.view_manager,
                   MoRefXml("container", container.empty() ? content_.root_folder : container) + "<type>" + XmlEscape(type) +
                       "</type><recursive>true</recursive>");
  if (!view) return view.error();
  const MoRef ref = ReadRef(Child(view->element(), "returnval"));
  if (ref.empty()) return MakeError("vsphere.schema", "CreateContainerView: no view in the answer");
  return ref;
}

// A PropertyFilterSpec's content: `properties` of every `type` object the view holds.
std::string Client::PropertySpec(const std::string& type, const std::vector<std::string>& properties, const MoRef& view) {
  std::string props;
  for (const auto& p : properties) props += "<pathSet>" + XmlEscape(p) + "</pathSet>";
  return "<propSet><type>" + XmlEscape(type) + "</type>" + props + "</propSet>" + "<objectSet>" + MoRefXml("obj", view) +
         R"(<skip>true</skip><selectSet xsi:type="TraversalSpec"><name>view</name><type>ContainerView</type>)"
         "<path>view</path><skip>false</skip></selectSet></objectSet>";
}

Result<MoRef> Client::CreateFilter(const std::string& type, const std::vector<std::string>& properties) {
  auto view = CreateView(type);
  if (!view) return view.error();
  auto filter = Call("CreateFilter", content_.property_collector,
                     "<spec>" + PropertySpec(type, properties, *view) + "</spec><partialUpdates>false</partialUpdates>", false);
  if (!filter) return filter.error();
  const MoRef ref = ReadRef(Child(filter->element(), "returnval"));
  if (ref.empty()) return MakeError("vsphere.schema", "CreateFilter: no filter in the answer");
  return ref;
}

Result<std::optional<UpdateSet>> Client::WaitForUpdates(const std::string& version, int max_wait_seconds,
                                                         int max_object_updates) {
  // The server holds the answer up to maxWaitSeconds: the request may take that long.
  auto r = Send("WaitForUpdatesEx", content_.property_collector,
                "<version>" + XmlEscape(version) + "</version>" +
                    fmt::format("<options><maxWaitSeconds>{}</maxWaitSeconds><maxObjectUpdates>{}</maxObjectUpdates></options>",
                                max_wait_seconds, max_object_updates),
                http_.options().timeout + std::chrono::seconds(std::max(max_wait_seconds, 0)));
  if (!r) return r.error();
  return ReadUpdateSet(*r);
}

namespace {
// A PropertyFilterSpec's content for one object itself.
std::string ObjectSpec(const MoRef& object, const std::vector<std::string>& properties) {
  std::string props;
  for (const auto& p : properties) props += "<pathSet>" + XmlEscape(p) + "</pathSet>";
  return "<propSet><type>" + XmlEscape(object.type) + "</type>" + props + "</propSet><objectSet>" + MoRefXml("obj", object) +
         "<skip>false</skip></objectSet>";
}
}  // namespace

Result<RetrieveResult> Client::ReadObject(const MoRef& object, const std::vector<std::string>& properties) {
  auto r = Call("RetrievePropertiesEx", content_.property_collector,
                "<specSet>" + ObjectSpec(object, properties) + "</specSet><options/>");
  if (!r) return r.error();
  auto result = ReadRetrieveResult(*r);
  if (result && result->objects.empty()) {
    return MakeError("vsphere.managed_object_not_found", fmt::format("RetrievePropertiesEx: vCenter has no {} {}", object.type, object.value));
  }
  return result;
}

Status Client::ReadObjects(const std::string& type, const std::vector<std::string>& morefs,
                           const std::vector<std::string>& properties, int page_size,
                           const std::function<Status(const RetrieveResult&)>& page) {
  if (morefs.empty()) return Status();
  std::string props, objects;
  for (const auto& p : properties) props += "<pathSet>" + XmlEscape(p) + "</pathSet>";
  for (const auto& m : morefs) objects += "<objectSet>" + MoRefXml("obj", {type, m}) + "<skip>false</skip></objectSet>";
  return ReadPages("<specSet><propSet><type>" + XmlEscape(type) + "</type>" + props + "</propSet>" + objects + "</specSet>" +
                       fmt::format("<options><maxObjects>{}</maxObjects></options>", page_size),
                   page);
}

Result<MoRef> Client::WatchObject(const MoRef& object, const std::vector<std::string>& properties) {
  auto filter = Call("CreateFilter", content_.property_collector,
                     "<spec>" + ObjectSpec(object, properties) + "</spec><partialUpdates>false</partialUpdates>", false);
  if (!filter) return filter.error();
  const MoRef ref = ReadRef(Child(filter->element(), "returnval"));
  if (ref.empty()) return MakeError("vsphere.schema", "CreateFilter: no filter in the answer");
  return ref;
}

Status Client::DestroyFilter(const MoRef& filter) {
  auto r = Call("DestroyPropertyFilter", filter, "", false);
  if (!r) return r.error();
  return Status();
}

Result<MoRef> Client::StartTask(const std::string& operation, const MoRef& self, const std::string& body) {
  auto r = Call(operation, self, body);
  if (!r) return r.error();
  const MoRef task = ReadRef(Child(r->element(), "returnval"));
  if (task.empty()) return MakeError("vsphere.schema", operation + ": no task in the answer");
  return task;
}

Status Client::CancelTask(const MoRef& task) {
  auto r = Call("CancelTask", task, "");
  if (!r) return r.error();
  return Status();
}

Result<TaskInfo> Client::ReadTask(const MoRef& task) {
  auto r = Call("RetrievePropertiesEx", content_.property_collector,
                "<specSet><propSet><type>Task</type><pathSet>info</pathSet></propSet><objectSet>" + MoRefXml("obj", task) +
                    "</objectSet></specSet><options/>");
  if (!r) return r.error();
  auto result = ReadRetrieveResult(*r);
  if (!result) return result.error();
  if (result->objects.empty() || !result->objects[0].props.count("info")) {
    return MakeError("vsphere.managed_object_not_found", "RetrievePropertiesEx: task " + task.value + " has no info");
  }
  return ReadTaskInfo(result->objects[0].props.at("info"));
}

Status Client::ReadPages(const std::string& spec, const std::function<Status(const RetrieveResult&)>& page) {
  // Inside the read no re-login: the token would belong to the session that expired.
  auto first = Call("RetrievePropertiesEx", content_.property_collector, spec, false);
  if (!first) return first.error();
  auto result = ReadRetrieveResult(*first);
  while (true) {
    if (!result) return result.error();
    if (auto st = page(*result); !st) return st;
    if (result->token.empty()) return Status();
    auto next = Call("ContinueRetrievePropertiesEx", content_.property_collector,
                     "<token>" + XmlEscape(result->token) + "</token>", false);
    if (!next) return next.error();
    result = ReadRetrieveResult(*next);
  }
}

Status Client::ReadAll(const std::string& type, const std::vector<std::string>& properties, int page_size,
                       const std::function<Status(const RetrieveResult&)>& page, const MoRef& container) {
  auto view = CreateView(type, container);
  if (!view) return view.error();
  const MoRef view_ref = *view;
  const std::string spec = "<specSet>" + PropertySpec(type, properties, view_ref) + "</specSet>" +
                           fmt::format("<options><maxObjects>{}</maxObjects></options>", page_size);

  Status outcome = ReadPages(spec, page);
  auto destroyed = Call("DestroyView", view_ref, "", false);
  if (!outcome) return outcome;
  if (!destroyed && destroyed.error().code != "vsphere.managed_object_not_found") return destroyed.error();
  return Status();
}

}  // namespace dcops::vsphere
