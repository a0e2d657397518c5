// vim25 SOAP messages against responses in the shapes vCenter sends (fixtures the project
// owns): namespaces bound to any prefix, faults, pages of PropertyCollector results.
#include "dcops/vsphere/soap.hpp"

#include <catch2/catch.hpp>

namespace dcops::vsphere {
namespace {

std::string Envelope(const std::string& body, const std::string& extra_ns = "") {
  return R"(<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" )"
         R"(xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" )" +
         extra_ns + "><soapenv:Body>" + body + "</soapenv:Body></soapenv:Envelope>";
}

TEST_CASE("A request envelope names the operation and its object, and escapes what it carries", "[vsphere]") {
  const std::string xml = RequestEnvelope("Login", {"SessionManager", "SessionManager"},
                                          "<userName>" + XmlEscape("admin@vsphere.local") + "</userName><password>" +
                                              XmlEscape("p<&>'\"w") + "</password>");
  pugi::xml_document doc;
  REQUIRE(doc.load_string(xml.c_str()));
  const auto login = Child(Child(doc.document_element(), "Body"), "Login");
  REQUIRE(login);
  CHECK(NamespaceOf(login) == kVim25);
  CHECK(std::string(Child(login, "_this").attribute("type").value()) == "SessionManager");
  CHECK(std::string(Child(login, "password").text().get()) == "p<&>'\"w");
}

TEST_CASE("xsi:type is found whatever prefix the schema-instance namespace has", "[vsphere]") {
  pugi::xml_document doc;
  REQUIRE(doc.load_string(R"(<r xmlns:q1="http://www.w3.org/2001/XMLSchema-instance" xmlns:t="urn:other">)"
                          R"(<val q1:type="ArrayOfString"/><val t:type="NotXsi"/><val xsi:type="Bad"/></r>)"));
  const auto vals = Children(doc.document_element(), "val");
  REQUIRE(vals.size() == 3);
  CHECK(XsiType(vals[0]) == "ArrayOfString");
  CHECK_FALSE(XsiType(vals[1]));  // "type" in another namespace
  CHECK_FALSE(XsiType(vals[2]));  // an unbound prefix is not the schema-instance namespace
}

TEST_CASE("An answer nested deeper than vim25 ever nests is refused", "[vsphere][attack]") {
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "<a>";
  for (int i = 0; i < 100000; ++i) deep += "</a>";
  auto r = Response::Parse("RetrievePropertiesEx", 200, Envelope(deep));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message == "RetrievePropertiesEx: the answer nests deeper than 256 elements (HTTP 200)");
  // As deep as a real answer is fine.
  std::string fine = R"(<RetrievePropertiesExResponse xmlns="urn:vim25">)";
  for (int i = 0; i < 40; ++i) fine += "<a>";
  for (int i = 0; i < 40; ++i) fine += "</a>";
  CHECK(Response::Parse("RetrievePropertiesEx", 200, Envelope(fine + "</RetrievePropertiesExResponse>")).ok());
}

TEST_CASE("Faults become typed errors naming the operation and the fault's message", "[vsphere]") {
  auto login = Response::Parse("Login", 500, Envelope(
      R"(<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>Cannot complete login due to an incorrect user name or password.</faultstring>)"
      R"(<detail><InvalidLoginFault xmlns="urn:vim25" xsi:type="InvalidLogin"></InvalidLoginFault></detail></soapenv:Fault>)"));
  REQUIRE_FALSE(login.ok());
  CHECK(login.error().code == "vsphere.invalid_login");
  CHECK(login.error().message == "Login: InvalidLogin: Cannot complete login due to an incorrect user name or password.");
  CHECK_FALSE(login.error().retryable);

  auto expired = Response::Parse("RetrievePropertiesEx", 500, Envelope(
      R"(<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>The session is not authenticated.</faultstring>)"
      R"(<detail><NotAuthenticatedFault xmlns="urn:vim25" xmlns:x="http://www.w3.org/2001/XMLSchema-instance" x:type="NotAuthenticated">)"
      R"(<object type="Folder">group-d1</object><privilegeId>System.View</privilegeId></NotAuthenticatedFault></detail></soapenv:Fault>)"));
  CHECK(expired.error().code == "vsphere.not_authenticated");
  CHECK(expired.error().retryable);

  auto gone = Response::Parse("DestroyView", 500, Envelope(
      R"(<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>The object 'vim.view.ContainerView:session[52]52' has already been deleted or has not been completely created</faultstring>)"
      R"(<detail><ManagedObjectNotFoundFault xmlns="urn:vim25" xsi:type="ManagedObjectNotFound"><obj type="ContainerView">session[52]52</obj></ManagedObjectNotFoundFault></detail></soapenv:Fault>)"));
  CHECK(gone.error().code == "vsphere.managed_object_not_found");

  auto other = Response::Parse("CreateContainerView", 500, Envelope(
      R"(<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>A general system error occurred: vpxd is busy</faultstring>)"
      R"(<detail><SystemErrorFault xmlns="urn:vim25" xsi:type="SystemError"><reason>busy</reason></SystemErrorFault></detail></soapenv:Fault>)"));
  CHECK(other.error().code == "vsphere.fault");
  CHECK(other.error().retryable);
}

