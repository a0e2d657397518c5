#include <catch2/catch.hpp>

#include "dcops/redfish/errors.hpp"
#include "dcops/redfish/json.hpp"

namespace dcops::redfish {
namespace {

const std::string kSystem = "/redfish/v1/Systems/System.Embedded.1";

TEST_CASE("Documents name the resource and field they lack", "[redfish]") {
  auto doc = Document::Parse(kSystem, R"({"PowerState": "On", "Status": {"Health": "OK"},
    "ProcessorSummary": {"Count": "two"}, "Actions": {"#ComputerSystem.Reset":
    {"ResetType@Redfish.AllowableValues": ["On", "ForceOff"]}}})");
  REQUIRE(doc.ok());
  CHECK(*doc->String("PowerState") == "On");
  CHECK(*doc->String("Status/Health") == "OK");
  auto missing = doc->String("Model");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == "redfish.schema");
  CHECK(missing.error().message == kSystem + ": Model is missing");
  CHECK(doc->Int("ProcessorSummary/Count").error().message ==
        kSystem + ": ProcessorSummary/Count is not an integer");
  auto allowed = doc->Strings("Actions/#ComputerSystem.Reset/ResetType@Redfish.AllowableValues");
  REQUIRE(allowed.ok());
  CHECK(allowed->size() == 2);
  CHECK_FALSE(doc->OptionalString("SKU").has_value());
}

TEST_CASE("A whole number written as a double is an integer only within int64's range (found by fuzzing)", "[redfish]") {
  auto doc = Document::Parse("/redfish/v1/Systems", R"({"a": 512.0, "b": 5.5e19, "c": -9.3e18, "d": 1.5, "e": 9.2e18})");
  REQUIRE(doc.ok());
  CHECK(**doc->MaybeInt("a") == 512);
  CHECK_FALSE(doc->MaybeInt("b").ok());
  CHECK_FALSE(doc->MaybeInt("c").ok());
  CHECK_FALSE(doc->MaybeInt("d").ok());
  CHECK(**doc->MaybeInt("e") == 9200000000000000000);
}

TEST_CASE("HTML, truncated and non-object answers are schema errors", "[redfish]") {
  auto html = Document::Parse(kSystem, "<html><body>Internal error</body></html>", "text/html");
  REQUIRE_FALSE(html.ok());
  CHECK(html.error().message == kSystem + ": the BMC answered with an HTML page instead of JSON");
  auto cut = Document::Parse(kSystem, R"({"PowerState": "O)");
  REQUIRE_FALSE(cut.ok());
  CHECK(cut.error().message.find("malformed JSON at byte") != std::string::npos);
  CHECK(Document::Parse(kSystem, "[1,2]").error().message.find("not an object") != std::string::npos);
}

TEST_CASE("An answer nested tens of thousands of levels deep is refused before it is parsed", "[redfish][attack]") {
  const std::string deep = R"({"a":)" + std::string(70000, '[') + std::string(70000, ']') + "}";
  auto r = Document::Parse(kSystem, deep);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message == kSystem + ": the BMC answered with JSON nested deeper than 64 levels");
  CHECK(ParseExtendedInfo(R"({"error":)" + std::string(70000, '[') + std::string(70000, ']') + "}").message_id.empty());
}

TEST_CASE("Error bodies map to codes by status and MessageId", "[redfish]") {
  auto body = [](const std::string& id) {
    return R"({"error": {"code": "Base.1.8.GeneralError", "message": "x", "@Message.ExtendedInfo": [{"MessageId": ")" +
           id + R"(", "Message": "text"}]}})";
  };
  http::Response r;
  r.status = 503;
  r.body = body("IDRAC.2.8.RAC0218");
  auto cap = ErrorFromResponse(r, "/redfish/v1/SessionService/Sessions", false);
  CHECK(cap.code == "redfish.session_cap");
  CHECK(cap.retryable);
  CHECK(cap.message == "/redfish/v1/SessionService/Sessions: HTTP 503: IDRAC.2.8.RAC0218: text");
  r.body = body("IDRAC.2.8.SYS518");
  CHECK(ErrorFromResponse(r, "/x", false).code == "redfish.not_ready");
  r.status = 409;
  r.body = body("IDRAC.2.8.PSU501");
  CHECK(ErrorFromResponse(r, "/x", false).code == "redfish.conflict");
  r.status = 500;
  r.body = "oops";
  CHECK(ErrorFromResponse(r, "/x", true).retryable);
  CHECK_FALSE(ErrorFromResponse(r, "/x", false).retryable);  // a failed POST may have acted
  CHECK(ErrorFromResponse(r, "/x", true).message == "/x: HTTP 500");
  r.status = 401;
  CHECK(ErrorFromResponse(r, "/x", true).code == "redfish.auth");
}

}  // namespace
}  // namespace dcops::redfish
