#pragma once
// What every route of the simulated BMC shares: request accounting, fault injection,
// authentication, Redfish error bodies, and serving documents and collections.
#include <httplib.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include <rapidjson/document.h>

#include "bmc.hpp"
#include "inventory_json.hpp"

namespace dcops::sim {

inline constexpr const char* kJson = "application/json;odata.metadata=minimal;charset=utf-8";

inline SimTime Now() { return std::chrono::steady_clock::now(); }

// A Redfish error answer with one @Message.ExtendedInfo entry.
void Fail(httplib::Response& res, int status, const std::string& id, const std::string& message);
// An action's outcome as the HTTP answer (errors with their message).
void Answer(httplib::Response& res, const ActionAnswer& a);

// A request that changes the BMC (an action, a PATCH, an upload), as opposed to a read or a
// session's login or logout (and the POSTs that only read: exports, previews, update lists).
bool IsMutating(const httplib::Request& req);

// Counts the request for as long as it is being served, and apart as a mutating one.
class InFlight {
 public:
  InFlight(Bmc& bmc, const httplib::Request& req) : bmc_(bmc), mutating_(IsMutating(req)) { bmc_.Enter(mutating_); }
  ~InFlight() { bmc_.Leave(mutating_); }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

 private:
  Bmc& bmc_;
  const bool mutating_;
};

// Shared front half of every handler: latency, random faults, authentication and (for
// authenticated GETs of data) the broken-answer modes. False when already answered.
bool Front(Bmc& bmc, const httplib::Request& req, httplib::Response& res, bool needs_auth);

// The request body as a JSON object, or a 400 answer and nullopt.
std::optional<rapidjson::Document> JsonBody(const httplib::Request& req, httplib::Response& res);

void Serve(httplib::Server& server, Bmc& bmc, const std::string& path, bool needs_auth,
           std::function<std::string()> body);

// A collection and its members, read from the BMC at request time. $expand is honoured only
// by firmware that advertises it; older firmware ignores the query, as real iDRACs do.
void ServeCollection(httplib::Server& server, Bmc& bmc, const std::string& path,
                     const std::string& type, const std::string& name,
                     std::function<std::vector<Member>(Bmc&)> members);

// Component collections and the LC status (routes_inventory.cpp).
void InstallInventoryRoutes(httplib::Server& server, Bmc& bmc);
// Updates, jobs and tasks, the iDRAC reset, boot, virtual media, BIOS (routes_ops.cpp).
void InstallOperationRoutes(httplib::Server& server, Bmc& bmc, ImageFetcher& fetcher);
// Logs, configuration profiles and multipart package upload (routes_config.cpp).
void InstallConfigRoutes(httplib::Server& server, Bmc& bmc);

}  // namespace dcops::sim