TEST_CASE("Answers that are not SOAP are schema errors naming the operation", "[vsphere]") {
  auto html = Response::Parse("RetrieveServiceContent", 503, "<html><body>503 Service Unavailable</body></html>");
  CHECK(html.error().code == "vsphere.schema");
  CHECK(html.error().message == "RetrieveServiceContent: the answer is not a SOAP envelope (HTTP 503)");
  const std::string whole = Envelope(R"(<RetrieveServiceContentResponse xmlns="urn:vim25"><returnval/></RetrieveServiceContentResponse>)");
  auto cut = Response::Parse("RetrieveServiceContent", 200, whole.substr(0, whole.size() / 2));
  CHECK(cut.error().code == "vsphere.schema");
  CHECK(cut.error().message.find("RetrieveServiceContent: the answer is not XML") == 0);
  auto wrong = Response::Parse("Login", 200, whole);
  CHECK(wrong.error().message == "Login: the Body holds no LoginResponse (HTTP 200)");
  CHECK(Response::Parse("RetrieveServiceContent", 200, whole).ok());
}

TEST_CASE("A page of PropertyCollector results: objects, properties, what could not be read, the next token", "[vsphere]") {
  const std::string page = Envelope(
      R"(<RetrievePropertiesExResponse xmlns="urn:vim25"><returnval><token>1</token>)"
      R"(<objects><obj type="HostSystem">host-21</obj>)"
      R"(<propSet><name>name</name><val xsi:type="xsd:string">esx01.lab</val></propSet>)"
      R"(<propSet><name>runtime.inMaintenanceMode</name><val xsi:type="xsd:boolean">false</val></propSet>)"
      R"(<missingSet><path>hardware.systemInfo</path><fault><fault xsi:type="NoPermission"/></fault></missingSet></objects>)"
      R"(<objects><obj type="HostSystem">host-22</obj><propSet><name>name</name><val xsi:type="xsd:string">esx02.lab</val></propSet></objects>)"
      R"(</returnval></RetrievePropertiesExResponse>)");
  auto response = Response::Parse("RetrievePropertiesEx", 200, page);
  REQUIRE(response.ok());
  auto result = ReadRetrieveResult(*response);
  REQUIRE(result.ok());
  CHECK(result->token == "1");
  REQUIRE(result->objects.size() == 2);
  CHECK(result->objects[0].obj.type == "HostSystem");
  CHECK(result->objects[0].obj.value == "host-21");
  CHECK(std::string(result->objects[0].props.at("name").text().get()) == "esx01.lab");
  CHECK(XsiType(result->objects[0].props.at("runtime.inMaintenanceMode")) == "boolean");
  CHECK(result->objects[0].missing == std::vector<std::string>{"hardware.systemInfo"});
  CHECK(result->objects[1].props.count("runtime.inMaintenanceMode") == 0);

  // The last page has no token; an empty result has no returnval at all.
  auto last = Response::Parse("ContinueRetrievePropertiesEx", 200, Envelope(
      R"(<ContinueRetrievePropertiesExResponse xmlns="urn:vim25"><returnval><objects><obj type="HostSystem">host-23</obj></objects></returnval></ContinueRetrievePropertiesExResponse>)"));
  CHECK(ReadRetrieveResult(*last)->token.empty());
  auto none = Response::Parse("RetrievePropertiesEx", 200, Envelope(R"(<RetrievePropertiesExResponse xmlns="urn:vim25"/>)"));
  CHECK(ReadRetrieveResult(*none)->objects.empty());
  auto broken = Response::Parse("RetrievePropertiesEx", 200, Envelope(
      R"(<RetrievePropertiesExResponse xmlns="urn:vim25"><returnval><objects><propSet><name>name</name></propSet></objects></returnval></RetrievePropertiesExResponse>)"));
  CHECK(ReadRetrieveResult(*broken).error().code == "vsphere.schema");
}

