// The safety check's facts read from vim25 answers written by a reader who did not see this
// code (tests/fixtures/vsphere/safety: RetrievePropertiesEx responses for clusters, hosts,
// datastores and VMs, each with that reader's expectation).
#include "safety_facts.hpp"
#include "safety_report_json.hpp"

#include <catch2/catch.hpp>
#include <rapidjson/document.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace dcops::esxi {
namespace {

const std::filesystem::path kDir = DCOPS_VSPHERE_FIXTURES "/safety";

std::string Slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

vsphere::RetrieveResult Objects(const std::string& name) {
  auto response = vsphere::Response::Parse("RetrievePropertiesEx", 200, Slurp(kDir / name));
  REQUIRE(response.ok());
  auto result = vsphere::ReadRetrieveResult(*response);
  REQUIRE(result.ok());
  return *result;
}

rapidjson::Document Expected(const std::string& name) {
  rapidjson::Document d;
  d.Parse(Slurp(kDir / name).c_str());
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

std::string S(const rapidjson::Value& o, const char* k) { return o.HasMember(k) && o[k].IsString() ? o[k].GetString() : ""; }
int I(const rapidjson::Value& o, const char* k) { return o.HasMember(k) && o[k].IsInt() ? o[k].GetInt() : -1; }
bool B(const rapidjson::Value& o, const char* k) { return o.HasMember(k) && o[k].IsBool() && o[k].GetBool(); }
std::set<std::string> Set(const rapidjson::Value& o, const char* k) {
  std::set<std::string> out;
  if (o.HasMember(k) && o[k].IsArray()) {
    for (const auto& v : o[k].GetArray()) out.insert(v.GetString());
  }
  return out;
}
std::vector<std::string> List(const rapidjson::Value& o, const char* k) {
  std::vector<std::string> out;
  if (o.HasMember(k) && o[k].IsArray()) {
    for (const auto& v : o[k].GetArray()) out.push_back(v.GetString());
  }
  return out;
}

void CheckCluster(const std::string& file) {
  INFO(file);
  auto objects = Objects(file + ".xml");
  REQUIRE(objects.objects.size() == 1);
  std::vector<std::string> hosts;
  const auto c = ReadCluster(objects.objects[0], &hosts);
  const auto e = Expected(file + ".expected.json");
  const auto& x = e.IsArray() ? e[0] : e;
  CHECK(c.moref == S(x, "moref"));
  CHECK(c.name == S(x, "name"));
  CHECK(c.ha_enabled == B(x, "ha_enabled"));
  CHECK(c.admission_control == B(x, "admission_control"));
  CHECK(c.admission_policy == S(x, "admission_policy"));
  if (I(x, "failover_level") >= 0) CHECK(c.failover_level == I(x, "failover_level"));
  if (c.admission_policy == "resources_percent") {
    CHECK(c.cpu_reserve_percent == I(x, "cpu_reserve_percent"));
    CHECK(c.memory_reserve_percent == I(x, "memory_reserve_percent"));
  }
  CHECK(c.current_cpu_percent == I(x, "current_cpu_percent"));
  CHECK(c.current_memory_percent == I(x, "current_memory_percent"));
  CHECK(c.failover_hosts == Set(x, "failover_hosts"));
  CHECK(c.drs_enabled == B(x, "drs_enabled"));
  if (c.drs_enabled) CHECK(c.drs_behavior == S(x, "drs_behavior"));
  std::map<std::string, std::string> overrides;
  if (x.HasMember("drs_vm_behavior") && x["drs_vm_behavior"].IsObject()) {
    for (const auto& m : x["drs_vm_behavior"].GetObject()) overrides[m.name.GetString()] = m.value.GetString();
  }
  CHECK(c.drs_vm_behavior == overrides);
  CHECK(c.vsan_enabled == B(x, "vsan_enabled"));
  REQUIRE(x.HasMember("rules"));
  REQUIRE(c.rules.size() == x["rules"].Size());
  for (rapidjson::SizeType i = 0; i < x["rules"].Size(); ++i) {
    const auto& r = x["rules"][i];
    INFO("rule " << S(r, "name"));
    CHECK(c.rules[i].name == S(r, "name"));
    CHECK(c.rules[i].enabled == B(r, "enabled"));
    CHECK(c.rules[i].mandatory == B(r, "mandatory"));
    CHECK(c.rules[i].vms == Set(r, "vms"));
    CHECK(c.rules[i].affine_hosts == Set(r, "affine_hosts"));
    CHECK(c.rules[i].anti_affine_hosts == Set(r, "anti_affine_hosts"));
  }
  CHECK(hosts == List(x, "hosts"));
}

TEST_CASE("Clusters' HA, DRS, vSAN and VM-host rules read from configurationEx as another reader expects", "[safety]") {
  for (const char* f : {"cluster", "cluster-failover-level", "cluster-failover-hosts"}) CheckCluster(f);
}

TEST_CASE("Hosts, datastores and VMs read from their properties as another reader expects", "[safety]") {
  {
    auto objects = Objects("hosts.xml");
    const auto e = Expected("hosts.expected.json");
    REQUIRE(objects.objects.size() == e.Size());
    for (rapidjson::SizeType i = 0; i < e.Size(); ++i) {
      const auto h = ReadHost(objects.objects[i]);
      INFO(h.moref);
      CHECK(h.moref == S(e[i], "moref"));
      CHECK(h.name == S(e[i], "name"));
      CHECK(h.connection_state == S(e[i], "connection_state"));
      CHECK(h.power_state == S(e[i], "power_state"));
      CHECK(h.in_maintenance == B(e[i], "in_maintenance"));
    }
  }
  {
    auto objects = Objects("datastores.xml");
    const auto e = Expected("datastores.expected.json");
    REQUIRE(objects.objects.size() == e.Size());
    for (rapidjson::SizeType i = 0; i < e.Size(); ++i) {
      const auto d = ReadDatastore(objects.objects[i]);
      INFO(d.moref);
      CHECK(d.moref == S(e[i], "moref"));
      CHECK(d.name == S(e[i], "name"));
      CHECK(d.mounted_on == Set(e[i], "mounted_on"));
    }
  }
  auto objects = Objects("vms.xml");
  const auto e = Expected("vms.expected.json");
  REQUIRE(objects.objects.size() == e.Size());
  for (rapidjson::SizeType i = 0; i < e.Size(); ++i) {
    std::string hostname, uuid;
    const auto v = ReadVm(objects.objects[i], &hostname, &uuid);
    INFO(v.moref << " " << v.name);
    CHECK(v.moref == S(e[i], "moref"));
    CHECK(v.name == S(e[i], "name"));
    CHECK(v.host == S(e[i], "host"));
    CHECK(v.power_state == S(e[i], "power_state"));
    CHECK(v.fault_tolerance == S(e[i], "fault_tolerance"));
    CHECK(v.datastores == List(e[i], "datastores"));
    CHECK(v.passthrough_devices == I(e[i], "passthrough_devices"));
    REQUIRE(v.removable.size() == e[i]["removable"].Size());
    for (rapidjson::SizeType k = 0; k < e[i]["removable"].Size(); ++k) {
      const auto& r = e[i]["removable"][k];
      CHECK(v.removable[k].kind == S(r, "kind"));
      CHECK(v.removable[k].backing == S(r, "backing"));
      CHECK(v.removable[k].file_datastore == S(r, "file_datastore"));
      CHECK(v.removable[k].connected == B(r, "connected"));
    }
    CHECK(hostname == S(e[i], "guest_hostname"));
    CHECK(uuid == S(e[i], "instance_uuid"));
  }
}

TEST_CASE("The fixtures' estate, judged: the report names each blocker and says whether each host may leave", "[safety]") {
  std::vector<std::string> cluster_hosts;
  const auto cluster = ReadCluster(Objects("cluster.xml").objects.at(0), &cluster_hosts);
  std::vector<HostFacts> hosts;
  for (const auto& o : Objects("hosts.xml").objects) hosts.push_back(ReadHost(o));
  std::vector<DatastoreFacts> datastores;
  for (const auto& o : Objects("datastores.xml").objects) datastores.push_back(ReadDatastore(o));
  std::vector<VmFacts> vms;
  for (const auto& o : Objects("vms.xml").objects) {
    std::string hostname;
    vms.push_back(ReadVm(o, &hostname));
    vms.back().is_vcenter = hostname == "vcsa-01.lab.local";  // as the step matches vCenter's own name
  }
  const auto report = CheckSafety(cluster, hosts, vms, datastores, {}, SafetyOptions{});
  rapidjson::Document d;
  d.Parse(SafetyReportJson(cluster, report).c_str());
  REQUIRE_FALSE(d.HasParseError());
  CHECK(std::string(d["cluster"]["ha"]["policy"].GetString()) == "resources_percent");
  CHECK(d["hosts"]["total"].GetInt() == static_cast<int>(hosts.size()));
  CHECK(d["verdicts"].Size() == hosts.size());
  std::set<std::string> kinds;
  bool all_safe = true;
  for (const auto& v : d["verdicts"].GetArray()) {
    all_safe = all_safe && v["can_enter_maintenance"].GetBool();
    for (const auto& b : v["blockers"].GetArray()) kinds.insert(b["kind"].GetString());
  }
  CHECK(d["safe"].GetBool() == all_safe);
  CHECK_FALSE(all_safe);
  // The estate holds passthrough, vGPU, FT, host-device and local-image media, DRS overrides
  // and the vCenter VM: each shows up as a blocker of the host it runs on.
  for (const char* kind : {"passthrough", "fault_tolerance", "connected_media", "drs_manual", "vcenter_vm"}) {
    INFO(kind);
    CHECK(kinds.count(kind) == 1);
  }
}

}  // namespace
}  // namespace dcops::esxi
