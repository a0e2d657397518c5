#include "console_routes.hpp"

#include <httplib.h>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>

#include "console_assets.hpp"
#include "console_stream.hpp"
#include "plan_params.hpp"

namespace dcops::dispatcher {
namespace {

constexpr const char* kPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

void Harden(httplib::Response& res) {
  res.set_header("Content-Security-Policy", kPolicy);
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("X-Frame-Options", "DENY");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("Cache-Control", "no-store");
}

void Serve(httplib::Response& res, const char* name) {
  const ConsoleAsset* asset = FindConsoleAsset(name);
  Harden(res);
  if (asset == nullptr) {
    res.status = 404;
    res.set_content("not found\n", "text/plain");
    return;
  }
  res.set_content(asset->body.data(), asset->body.size(), asset->content_type);
}

void SeeOther(httplib::Response& res, const std::string& where) {
  Harden(res);
  res.status = 303;
  res.set_header("Location", where);
}

// The session cookie; Secure when the page was reached over HTTPS (a TLS proxy in front).
std::string SessionCookie(const httplib::Request& req, const std::string& value, long max_age) {
  std::string cookie = std::string(ApiAccess::kCookie) + "=" + value + "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
                       std::to_string(max_age);
  if (req.get_header_value("X-Forwarded-Proto") == "https") cookie += "; Secure";
  return cookie;
}

// The event cursor: the later of ?after=N (what the page held when it opened the stream) and
// the Last-Event-ID a reconnecting EventSource sends (what it has had since).
long Cursor(const httplib::Request& req) {
  long cursor = 0;
  for (const std::string& text : {req.get_param_value("after"), req.get_header_value("Last-Event-ID")}) {
    if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos) continue;
    cursor = std::max(cursor, std::stol(text));
  }
  return cursor;
}

// Open streams, in all and per caller (a session by its id, a bearer token by its role), so
// one browser with many tabs cannot take every slot.
struct StreamSlots {
  std::mutex mu;
  int open = 0;
  std::map<std::string, int> by_caller;
};

void StreamRoute(httplib::Server& http, Api& api, ChangeFeed& feed, ConsoleOptions options) {
  auto slots = std::make_shared<StreamSlots>();
  http.Get("/api/v1/stream", [&api, &feed, options, slots](const httplib::Request& req, httplib::Response& res) {
    auto refuse = [&res](int status, const char* body) {
      res.status = status;
      res.set_content(body, "application/json");
    };
    const std::string job = req.get_param_value("job");
    if (!job.empty() && !IsUuid(job)) return refuse(400, R"({"error":{"code":"invalid","message":"job: must be a job UUID"}})");
    const std::string authorization = req.get_header_value("Authorization");
    const std::string cookie = req.get_header_value("Cookie");
    auto who = api.access().Authenticate(authorization, cookie);
    if (!api.access().Enabled()) {
      return refuse(503, R"({"error":{"code":"disabled","message":"the API is disabled: give the dispatcher DCOPS_API_TOKEN_FILE"}})");
    }
    if (!who) return refuse(401, R"json({"error":{"code":"unauthorized","message":"missing or wrong API token (Authorization: Bearer …)"}})json");
    const std::string caller =
        who->session ? CookieValue(cookie, ApiAccess::kCookie) : std::string("bearer:") + RoleName(who->role);
    {
      std::lock_guard lock(slots->mu);
      if (slots->open >= options.max_streams || slots->by_caller[caller] >= options.max_streams_per_caller) {
        if (slots->by_caller[caller] == 0) slots->by_caller.erase(caller);
        res.set_header("Retry-After", "5");
        return refuse(503, R"({"error":{"code":"busy","message":"too many console streams open; close a tab or retry shortly"}})");
      }
      ++slots->open;
      ++slots->by_caller[caller];
    }
    struct State {
      ConsoleStream stream;
      std::string authorization, cookie;
      std::uint64_t seen = 0;
      bool first = true, more = false;
      ChangeFeed::Steady::time_point last_round{};
    };
    auto state = std::make_shared<State>(State{ConsoleStream(job, Cursor(req)), authorization, cookie});
    Harden(res);
    res.set_header("X-Accel-Buffering", "no");  // a proxy in front must not hold the stream back
    res.set_chunked_content_provider(
        "text/event-stream",
        [&api, &feed, options, state](std::size_t, httplib::DataSink& sink) {
          using Steady = ChangeFeed::Steady;
          if (state->first) {
            state->seen = feed.generation();
          } else if (!state->more) {
            feed.WaitUntil(state->last_round + options.pace);  // pacing: a busy site is sent in batches
            // Waits for a change a second at a time, writing a comment each second: a client
            // that left fails the write and gives its slot back, and a session that ended is
            // told so, within a second or two rather than at the next change.
            const auto deadline = Steady::now() + options.check_every;
            for (;;) {
              const auto seen = state->seen;
              state->seen = feed.WaitBeyond(seen, std::min(deadline, Steady::now() + std::chrono::seconds(1)));
              if (feed.closed()) {
                sink.done();
                return true;
              }
              if (state->seen != seen) break;
              if (!api.access().Authenticate(state->authorization, state->cookie)) {
                const std::string out = SseFrame("signed_out", "{}");
                sink.write(out.data(), out.size());
                sink.done();
                return true;
              }
              if (Steady::now() >= deadline) break;  // no change for a while: a round as a check
              if (!sink.write(":\n\n", 3)) return false;
            }
          }
          state->first = false;
          state->last_round = Steady::now();
          // A quiet period's round catches what nobody published (the database going away).
          auto round = state->stream.Next([&](const std::string& path, const std::map<std::string, std::string>& query) {
            return api.Handle({"GET", path, query, state->authorization, "", "", state->cookie, true});
          });
          state->more = round.more;
          if (!round.frames.empty() && !sink.write(round.frames.data(), round.frames.size())) return false;
          if (round.end) sink.done();
          return true;
        },
        [slots, caller](bool) {
          std::lock_guard lock(slots->mu);
          --slots->open;
          if (--slots->by_caller[caller] == 0) slots->by_caller.erase(caller);
        });
  });
}

}  // namespace

