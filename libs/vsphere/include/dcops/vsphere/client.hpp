#pragma once
// A vim25 client for one vCenter (or ESXi host), as one sync or step sees it.
//
// Session: RetrieveServiceContent, then SessionManager.Login; the vmware_soap_session cookie
// rides on every later call. A call answered NotAuthenticated (the session expired) logs in
// again once and is repeated, except inside a paged read: a retrieval token belongs to the
// session that opened it, so an expiry there ends the read with vsphere.not_authenticated
// (retryable) and the caller starts over. Logout() ends the session; callers call it on every
// path (it ignores errors: a vCenter that is gone has ended the session already).
//
// Reads: ReadAll() makes a ContainerView of one type under the root folder, reads it with
// RetrievePropertiesEx and an explicit property list in pages of maxObjects, hands each page
// to the caller as it arrives (memory stays bounded by one page), and destroys the view
// afterwards, on errors too.
//
// Long polls: WaitForUpdatesEx waits up to its maxWaitSeconds on the server; its HTTP request
// is allowed that long plus the client's usual timeout.
//
// Ownership: borrows the http::Client. Thread-safety: one user at a time.
// Blocking: every call blocks, bounded by the HTTP client's timeouts.
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "dcops/http/client.hpp"
#include "dcops/vsphere/soap.hpp"

namespace dcops::vsphere {

struct Endpoint {
  std::string base_url;  // "https://vcenter.lab:443"
  std::string username;
  std::string password;  // secret: only ever in the Login body
  http::TlsOptions tls;
};

struct ServiceContent {
  MoRef root_folder, property_collector, view_manager, session_manager;
  std::string api_version;  // about.apiVersion ("8.0.1.0")
  std::string instance_uuid;
};

class Client {
 public:
  Client(http::Client& http, Endpoint endpoint);

  Status Login();
  void Logout();
  // Keeps the session from timing out (CurrentTime; no re-login). A client kept between
  // steps forgets its password and is handed it again by the next step that uses it.
  Status KeepAlive();
  void ForgetPassword() { endpoint_.password.clear(); }
  void SetPassword(std::string password) { endpoint_.password = std::move(password); }
  const ServiceContent& content() const { return content_; }

  // Every object of `type` ("HostSystem") with `properties`, `page_size` objects per page,
  // under `container` (recursively; the root folder when empty: a cluster holds its hosts and
  // their VMs).
  Status ReadAll(const std::string& type, const std::vector<std::string>& properties, int page_size,
                 const std::function<Status(const RetrieveResult&)>& page, const MoRef& container = {});

  // Incremental reads: a PropertyFilter over every object of `type` (a ContainerView under the
  // root folder that lives as long as the session), then WaitForUpdatesEx from `version` (""
  // for everything, as "enter" updates), waiting at most `max_wait_seconds`. nullopt: nothing
  // changed. vsphere.invalid_collector_version: the version is unknown here (a new session):
  // read everything again. The filter and view belong to this session.
  Result<MoRef> CreateFilter(const std::string& type, const std::vector<std::string>& properties);
  Result<std::optional<UpdateSet>> WaitForUpdates(const std::string& version, int max_wait_seconds,
                                                   int max_object_updates);
  // The current info of a Task (one read).
  Result<TaskInfo> ReadTask(const MoRef& task);

  // One object's `properties`, read from the object itself (no view).
  // vsphere.managed_object_not_found when vCenter no longer has it.
  Result<RetrieveResult> ReadObject(const MoRef& object, const std::vector<std::string>& properties);
  // Several objects of one type by moref, `properties` each, in pages as ReadAll hands them
  // (one RetrievePropertiesEx with an ObjectSpec per object). An object vCenter no longer has
  // fails the read (vsphere.managed_object_not_found), as vCenter answers it.
  Status ReadObjects(const std::string& type, const std::vector<std::string>& morefs, const std::vector<std::string>& properties,
                     int page_size, const std::function<Status(const RetrieveResult&)>& page);
  // A PropertyFilter over one object's `properties`: WaitForUpdates reports their changes
  // (every filter of the session shares one version sequence). DestroyFilter removes it.
  Result<MoRef> WatchObject(const MoRef& object, const std::vector<std::string>& properties);
  Status DestroyFilter(const MoRef& filter);
  // `operation` (an *_Task method) on `self`: the Task vCenter started. The call is not
  // repeated on a transport failure (it may have started the task): the caller asks vCenter.
  Result<MoRef> StartTask(const std::string& operation, const MoRef& self, const std::string& body);
  Status CancelTask(const MoRef& task);

  // One operation on `self`; `body` holds its other arguments as XML. Re-logs in once on
  // NotAuthenticated when `may_relogin`.
  Result<Response> Call(const std::string& operation, const MoRef& self, const std::string& body,
                        bool may_relogin = true);

 private:
  Result<Response> Send(const std::string& operation, const MoRef& self, const std::string& body,
                        std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  Result<MoRef> CreateView(const std::string& type, const MoRef& container = {});
  // RetrievePropertiesEx of `spec` and its continuations, page by page.
  Status ReadPages(const std::string& spec, const std::function<Status(const RetrieveResult&)>& page);
  static std::string PropertySpec(const std::string& type, const std::vector<std::string>& properties, const MoRef& view);

  http::Client& http_;
  Endpoint endpoint_;
  ServiceContent content_;
  std::string cookie_;  // "vmware_soap_session=…", or "" before Login
};

}  // namespace dcops::vsphere
