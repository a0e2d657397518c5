#include "plan_params.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

namespace dcops::dispatcher {
namespace {

rapidjson::Document ParseObject(const std::string& json) {
  rapidjson::Document doc;
  doc.Parse(json.empty() ? "{}" : json.c_str());
  if (doc.HasParseError() || !doc.IsObject()) doc.SetObject();
  return doc;
}

std::string Serialize(const rapidjson::Document& doc) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  doc.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace

std::string WithMember(const std::string& params_json, const char* member, const std::string& value_json) {
  rapidjson::Document doc = ParseObject(params_json);
  rapidjson::Document value(&doc.GetAllocator());
  value.Parse(value_json.c_str());
  if (value.HasParseError()) value.SetNull();
  doc.RemoveMember(member);
  doc.AddMember(rapidjson::Value(member, doc.GetAllocator()), rapidjson::Value(value, doc.GetAllocator()),
                doc.GetAllocator());
  return Serialize(doc);
}

std::string StepParams(const std::string& job_params, const ServerRef& s) {
  rapidjson::Document bmc;
  bmc.SetObject();
  auto& a = bmc.GetAllocator();
  bmc.AddMember("server_id", rapidjson::Value(s.server_id.c_str(), a), a);
  bmc.AddMember("credential_set_id", rapidjson::Value(s.credential_set_id.c_str(), a), a);
  bmc.AddMember("tls_verify", s.tls_verify, a);
  bmc.AddMember("tls_pin_sha256", rapidjson::Value(s.tls_pin_sha256.c_str(), a), a);
  return WithMember(job_params, "_bmc", Serialize(bmc));
}

std::string WithEndpoint(const std::string& params_json, const std::string& id) {
  rapidjson::Document endpoint;
  endpoint.SetObject();
  endpoint.AddMember("id", rapidjson::Value(id.c_str(), endpoint.GetAllocator()), endpoint.GetAllocator());
  return WithMember(params_json, "_endpoint", Serialize(endpoint));
}

bool IsUuid(const std::string& id) {
  return id.size() == 36 && std::all_of(id.begin(), id.end(), [](char c) {
    return c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

}  // namespace dcops::dispatcher
