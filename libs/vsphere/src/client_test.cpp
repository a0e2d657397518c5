// The vim25 client against a small fake vCenter on loopback: the session cookie, paged reads
// with the view destroyed afterwards, re-login after an expiry, and expiry inside a read.
#include "dcops/vsphere/client.hpp"

#include <fmt/format.h>
#include <httplib.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <mutex>
#include <thread>

#include "dcops/http/transport.hpp"

namespace dcops::vsphere {
namespace {

// Each test case has its own address: ctest runs them in parallel processes, and two
// servers on one address:port would share its connections (SO_REUSEPORT).
constexpr int kPort = 18444;

std::string Envelope(const std::string& body) {
  return R"(<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" )"
         R"(xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>)" +
         body + "</soapenv:Body></soapenv:Envelope>";
}

std::string Fault(const std::string& type, const std::string& message) {
  return Envelope("<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>" + message +
                  R"(</faultstring><detail><)" + type + R"(Fault xmlns="urn:vim25" xsi:type=")" + type + R"("/></detail></soapenv:Fault>)");
}

// Five hosts, paged by maxObjects; sessions by cookie; faults on request.
struct FakeVcenter {
  httplib::Server server;
  std::thread thread;
  std::mutex mu;
  std::vector<std::string> calls;
  int sessions = 0;
  std::string live_session;
  bool expire_before_view = false;     // the next CreateContainerView finds the session expired
  bool expire_on_continue = false;     // ContinueRetrievePropertiesEx finds it expired
  int destroyed = 0;

  explicit FakeVcenter(const char* address) {
    server.Post("/sdk", [this](const httplib::Request& req, httplib::Response& res) { Handle(req, res); });
    REQUIRE(server.bind_to_port(address, kPort));
    thread = std::thread([this] { server.listen_after_bind(); });
    while (!server.is_running()) std::this_thread::yield();
  }
  ~FakeVcenter() {
    server.stop();
    thread.join();
  }

  std::string Page(int from, int count, const std::string& token) {
    std::string out = std::string(R"(<returnval>)") + (token.empty() ? "" : "<token>" + token + "</token>");
    for (int i = from; i < from + count && i < 5; ++i) {
      out += fmt::format(R"(<objects><obj type="HostSystem">host-{0}</obj><propSet><name>name</name>)"
                         R"(<val xsi:type="xsd:string">esx{0}.lab</val></propSet></objects>)", i);
    }
    return out + "</returnval>";
  }

  void Handle(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu);
    const auto start = req.body.find("<soapenv:Body><") + 15;
    const std::string op = req.body.substr(start, req.body.find_first_of(" >", start) - start);
    calls.push_back(op);
    auto answer = [&](const std::string& body) { res.set_content(Envelope("<" + op + R"(Response xmlns="urn:vim25">)" + body + "</" + op + "Response>"), "text/xml"); };
    auto fault = [&](const std::string& type, const std::string& message) {
      res.status = 500;
      res.set_content(Fault(type, message), "text/xml");
    };
    if (op == "RetrieveServiceContent") {
      return answer(R"(<returnval><rootFolder type="Folder">group-d1</rootFolder><propertyCollector type="PropertyCollector">propertyCollector</propertyCollector>)"
                    R"(<viewManager type="ViewManager">ViewManager</viewManager><sessionManager type="SessionManager">SessionManager</sessionManager>)"
                    R"(<about><apiVersion>8.0.1.0</apiVersion><instanceUuid>f3c1-uuid</instanceUuid></about></returnval>)");
    }
    if (op == "Login") {
      if (req.body.find("<password>s3cr&amp;t</password>") == std::string::npos) {
        return fault("InvalidLogin", "Cannot complete login due to an incorrect user name or password.");
      }
      live_session = "vmware_soap_session=\"52" + std::to_string(++sessions) + "\"";
      res.set_header("Set-Cookie", live_session + "; Path=/; HttpOnly; Secure;");
      return answer(R"(<returnval><key>52</key><userName>VSPHERE.LOCAL\sync</userName></returnval>)");
    }
    if (req.get_header_value("Cookie") != live_session || req.get_header_value("SOAPAction") != "urn:vim25/8.0.1.0") {
      return fault("NotAuthenticated", "The session is not authenticated.");
    }
    if (op == "CreateContainerView") {
      if (expire_before_view) {
        expire_before_view = false;
        live_session.clear();
        return fault("NotAuthenticated", "The session is not authenticated.");
      }
      return answer(R"(<returnval type="ContainerView">session[52]77</returnval>)");
    }
    if (op == "RetrievePropertiesEx" && req.body.find("<type>Task</type>") != std::string::npos) {
      return answer(R"(<returnval><objects><obj type="Task">task-81</obj><propSet><name>info</name>)"
                    R"(<val xsi:type="TaskInfo"><key>task-81</key><state>running</state><progress>40</progress></val></propSet></objects></returnval>)");
    }
    if (op == "CreateFilter") return answer(R"(<returnval type="PropertyFilter">session[52]f1</returnval>)");
    if (op == "WaitForUpdatesEx") {
      if (req.body.find("<version></version>") != std::string::npos) {
        return answer(R"(<returnval><version>1</version><filterSet><filter type="PropertyFilter">session[52]f1</filter>)"
                      R"(<objectSet><kind>enter</kind><obj type="HostSystem">host-0</obj></objectSet></filterSet></returnval>)");
      }
      if (req.body.find("<version>1</version>") != std::string::npos) return answer("");  // nothing new
      return fault("InvalidCollectorVersion", "The specified version is invalid.");
    }
    if (op == "RetrievePropertiesEx") {
      if (req.body.find("<maxObjects>2</maxObjects>") == std::string::npos ||
          req.body.find("<pathSet>name</pathSet>") == std::string::npos) {
        return fault("InvalidArgument", "A specified parameter was not correct: specSet");
      }
      return answer(Page(0, 2, "1"));
    }
    if (op == "ContinueRetrievePropertiesEx") {
      if (expire_on_continue) {
        live_session.clear();
        return fault("NotAuthenticated", "The session is not authenticated.");
      }
      const bool second = req.body.find("<token>1</token>") != std::string::npos;
      return answer(second ? Page(2, 2, "2") : Page(4, 2, ""));
    }
    if (op == "DestroyView") {
      ++destroyed;
      return answer("");
    }
    if (op == "Logout") {
      live_session.clear();
      return answer("");
    }
    fault("NotImplemented", "not implemented");
  }
};

