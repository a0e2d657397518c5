// Who may use the API and console: tokens, roles and console sessions (no network, no database).
#include "api_access.hpp"

#include <catch2/catch.hpp>

namespace dcops::dispatcher {
namespace {

std::string Cookie(const std::string& id) { return "theme=dark; " + std::string(ApiAccess::kCookie) + "=" + id; }

TEST_CASE("Bearer tokens give the operator or the viewer role, nothing else", "[api][access]") {
  FakeClock clock;
  ApiAccess access("op-token", "view-token", clock);
  CHECK(access.FromBearer("Bearer op-token")->role == Role::kOperator);
  CHECK(access.FromBearer("Bearer view-token")->role == Role::kViewer);
  CHECK_FALSE(access.FromBearer("Bearer op-toke"));
  CHECK_FALSE(access.FromBearer("op-token"));
  CHECK_FALSE(access.FromBearer("Bearer "));
  CHECK_FALSE(access.FromBearer("Bearer view-token "));
  ApiAccess no_viewer("op-token", "", clock);
  CHECK_FALSE(no_viewer.FromBearer("Bearer "));
  ApiAccess off("", "view-token", clock);
  CHECK_FALSE(off.Enabled());
  CHECK_FALSE(off.FromBearer("Bearer view-token"));  // no API without its operator token
}

TEST_CASE("A console login makes a session of the token's role, named for the audit trail", "[api][access]") {
  FakeClock clock;
  ApiAccess access("op-token", "view-token", clock);
  auto op = access.Login("op-token", "alice");
  REQUIRE(op);
  CHECK(op->size() == 64);
  auto who = access.FromCookie(Cookie(*op));
  REQUIRE(who);
  CHECK(who->role == Role::kOperator);
  CHECK(who->actor == "console:alice");
  CHECK(who->session);
  auto viewer = access.Login("view-token", "");
  REQUIRE(viewer);
  CHECK(access.FromCookie(Cookie(*viewer))->actor == "console:viewer");
  CHECK(access.FromCookie(Cookie(*viewer))->role == Role::kViewer);
  CHECK(*op != *viewer);

  SECTION("a wrong token or a name that could forge a log line is refused, saying which") {
    auto bad = access.Login("op-tokeN", "alice");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == "unauthorized");
    CHECK(bad.error().message.find("op-tokeN") == std::string::npos);
    auto forged = access.Login("op-token", "alice\nlevel=error");
    REQUIRE_FALSE(forged);
    CHECK(forged.error().code == "invalid");
    CHECK(access.sessions() == 2);
  }
  SECTION("a session ends at logout, and on its own after its time") {
    access.Logout(Cookie(*op));
    CHECK_FALSE(access.FromCookie(Cookie(*op)));
    CHECK(access.FromCookie(Cookie(*viewer)));
    clock.Advance(access.session_ttl() - std::chrono::seconds(1));
    CHECK(access.FromCookie(Cookie(*viewer)));
    clock.Advance(std::chrono::seconds(1));
    CHECK_FALSE(access.FromCookie(Cookie(*viewer)));
    CHECK(access.sessions() == 0);
  }
  SECTION("a cookie that names no session, or a bearer header beside one, is judged on its own") {
    CHECK_FALSE(access.FromCookie(Cookie(std::string(64, 'a'))));
    CHECK_FALSE(access.FromCookie(Cookie(op->substr(1))));
    CHECK_FALSE(access.FromCookie(std::string(ApiAccess::kCookie) + "x=" + *op));
    // A wrong bearer token is not rescued by a valid cookie sent with it.
    CHECK_FALSE(access.Authenticate("Bearer nope", Cookie(*op)));
    CHECK(access.Authenticate("", Cookie(*op))->role == Role::kOperator);
  }
}

TEST_CASE("Sessions beyond the cap push out the oldest of their role, never another role's", "[api][access]") {
  FakeClock clock;
  ApiAccess access("op-token", "view-token", clock, SessionOptions{std::chrono::hours(1), 2});
  auto first = *access.Login("op-token", "a");
  clock.Advance(std::chrono::seconds(1));
  auto second = *access.Login("op-token", "b");
  clock.Advance(std::chrono::seconds(1));
  auto third = *access.Login("op-token", "c");
  CHECK(access.sessions() == 2);
  CHECK_FALSE(access.FromCookie(Cookie(first)));
  CHECK(access.FromCookie(Cookie(second)));
  CHECK(access.FromCookie(Cookie(third)));
  // A flood of viewer logins leaves the operators signed in.
  for (int i = 0; i < 10; ++i) REQUIRE(access.Login("view-token", "v"));
  CHECK(access.sessions() == 4);
  CHECK(access.FromCookie(Cookie(second)));
  CHECK(access.FromCookie(Cookie(third)));
}

TEST_CASE("CookieValue finds one cookie among several", "[api][access]") {
  CHECK(CookieValue("a=1; dcops_session=xyz; b=2", "dcops_session") == "xyz");
  CHECK(CookieValue("dcops_session=xyz", "dcops_session") == "xyz");
  CHECK(CookieValue("xdcops_session=1", "dcops_session").empty());
  CHECK(CookieValue("", "dcops_session").empty());
  CHECK(CookieValue("dcops_session", "dcops_session").empty());
}

}  // namespace
}  // namespace dcops::dispatcher
