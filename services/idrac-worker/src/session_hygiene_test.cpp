#include "session_hygiene.hpp"

#include <catch2/catch.hpp>

namespace dcops::idrac {
namespace {

TEST_CASE("A restarted worker finds its journal: the default id loses its pid, a chosen id is kept", "[journal]") {
  CHECK(JournalKey("idrac-worker-host1-4242", "idrac-worker", 4242) == "idrac-worker-host1");
  CHECK(JournalKey("idrac-worker-2", "idrac-worker", 4242) == "idrac-worker-2");
  CHECK(JournalKey("lab-4242", "idrac-worker", 4242) == "lab-4242");  // not the default form
  CHECK(SessionJournalPath("/var/lib/dcops/state", "idrac worker/../x") ==
        "/var/lib/dcops/state/redfish-sessions-idrac_worker_.._x.jsonl");
}

}  // namespace
}  // namespace dcops::idrac
