#include "limits.hpp"

#include <catch2/catch.hpp>

namespace dcops::dispatcher {
namespace {

TEST_CASE("An iDRAC runs one mutating step and two steps in all", "[limits]") {
  TargetLimits limits;
  const std::string bmc = "idrac:127.0.1.4:8443";
  CHECK(TargetKind(bmc) == "idrac");
  CHECK(limits.CanStart(bmc, true));
  limits.Started(bmc, true);
  CHECK_FALSE(limits.CanStart(bmc, true));
  CHECK(limits.CanStart(bmc, false));
  CHECK(limits.FullForMutating() == std::vector<std::string>{bmc});
  limits.Started(bmc, false);
  CHECK_FALSE(limits.CanStart(bmc, false));
  CHECK(limits.Full() == std::vector<std::string>{bmc});
  limits.Finished(bmc, true);
  CHECK(limits.CanStart(bmc, true));
  CHECK(limits.Running(bmc) == 1);
  limits.Finished(bmc, false);
  CHECK(limits.Running(bmc) == 0);
  CHECK(limits.Full().empty());
}

TEST_CASE("Per-target overrides beat per-kind rules, unknown kinds get the fallback", "[limits]") {
  LimitsConfig config;
  config.by_target["idrac:127.0.1.9"] = {2, 3};
  TargetLimits limits(config);
  CHECK(limits.RuleFor("idrac:127.0.1.9").total == 3);
  CHECK(limits.RuleFor("idrac:127.0.1.8").total == 2);
  CHECK(limits.RuleFor("vcenter:127.0.2.1").mutating == 4);
  CHECK(limits.RuleFor("esxi:vc/host-1").total == 1);
  CHECK(limits.RuleFor("tape:x").total == 1);
  limits.Started("idrac:127.0.1.9", true);
  CHECK(limits.CanStart("idrac:127.0.1.9", true));
  // Finishing what never started changes nothing.
  limits.Finished("idrac:127.0.1.7", true);
  CHECK(limits.Running("idrac:127.0.1.7") == 0);
}

TEST_CASE("The limits file overrides kinds and targets, and names what is wrong", "[limits]") {
  auto config = ParseLimitsJson(R"({"kinds": {"idrac": {"total": 3, "min_interval_ms": 100}},
                                    "targets": {"idrac:10.1.2.3:443": {"min_interval_ms": 500}}})");
  REQUIRE(config.ok());
  TargetLimits limits(*config);
  CHECK(limits.RuleFor("idrac:10.9.9.9:443").total == 3);
  CHECK(limits.RuleFor("idrac:10.9.9.9:443").mutating == 1);  // kept from the default
  CHECK(limits.RuleFor("idrac:10.9.9.9:443").min_interval_ms == 100);
  CHECK(limits.RuleFor("idrac:10.1.2.3:443").total == 3);  // inherited from its kind
  CHECK(limits.RuleFor("idrac:10.1.2.3:443").min_interval_ms == 500);
  CHECK(limits.RuleFor("vcenter:vc1").total == 4);  // untouched

  CHECK(ParseLimitsJson(R"({"kinds": {"idrac": {"total": 0}}})").error().message ==
        "limits.kinds.idrac.total: must be an integer from 1 to 1000");
  CHECK(ParseLimitsJson(R"({"kinds": {"idrac": {"totl": 2}}})").error().message ==
        "limits.kinds.idrac.totl: unknown (use mutating, total, min_interval_ms)");
  CHECK(ParseLimitsJson(R"({"kinds": {"idrac": {"mutating": 3, "total": 2}}})").error().message ==
        "limits.kinds.idrac: mutating (3) cannot exceed total (2)");
  CHECK(ParseLimitsJson(R"({"targets": {"10.1.2.3": {"total": 1}}})").error().message ==
        "limits.targets.10.1.2.3: a target is kind:address (idrac:10.1.2.3:443)");
  CHECK(ParseLimitsJson(R"({"kind": {}})").error().message == "limits.kind: unknown (use kinds, targets)");
  CHECK(ParseLimitsJson("[1]").error().message == "limits: must be a JSON object");
}

}  // namespace
}  // namespace dcops::dispatcher
