#pragma once
// The simulated vCenter's vim25 SOAP endpoint (POST /sdk) over HTTPS with its own
// self-signed certificate, on one loopback address. The subset a sync and the host steps use:
// RetrieveServiceContent, Login/Logout (the vmware_soap_session cookie), CreateContainerView/
// DestroyView, RetrievePropertiesEx/ContinueRetrievePropertiesEx with real maxObjects paging
// tokens, CreateFilter/DestroyPropertyFilter and WaitForUpdatesEx with versions (paged by
// maxObjectUpdates with truncated sets; a version this session never issued is
// InvalidCollectorVersion; options.maxWaitSeconds honoured: unset waits for a change up to 60 s,
// 0 answers at once, N waits up to N seconds and answers nothing when no change touched the
// session's filters), and SOAP faults as vCenter sends them (HTTP 500).
// A PropertyFilterSpec's objectSet is a ContainerView of this session (its objects of the
// view's type) or any managed object itself (a Task, a HostSystem; skip false); one that does
// not exist is ManagedObjectNotFound naming it. An update of a filter on objects themselves
// carries only the properties that changed ("modify"); a view's filter every asked property of
// a changed object; a filter made after the version asked from has all its objects "enter".
// Host tasks (vc_tasks.hpp): EnterMaintenanceMode_Task, ExitMaintenanceMode_Task,
// RebootHost_Task, ShutdownHost_Task, and CancelTask on a Task.
//
// Thread-safety: Start/Stop from one thread; requests are served on the server's threads. A
// WaitForUpdatesEx waits without holding the server's lock; Stop ends such waits.
#include <httplib.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "request_gate.hpp"
#include "vc_model.hpp"
#include "vc_tasks.hpp"

namespace dcops::sim::vcenter {

enum class Fault {
  kNone,
  kHtml,            // every answer is an HTML error page (a proxy in front of a dead vCenter)
  kTruncated,       // property reads and updates are cut off half-way
  kFaultNextPage,   // the next continuation (a page after the first) is a SOAP fault, once
  kTruncatedNextPage,  // every continuation is cut off half-way (the first page is whole)
};

struct ServerOptions {
  std::string xsi_prefix = "xsi";  // the prefix bound to the XML Schema instance namespace
  std::string api_version = "8.0.2.0";
  int default_max_objects = 100;
};

class Server {
 public:
  Server(Model& model, std::string address, int port, ServerOptions options = {});
  ~Server();
  std::string Start();  // "" on success, else why it could not listen
  void Stop();
  const std::string& fingerprint() const { return fingerprint_; }
  void SetFault(Fault f) { fault_ = f; }
  // The `calls`-th request from now finds every session expired (vCenter restarted mid-sync).
  void ExpireSessionsAfter(int calls) { expire_countdown_ = calls; }
  // Holds the next request of an operation ("WaitForUpdatesEx") until the test releases it.
  RequestGate& gate() { return gate_; }
  // Requests served, per operation.
  std::map<std::string, int> Calls() const;
  int LiveViews() const;
  int LiveFilters() const;

  // What a PropertyFilterSpec covers (public for the helpers in vc_server.cpp).
  struct Filter {
    std::map<std::string, std::vector<std::string>> props;  // PropertySpec: a type → its paths
    bool view = false;                                      // an objectSet on a view of this session:
    std::string view_type, container;                       // its type and container (a cluster holds its hosts and their VMs)
    std::vector<std::string> objects;                       // objectSets on objects themselves, sorted
  };

 private:
  struct Pending {
    Filter filter;
    std::vector<std::string> morefs;
    std::size_t next = 0;
    int max_objects = 100;  // the first request's maxObjects: every continuation pages by it
  };
  // What a filter on objects themselves last reported, per version issued: object → path →
  // its <val> (nullopt: unset). An update from that version carries only what differs.
  using Sent = std::map<std::string, std::map<std::string, std::optional<std::string>>>;
  struct Session {
    std::map<std::string, std::map<std::uint64_t, Sent>> sent;  // filter id → version → values (the last few)
    std::map<std::string, std::uint64_t> introduced;  // filter id → the first version whose answer held all of it
    std::map<std::string, std::string> views;  // id → type
    std::map<std::string, std::string> view_containers;  // id → container moref
    std::map<std::string, Filter> filters;     // id → filter (ids sort in creation order)
    std::map<std::string, Pending> pending;    // token → the rest of a read
    std::set<std::string> versions;            // versions issued to this session
    int next_id = 1;
  };
  void Handle(const httplib::Request& req, httplib::Response& res);

  Model& model_;
  std::string address_;
  int port_;
  ServerOptions options_;
  std::string fingerprint_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::atomic<Fault> fault_{Fault::kNone};
  std::atomic<int> expire_countdown_{0};
  std::atomic<bool> stopping_{false};  // ends WaitForUpdatesEx waits
  RequestGate gate_;
  TaskEngine tasks_;
  mutable std::mutex mu_;
  std::map<std::string, Session> sessions_;
  std::map<std::string, int> calls_;
};

}  // namespace dcops::sim::vcenter
