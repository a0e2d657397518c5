#include "dcops/vsphere/soap.hpp"

#include <fmt/format.h>

#include <cctype>

#include <cstring>
#include <set>

namespace dcops::vsphere {
namespace {

std::string Prefix(const char* qualified) {
  const char* colon = std::strchr(qualified, ':');
  return colon == nullptr ? "" : std::string(qualified, static_cast<std::size_t>(colon - qualified));
}

// The URI `prefix` is bound to at `node` ("" prefix: the default namespace).
std::string Resolve(pugi::xml_node node, const std::string& prefix) {
  const std::string attr = prefix.empty() ? "xmlns" : "xmlns:" + prefix;
  for (; node; node = node.parent()) {
    if (auto a = node.attribute(attr.c_str())) return a.value();
  }
  return "";
}

// vim25 fault types this client tells apart; the rest is vsphere.fault.
const std::map<std::string, std::string>& FaultCodes() {
  static const std::map<std::string, std::string> codes{
      {"InvalidLogin", "vsphere.invalid_login"},
      {"NotAuthenticated", "vsphere.not_authenticated"},
      {"ManagedObjectNotFound", "vsphere.managed_object_not_found"},
      {"InvalidProperty", "vsphere.invalid_property"},
      {"InvalidArgument", "vsphere.invalid_argument"},
      {"RequestCanceled", "vsphere.request_canceled"},
      {"InvalidCollectorVersion", "vsphere.invalid_collector_version"},
  };
  return codes;
}

}  // namespace

std::string XmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string MoRefXml(const char* element, const MoRef& ref) {
  return fmt::format(R"(<{0} type="{1}">{2}</{0}>)", element, XmlEscape(ref.type), XmlEscape(ref.value));
}

std::string RequestEnvelope(const std::string& operation, const MoRef& self, const std::string& body) {
  return fmt::format(
      R"(<?xml version="1.0" encoding="UTF-8"?>)"
      R"(<soapenv:Envelope xmlns:soapenv="{}" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="{}">)"
      R"(<soapenv:Body><{} xmlns="{}">{}{}</{}></soapenv:Body></soapenv:Envelope>)",
      kSoapEnvelope, kXsi, operation, kVim25, MoRefXml("_this", self), body, operation);
}

std::string LocalName(const pugi::xml_node& node) {
  const char* name = node.name();
  const char* colon = std::strchr(name, ':');
  return colon == nullptr ? name : colon + 1;
}

std::string NamespaceOf(const pugi::xml_node& node) { return Resolve(node, Prefix(node.name())); }

std::optional<std::string> XsiType(const pugi::xml_node& node) {
  for (auto a : node.attributes()) {
    const std::string name = a.name();
    const std::string prefix = Prefix(a.name());
    if (prefix.empty() || name.substr(prefix.size() + 1) != "type") continue;
    if (Resolve(node, prefix) != kXsi) continue;
    const std::string value = a.value();
    const auto colon = value.find(':');
    return colon == std::string::npos ? value : value.substr(colon + 1);
  }
  return std::nullopt;
}

pugi::xml_node Child(const pugi::xml_node& node, const char* local_name) {
  for (auto c : node.children()) {
    if (c.type() == pugi::node_element && LocalName(c) == local_name) return c;
  }
  return {};
}

std::string TrimmedText(const pugi::xml_node& node) {
  const std::string s = node.text().get();
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

std::vector<pugi::xml_node> Children(const pugi::xml_node& node, const char* local_name) {
  std::vector<pugi::xml_node> out;
  for (auto c : node.children()) {
    if (c.type() == pugi::node_element && LocalName(c) == local_name) out.push_back(c);
  }
  return out;
}

namespace {

// vim25 answers nest a few dozen elements at most (property values of nested data objects).
constexpr int kMaxXmlDepth = 256;

// True when no element of `doc` lies deeper than `max_depth`, found without recursion.
bool DepthWithin(const pugi::xml_document& doc, int max_depth) {
  int depth = 0;
  pugi::xml_node node = doc.first_child();
  while (node) {
    if (node.first_child()) {
      node = node.first_child();
      if (++depth > max_depth) return false;
      continue;
    }
    while (node && !node.next_sibling()) {
      node = node.parent();
      --depth;
    }
    if (node) node = node.next_sibling();
  }
  return true;
}

}  // namespace

Result<Response> Response::Parse(const std::string& operation, int status, const std::string& body) {
  auto doc = std::make_shared<pugi::xml_document>();
  const auto parsed = doc->load_buffer(body.data(), body.size());
  auto schema = [&](const std::string& problem) {
    return MakeError("vsphere.schema", fmt::format("{}: {} (HTTP {})", operation, problem, status));
  };
  if (!parsed) return schema(fmt::format("the answer is not XML ({} at byte {})", parsed.description(), parsed.offset));
  if (!DepthWithin(*doc, kMaxXmlDepth)) return schema(fmt::format("the answer nests deeper than {} elements", kMaxXmlDepth));
  const pugi::xml_node envelope = doc->document_element();
  if (LocalName(envelope) != "Envelope" || NamespaceOf(envelope) != kSoapEnvelope) return schema("the answer is not a SOAP envelope");
  const pugi::xml_node soap_body = Child(envelope, "Body");
  if (!soap_body || NamespaceOf(soap_body) != kSoapEnvelope) return schema("the SOAP envelope has no Body");
  if (const pugi::xml_node fault = Child(soap_body, "Fault")) {
    const std::string message = Child(fault, "faultstring").text().get();
    std::string type;
    if (const pugi::xml_node detail = Child(fault, "detail")) {
      for (auto d : detail.children()) {
        if (d.type() != pugi::node_element) continue;
        type = XsiType(d).value_or(LocalName(d));
        if (type.size() > 5 && type.compare(type.size() - 5, 5, "Fault") == 0) type.resize(type.size() - 5);
        break;
      }
    }
    const auto code = FaultCodes().find(type);
    // Faults of a server that is busy or briefly unable to answer; the rest will not change.
    static const std::set<std::string> kTransient{"SystemError", "HostCommunication", "TaskInProgress",
                                                  "InvalidState", "NotAuthenticated"};
    return MakeError(code == FaultCodes().end() ? "vsphere.fault" : code->second,
                     fmt::format("{}: {}{}", operation, type.empty() ? "" : type + ": ", message),
                     kTransient.count(type) > 0);
  }
  const std::string expected = operation + "Response";
  const pugi::xml_node element = Child(soap_body, expected.c_str());
  if (!element) return schema("the Body holds no " + expected);
  if (status != 200) return schema("a response with a failure status");
  Response r;
  r.doc_ = std::move(doc);
  r.element_ = element;
  return r;
}

Result<RetrieveResult> ReadRetrieveResult(const Response& response) {
  RetrieveResult out;
  out.document = response.document();
  const pugi::xml_node result = Child(response.element(), "returnval");
  if (!result) return out;
  out.token = Child(result, "token").text().get();
  for (const auto& object : Children(result, "objects")) {
    ObjectContent c;
    const pugi::xml_node obj = Child(object, "obj");
    c.obj = {obj.attribute("type").value(), obj.text().get()};
    if (c.obj.empty() || c.obj.type.empty()) {
      return MakeError("vsphere.schema", "RetrieveResult: an ObjectContent without its obj");
    }
    for (const auto& prop : Children(object, "propSet")) {
      const std::string name = Child(prop, "name").text().get();
      if (name.empty()) return MakeError("vsphere.schema", fmt::format("RetrieveResult: {} has a property without a name", c.obj.value));
      c.props[name] = Child(prop, "val");
    }
    for (const auto& missing : Children(object, "missingSet")) {
      c.missing.push_back(Child(missing, "path").text().get());
    }
    out.objects.push_back(std::move(c));
  }
  return out;
}

Result<std::optional<UpdateSet>> ReadUpdateSet(const Response& response) {
  const pugi::xml_node set = Child(response.element(), "returnval");
  if (!set) return std::optional<UpdateSet>();
  UpdateSet out;
  out.document = response.document();
  out.version = Child(set, "version").text().get();
  if (out.version.empty()) return MakeError("vsphere.schema", "WaitForUpdatesEx: an UpdateSet without its version");
  out.truncated = std::string(Child(set, "truncated").text().get()) == "true";
  for (const auto& filter : Children(set, "filterSet")) {
    for (const auto& object : Children(filter, "objectSet")) {
      ObjectUpdate u;
      u.kind = Child(object, "kind").text().get();
      const pugi::xml_node obj = Child(object, "obj");
      u.obj = {obj.attribute("type").value(), obj.text().get()};
      if (u.obj.empty() || (u.kind != "enter" && u.kind != "modify" && u.kind != "leave")) {
        return MakeError("vsphere.schema", "WaitForUpdatesEx: an ObjectUpdate without its obj or kind");
      }
      for (const auto& change : Children(object, "changeSet")) {
        u.changes.push_back({Child(change, "name").text().get(), Child(change, "op").text().get(), Child(change, "val")});
      }
      out.objects.push_back(std::move(u));
    }
  }
  return std::optional<UpdateSet>(std::move(out));
}

Result<TaskInfo> ReadTaskInfo(const pugi::xml_node& info) {
  TaskInfo t;
  t.state = Child(info, "state").text().get();
  if (t.state != "queued" && t.state != "running" && t.state != "success" && t.state != "error") {
    return MakeError("vsphere.schema", fmt::format("TaskInfo: state '{}' is not queued, running, success or error", t.state));
  }
  t.progress = Child(info, "progress").text().as_int(t.state == "success" ? 100 : 0);
  t.description_id = Child(info, "descriptionId").text().get();
  if (const pugi::xml_node error = Child(info, "error")) {
    t.error = TrimmedText(Child(error, "localizedMessage"));
    t.fault = XsiType(Child(error, "fault")).value_or("");
  }
  t.cancelled = TrimmedText(Child(info, "cancelled")) == "true";
  if (t.state == "error" && t.fault.empty() && t.error.empty()) {
    return MakeError("vsphere.schema", "TaskInfo: a task in error without its fault");
  }
  return t;
}

Error TaskError(const TaskInfo& info, const std::string& what) {
  std::string snake;
  for (char c : info.fault.empty() ? std::string("fault") : info.fault) {
    if (std::isupper(static_cast<unsigned char>(c))) {
      if (!snake.empty()) snake += '_';
      snake += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (std::isalnum(static_cast<unsigned char>(c))) {
      snake += c;
    }
  }
  const std::string message = info.error.empty() ? "no message" : info.error;
  return MakeError("vsphere.task." + snake,
                   info.fault.empty() ? fmt::format("{}: {}", what, message) : fmt::format("{}: {} ({})", what, message, info.fault));
}

}  // namespace dcops::vsphere
