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

}  // namespace
}  // namespace dcops::dispatcher