void AddConsoleRoutes(httplib::Server& http, Api& api, ChangeFeed& feed, const Logger& log, ConsoleOptions options) {
  http.Get("/", [](const httplib::Request&, httplib::Response& res) { SeeOther(res, "/console/"); });
  http.Get("/console", [](const httplib::Request&, httplib::Response& res) { SeeOther(res, "/console/"); });
  // Browsers ask for it whatever the page says: an answer, not a 404 in their console.
  http.Get("/favicon.ico", [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
  http.Get("/console/", [&api](const httplib::Request& req, httplib::Response& res) {
    if (!api.access().FromCookie(req.get_header_value("Cookie"))) return SeeOther(res, "/console/login");
    Serve(res, "index.html");
  });
  http.Get("/console/login", [](const httplib::Request&, httplib::Response& res) { Serve(res, "login.html"); });
  http.Get(R"(/console/([a-z]+\.(js|css)))", [](const httplib::Request& req, httplib::Response& res) {
    Serve(res, req.matches[1].str().c_str());
  });
  http.Post("/console/login", [&api, &log](const httplib::Request& req, httplib::Response& res) {
    // The token comes in the form's body only: in a URL it would stay in histories and logs.
    if (req.target.find('?') != std::string::npos) return SeeOther(res, "/console/login?failed=1");
    api.access().Logout(req.get_header_value("Cookie"));  // a new login ends the session it replaces
    const std::string name = req.get_param_value("name");
    auto session = api.access().Login(req.get_param_value("token"), name);
    if (!session) {
      // Never the token: only who tried and why it failed.
      log.Warn("console login refused: " + session.error().message, {}, {{"peer", req.remote_addr}});
      return SeeOther(res, session.error().code == "invalid" ? "/console/login?failed=name" : "/console/login?failed=1");
    }
    auto who = api.access().FromCookie(std::string(ApiAccess::kCookie) + "=" + *session);
    log.Info("console login", {}, {{"actor", who ? who->actor : ""}, {"role", who ? RoleName(who->role) : ""},
                                   {"peer", req.remote_addr}});
    SeeOther(res, "/console/");
    res.set_header("Set-Cookie", SessionCookie(req, *session, static_cast<long>(api.access().session_ttl().count())));
  });
  http.Post("/console/logout", [&api](const httplib::Request& req, httplib::Response& res) {
    Harden(res);
    if (!req.has_header("X-Dcops-Console")) {
      res.status = 403;
      res.set_content(R"({"error":{"code":"forbidden","message":"send X-Dcops-Console: 1"}})", "application/json");
      return;
    }
    api.access().Logout(req.get_header_value("Cookie"));
    res.status = 204;
    res.set_header("Set-Cookie", SessionCookie(req, "", 0));
  });
  StreamRoute(http, api, feed, options);
}

}  // namespace dcops::dispatcher
