#pragma once
// vim25 SOAP messages without a network: request envelopes, and responses read without
// trusting them.
//
// Namespace-aware throughout: vCenter binds namespaces to whatever prefixes it likes (the
// XML Schema instance namespace is "xsi" most of the time, not always), so elements are
// matched by local name and namespace URI, and xsi:type by the namespace its prefix is bound
// to. A SOAP fault (HTTP 500) becomes a typed Error:
//   vsphere.invalid_login, vsphere.not_authenticated, vsphere.managed_object_not_found,
//   vsphere.invalid_property, vsphere.invalid_argument, vsphere.request_canceled,
//   vsphere.invalid_collector_version (an incremental read's version the server no longer
//   knows: read everything again),
//   vsphere.fault (any other), all naming the operation and the fault's message.
// Anything that is not a SOAP envelope (an HTML error page, a truncated body) is
// vsphere.schema naming the operation.
//
// Thread-safety: values; a Response shares its parsed document read-only.
#include <pugixml.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dcops/common/result.hpp"

namespace dcops::vsphere {

inline constexpr const char* kVim25 = "urn:vim25";
inline constexpr const char* kSoapEnvelope = "http://schemas.xmlsoap.org/soap/envelope/";
inline constexpr const char* kXsi = "http://www.w3.org/2001/XMLSchema-instance";

// Text escaped for XML element content and attribute values.
std::string XmlEscape(const std::string& text);

// A managed object reference: <_this type="PropertyCollector">propertyCollector</_this>.
struct MoRef {
  std::string type;
  std::string value;
  bool empty() const { return value.empty(); }
};
std::string MoRefXml(const char* element, const MoRef& ref);

// The whole request for `operation` on `self`, `body` being the operation's other arguments
// as XML already escaped.
std::string RequestEnvelope(const std::string& operation, const MoRef& self, const std::string& body);

// The element's local name ("returnval" for "vim25:returnval").
std::string LocalName(const pugi::xml_node& node);
// The namespace URI the element's prefix (or the default namespace) is bound to.
std::string NamespaceOf(const pugi::xml_node& node);
// The local part of xsi:type when the attribute's prefix is bound to the XML Schema instance
// namespace ("ArrayOfString" for xsi:type="ArrayOfString" or x:type="vim25:ArrayOfString").
std::optional<std::string> XsiType(const pugi::xml_node& node);
// The first child with this local name (any namespace), or an empty node.
pugi::xml_node Child(const pugi::xml_node& node, const char* local_name);
std::vector<pugi::xml_node> Children(const pugi::xml_node& node, const char* local_name);
// An element's text without the whitespace around it ("" for an empty or absent node).
std::string TrimmedText(const pugi::xml_node& node);

// An operation's answer: the <OperationResponse> element inside the SOAP Body.
class Response {
 public:
  // `status` is the HTTP status: 200 with a response, 500 with a fault.
  static Result<Response> Parse(const std::string& operation, int status, const std::string& body);
  pugi::xml_node element() const { return element_; }
  // The <returnval> children (an operation may return several).
  std::vector<pugi::xml_node> ReturnValues() const { return Children(element_, "returnval"); }
  // The parsed document the nodes live in (keep it while using them).
  std::shared_ptr<const pugi::xml_document> document() const { return doc_; }

 private:
  std::shared_ptr<pugi::xml_document> doc_;
  pugi::xml_node element_;
};

// ObjectContent from the PropertyCollector: an object and the properties asked for.
struct ObjectContent {
  MoRef obj;
  std::map<std::string, pugi::xml_node> props;  // name → <val>, which carries its xsi:type
  std::vector<std::string> missing;             // properties the server could not read
};

// A RetrieveResult (<returnval> of RetrievePropertiesEx / ContinueRetrievePropertiesEx):
// its objects and the token of the next page ("" on the last page). A returnval-less
// response (no objects at all) is an empty last page.
struct RetrieveResult {
  std::vector<ObjectContent> objects;
  std::string token;
  std::shared_ptr<const pugi::xml_document> document;  // what the objects' nodes point into
};
Result<RetrieveResult> ReadRetrieveResult(const Response& response);

// WaitForUpdatesEx's UpdateSet: what changed since `version`, per object.
struct PropertyChange {
  std::string name;
  std::string op;  // add, remove, assign, indirectRemove
  pugi::xml_node val;
};
struct ObjectUpdate {
  std::string kind;  // enter, modify, leave
  MoRef obj;
  std::vector<PropertyChange> changes;
};
struct UpdateSet {
  std::string version;  // to pass to the next WaitForUpdatesEx
  bool truncated = false;  // more changes follow: call again at once
  std::vector<ObjectUpdate> objects;
  std::shared_ptr<const pugi::xml_document> document;
};
// nullopt when the wait ended with no change (the server answers no returnval).
Result<std::optional<UpdateSet>> ReadUpdateSet(const Response& response);

// A Task's info (read with RetrievePropertiesEx, property "info").
struct TaskInfo {
  std::string state;  // queued, running, success, error
  int progress = 0;
  std::string error;  // localizedMessage of info.error, when state is error
  std::string fault;  // the xsi:type of info.error.fault ("Timedout", "RequestCanceled"), when state is error
  bool cancelled = false;
  std::string description_id;
  bool finished() const { return state == "success" || state == "error"; }
};
Result<TaskInfo> ReadTaskInfo(const pugi::xml_node& info);
// A task that ended in error as a typed Error: "vsphere.task.<fault in snake case>"
// (vsphere.task.timedout, vsphere.task.request_canceled, vsphere.task.invalid_state, …), its
// message naming `what` and vCenter's own message. Not retryable: the caller decides.
Error TaskError(const TaskInfo& info, const std::string& what);

}  // namespace dcops::vsphere
