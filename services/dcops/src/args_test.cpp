#include "args.hpp"

#include <catch2/catch.hpp>

namespace dcops::cli {
namespace {

TEST_CASE("Params: JSON values where they parse, strings otherwise, dotted keys nest", "[cli]") {
  CHECK(*ParamsJson({"action=On", "graceful_timeout_seconds=300", "force_after_timeout=true"}) ==
        R"({"action":"On","graceful_timeout_seconds":300,"force_after_timeout":true})");
  CHECK(*ParamsJson({R"(components=["system","firmware"])"}) == R"({"components":["system","firmware"]})");
  CHECK(*ParamsJson({"bios.BootMode=Uefi", "bios.SysProfile=PerfOptimized"}) ==
        R"({"bios":{"BootMode":"Uefi","SysProfile":"PerfOptimized"}})");
  CHECK(*ParamsJson({R"(name="007")", "tag=007x", "empty="}) == R"({"name":"007","tag":"007x","empty":""})");
  CHECK(*ParamsJson({}) == "{}");
  CHECK(ParamsJson({"action"}).error().message == "--param action: expected key=value");
  CHECK(ParamsJson({"=On"}).error().message == "--param =On: expected key=value");
  CHECK(ParamsJson({"a b=1"}).error().message == "--param a b: a key is letters, digits and _ (dotted for nesting)");
  CHECK(ParamsJson({"a=1", "a=2"}).error().message == "--param a: given twice");
  CHECK(ParamsJson({"a=1", "a.b=2"}).error().message == "--param a.b: a is not an object");
}

TEST_CASE("Targets become a scope of one kind", "[cli]") {
  CHECK(*ScopeJson({"all"}) == R"({"all_servers":true})");
  CHECK(*ScopeJson({"127.0.1.1:8443,127.0.1.2:8443", "bmc-07.lab"}) ==
        R"({"bmc_addresses":["127.0.1.1:8443","127.0.1.2:8443","bmc-07.lab"]})");
  CHECK(*ScopeJson({"0f8fad5b-d9cb-469f-a165-70867728950e"}) ==
        R"({"server_ids":["0f8fad5b-d9cb-469f-a165-70867728950e"]})");
  CHECK(*ScopeJson({"127.0.1.0/24", "127.0.2.1-127.0.2.9"}) == R"({"ranges":["127.0.1.0/24","127.0.2.1-127.0.2.9"]})");
  CHECK(*ScopeJson({"ome:0f8fad5b-d9cb-469f-a165-70867728950e"}) ==
        R"({"ome_endpoint_id":"0f8fad5b-d9cb-469f-a165-70867728950e"})");
  CHECK(*ScopeJson({"vcenter:0f8fad5b-d9cb-469f-a165-70867728950e"}) ==
        R"({"vcenter_id":"0f8fad5b-d9cb-469f-a165-70867728950e"})");
  CHECK(ScopeJson({"vcenter:lab-vc"}).error().message == "--target vcenter:<id>: exactly one endpoint, by its id");
  CHECK(ScopeJson({}).error().code == "cli.target");
  CHECK(*ScopeJson({"127.0.1.1:8443"}, true) == R"({"bmc_addresses":["127.0.1.1:8443"],"first_contact":true})");
  CHECK(ScopeJson({"127.0.1.0/24", "127.0.1.1"}).error().message ==
        "--target 127.0.1.1: cannot mix ranges and bmc_addresses in one job");
}

TEST_CASE("Arguments: verbs in order, flags with values, repeated flags kept", "[cli]") {
  auto inv = ParseArgs({"job", "create", "server.power", "--target", "a", "--target=b", "--param", "action=On",
                        "--json", "--watch"});
  REQUIRE(inv.ok());
  CHECK(inv->words == std::vector<std::string>{"job", "create", "server.power"});
  CHECK(inv->flags["--target"] == std::vector<std::string>{"a", "b"});
  CHECK(inv->Get("--param") == "action=On");
  CHECK(inv->Has("--json"));
  CHECK(inv->Has("--watch"));
  CHECK(inv->Get("--limit", "50") == "50");
  CHECK(ParseArgs({"jobs", "--status"}).error().message == "--status needs a value");
  CHECK(ParseArgs({"jobs", "--json=yes"}).error().message == "--json takes no value");
}

TEST_CASE("Arguments: a conflict decision's flags, a note with spaces kept whole", "[cli]") {
  auto inv = ParseArgs({"conflict", "resolve", "5d1e0a52", "--action=merge", "--server",
                        "0b7c2f4e-1d2a-4c3b-8e9f-a1b2c3d4e5f6", "--note", "same chassis, new board", "--json"});
  REQUIRE(inv.ok());
  CHECK(inv->words == std::vector<std::string>{"conflict", "resolve", "5d1e0a52"});
  CHECK(inv->Get("--action") == "merge");
  CHECK(inv->Get("--server") == "0b7c2f4e-1d2a-4c3b-8e9f-a1b2c3d4e5f6");
  CHECK(inv->Get("--note") == "same chassis, new board");
  CHECK(inv->Has("--json"));
  CHECK(ParseArgs({"conflict", "resolve", "5d1e0a52", "--note"}).error().message == "--note needs a value");
}

}  // namespace
}  // namespace dcops::cli