TEST_CASE("An UpdateSet: objects entering, changing and leaving, the next version, truncation", "[vsphere]") {
  auto response = Response::Parse("WaitForUpdatesEx", 200, Envelope(
      R"(<WaitForUpdatesExResponse xmlns="urn:vim25"><returnval><version>7</version><truncated>true</truncated>)"
      R"(<filterSet><filter type="PropertyFilter">session[52]f1</filter>)"
      R"(<objectSet><kind>modify</kind><obj type="HostSystem">host-21</obj>)"
      R"(<changeSet><name>runtime.inMaintenanceMode</name><op>assign</op><val xsi:type="xsd:boolean">true</val></changeSet></objectSet>)"
      R"(<objectSet><kind>enter</kind><obj type="HostSystem">host-30</obj><changeSet><name>name</name><op>assign</op><val xsi:type="xsd:string">esx30.lab</val></changeSet></objectSet>)"
      R"(<objectSet><kind>leave</kind><obj type="HostSystem">host-22</obj></objectSet>)"
      R"(</filterSet></returnval></WaitForUpdatesExResponse>)"));
  REQUIRE(response.ok());
  auto set = ReadUpdateSet(*response);
  REQUIRE(set.ok());
  REQUIRE(set->has_value());
  const UpdateSet& u = **set;
  CHECK(u.version == "7");
  CHECK(u.truncated);
  REQUIRE(u.objects.size() == 3);
  CHECK(u.objects[0].kind == "modify");
  CHECK(u.objects[0].changes[0].name == "runtime.inMaintenanceMode");
  CHECK(std::string(u.objects[0].changes[0].val.text().get()) == "true");
  CHECK(u.objects[1].kind == "enter");
  CHECK(u.objects[2].kind == "leave");
  CHECK(u.objects[2].obj.value == "host-22");

  auto quiet = Response::Parse("WaitForUpdatesEx", 200, Envelope(R"(<WaitForUpdatesExResponse xmlns="urn:vim25"/>)"));
  CHECK_FALSE(ReadUpdateSet(*quiet)->has_value());  // the wait ended with nothing new
  auto stale = Response::Parse("WaitForUpdatesEx", 500, Envelope(
      R"(<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>The specified version is invalid.</faultstring>)"
      R"(<detail><InvalidCollectorVersionFault xmlns="urn:vim25" xsi:type="InvalidCollectorVersion"/></detail></soapenv:Fault>)"));
  CHECK(stale.error().code == "vsphere.invalid_collector_version");
  auto versionless = Response::Parse("WaitForUpdatesEx", 200, Envelope(
      R"(<WaitForUpdatesExResponse xmlns="urn:vim25"><returnval><filterSet/></returnval></WaitForUpdatesExResponse>)"));
  CHECK(ReadUpdateSet(*versionless).error().code == "vsphere.schema");
}

TEST_CASE("A task's info: its state, progress and error message", "[vsphere]") {
  pugi::xml_document doc;
  REQUIRE(doc.load_string(R"(<val xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="TaskInfo">)"
                          R"(<key>task-81</key><descriptionId>HostSystem.enterMaintenanceMode</descriptionId>)"
                          R"(<state>error</state><error><fault xsi:type="Timedout"/><localizedMessage>Operation timed out.</localizedMessage></error></val>)"));
  auto info = ReadTaskInfo(doc.document_element());
  REQUIRE(info.ok());
  CHECK(info->state == "error");
  CHECK(info->error == "Operation timed out.");
  CHECK(info->description_id == "HostSystem.enterMaintenanceMode");
  REQUIRE(doc.load_string(R"(<val><state>running</state><progress>42</progress></val>)"));
  CHECK(ReadTaskInfo(doc.document_element())->progress == 42);
  REQUIRE(doc.load_string(R"(<val><state>paused</state></val>)"));
  CHECK(ReadTaskInfo(doc.document_element()).error().message == "TaskInfo: state 'paused' is not queued, running, success or error");
}

}  // namespace
}  // namespace dcops::vsphere