struct Rig {
  http::CurlTransport transport;
  http::Client http{http::ClientOptions{}, transport, SystemClock::Instance()};
  Endpoint endpoint;
  explicit Rig(const char* address) : endpoint{fmt::format("http://{}:{}", address, kPort), "sync@vsphere.local", "s3cr&t", {}} {}
};

TEST_CASE("A vim25 session reads every host page by page, destroys its view and logs out", "[vsphere][net]") {
  FakeVcenter vc("127.0.74.1");
  Rig rig("127.0.74.1");
  Client client(rig.http, rig.endpoint);
  REQUIRE(client.Login().ok());
  CHECK(client.content().api_version == "8.0.1.0");
  CHECK(client.content().root_folder.value == "group-d1");
  std::vector<std::string> names;
  int pages = 0;
  auto st = client.ReadAll("HostSystem", {"name"}, 2, [&](const RetrieveResult& page) -> Status {
    ++pages;
    for (const auto& o : page.objects) names.push_back(o.props.at("name").text().get());
    return Status();
  });
  REQUIRE(st.ok());
  CHECK(pages == 3);
  CHECK(names == std::vector<std::string>{"esx0.lab", "esx1.lab", "esx2.lab", "esx3.lab", "esx4.lab"});
  CHECK(vc.destroyed == 1);
  client.Logout();
  CHECK(vc.calls.back() == "Logout");
  CHECK(vc.live_session.empty());
}

TEST_CASE("vim25: a wrong password, an expired session (logged in again), an expiry inside a read", "[vsphere][net]") {
  FakeVcenter vc("127.0.74.2");
  Rig rig("127.0.74.2");
  Endpoint wrong = rig.endpoint;
  wrong.password = "not-it";
  Client refused(rig.http, wrong);
  auto st = refused.Login();
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().code == "vsphere.invalid_login");
  CHECK(st.error().message.find("not-it") == std::string::npos);

  Client client(rig.http, rig.endpoint);
  REQUIRE(client.Login().ok());
  vc.expire_before_view = true;
  int objects = 0;
  auto count = [&](const RetrieveResult& page) -> Status {
    objects += static_cast<int>(page.objects.size());
    return Status();
  };
  REQUIRE(client.ReadAll("HostSystem", {"name"}, 2, count).ok());
  CHECK(objects == 5);
  CHECK(vc.sessions == 2);  // logged in again once, then carried on

  vc.expire_on_continue = true;
  auto cut = client.ReadAll("HostSystem", {"name"}, 2, count);
  REQUIRE_FALSE(cut.ok());
  CHECK(cut.error().code == "vsphere.not_authenticated");
  CHECK(cut.error().retryable);
  CHECK(vc.calls.back() == "DestroyView");  // attempted on the error path too
  CHECK(vc.sessions == 2);                  // no re-login inside a read
}

TEST_CASE("vim25: incremental reads from a version, a version the server does not know, a task's progress", "[vsphere][net]") {
  FakeVcenter vc("127.0.74.3");
  Rig rig("127.0.74.3");
  Client client(rig.http, rig.endpoint);
  REQUIRE(client.Login().ok());
  auto filter = client.CreateFilter("HostSystem", {"name", "runtime.inMaintenanceMode"});
  REQUIRE(filter.ok());
  CHECK(filter->value == "session[52]f1");
  auto all = client.WaitForUpdates("", 10, 1000);
  REQUIRE(all.ok());
  REQUIRE(all->has_value());
  CHECK((*all)->version == "1");
  CHECK((*all)->objects.at(0).kind == "enter");
  auto quiet = client.WaitForUpdates("1", 10, 1000);
  REQUIRE(quiet.ok());
  CHECK_FALSE(quiet->has_value());
  auto stale = client.WaitForUpdates("41", 10, 1000);
  REQUIRE_FALSE(stale.ok());
  CHECK(stale.error().code == "vsphere.invalid_collector_version");

  auto task = client.ReadTask({"Task", "task-81"});
  REQUIRE(task.ok());
  CHECK(task->state == "running");
  CHECK(task->progress == 40);
}

}  // namespace
}  // namespace dcops::vsphere
